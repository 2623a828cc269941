"""An organisation's exports for its HR system and its own spreadsheets: the credentials its staff
hold, and the progress of the learners it sponsors.

Rows are keyed by staff number (the ESR assignment number) so an HR system can import them, with
the professional registration and email beside it for people who have none. Codes (`valid`,
`at_risk`, `self_declared`) rather than labels, so imports can rely on them. Each export reads a
fixed number of queries whatever the organisation's size. Marks appear only for learners who have
chosen to share them with their sponsors, and only as that learner's cells: a marks column exists
only when someone in the export shares.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa

from academy.cohorts.models import Enrolment
from academy.core import clock
from academy.core.calendar import uk_date
from academy.core.spreadsheets import Column, Table
from academy.credentials.document import public_url
from academy.credentials.models import Credential
from academy.extensions import db
from academy.organisations.models import Organisation
from academy.reporting.progress import (
    LearnerProgress,
    OrganisationReport,
    organisation_credentials,
    organisation_report,
)

#: The exports an organisation has, by the name in their URLs and file names.
EXPORTS = {"staff-credentials": "Staff credentials", "progress": "Progress"}

PERSON_COLUMNS = [
    Column("staff_number", 14, "ESR assignment number, where recorded"),
    Column("professional_registration", 14, "GMC, NMC or HCPC number, where recorded"),
    Column("name", 28, "Full name"),
    Column("email", 32, "Email address they sign in with"),
]
STAFF_CREDENTIAL_COLUMNS = [
    *PERSON_COLUMNS,
    Column("credential", 40, "The credential's title"),
    Column("kind", 10, "module or award (issued by the academy), or external (held elsewhere)"),
    Column("issuer", 28, "Who issued it"),
    Column("issued_on", 12, "Date issued"),
    Column("expires_on", 12, "Date it expires; empty if it does not"),
    Column("status", 10, "valid, expired, revoked or suspended, on the day of the export"),
    Column(
        "verification",
        14,
        "External credentials: verified (an admin has seen the evidence) or self_declared",
    ),
    Column("verification_url", 60, "Issued credentials: the public page that verifies it"),
]
PROGRESS_COLUMNS = [
    *PERSON_COLUMNS,
    Column("programme", 32, "The programme's title"),
    Column("cohort", 18, "The cohort's name"),
    Column("enrolment_status", 12, "active, deferred, withdrawn or completed"),
    Column(
        "progress_status",
        12,
        "at_risk, missing (work overdue), late (work handed in late), on_track or finished",
    ),
    Column("credits_earned", 10, "Credits from modules passed"),
    Column("credits_required", 10, "Credits the programme's award needs"),
    Column("modules_passed", 10, "Modules passed in this cohort"),
    Column("modules_total", 10, "Modules the cohort runs"),
    Column("submissions_on_time", 10, "Assignments handed in on time"),
    Column("submissions_late", 10, "Assignments handed in late"),
    Column("submissions_missing", 10, "Assignments past their deadline and not handed in"),
    Column("last_activity_on", 12, "Date of their last sign-in, upload or completed resource"),
    Column("risks", 60, "Why they are at risk, separated by semicolons"),
]
#: One column per module, named `mark_<module code>`, for learners who share their marks.
MARK_COLUMN = Column(
    "mark_<module code>",
    10,
    "The module result as a percentage, only for learners who have chosen to share their "
    "marks with their sponsor; empty for everyone else",
)


def filename(organisation: Organisation, export: str, fmt: str, today: date) -> str:
    """`RJ1-staff-credentials-2026-11-22.csv`"""
    code = re.sub(r"[^A-Za-z0-9]", "", organisation.ods_code) or f"organisation{organisation.id}"
    return f"{code}-{export}-{today:%Y-%m-%d}.{fmt}"


def _person(user) -> list:
    return [user.staff_number, user.professional_registration, user.name, user.email]


# --- staff credentials -------------------------------------------------------------------------


def _sponsored_user_ids(organisation: Organisation) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(Enrolment.user_id)
            .where(Enrolment.sponsor_organisation_id == organisation.id)
            .distinct()
        )
    )


def as_date(value: datetime | date | None) -> date | None:
    """The UK day of a moment (issued credentials expire at a moment, external ones on a day)."""
    if isinstance(value, datetime):
        return uk_date(value)
    return value


def _credential_row(credential: Credential, now: datetime) -> list:
    issued = credential.issued_on if not credential.is_issued else credential.issued_at
    return [
        *_person(credential.user),
        credential.title,
        credential.kind,
        credential.issuer_name,
        as_date(issued),
        as_date(credential.expiry),
        credential.status_at(now),
        credential.verification if not credential.is_issued else None,
        public_url(credential) if credential.is_issued else None,
    ]


def staff_credentials(organisation: Organisation, *, now: datetime | None = None) -> Table:
    """One row per credential held by the organisation's staff or the learners it sponsors, in
    every status, so an HR system sees revocations and expiries too."""
    now = now or clock.now()
    credentials = organisation_credentials(organisation, _sponsored_user_ids(organisation))
    credentials.sort(key=lambda c: (c.user.name.casefold(), c.user_id, c.issued_at, c.id))
    return Table(
        title=EXPORTS["staff-credentials"],
        columns=STAFF_CREDENTIAL_COLUMNS,
        rows=[_credential_row(credential, now) for credential in credentials],
    )


# --- progress ----------------------------------------------------------------------------------


def _mark_codes(learners: list[LearnerProgress]) -> list[str]:
    return sorted({code for learner in learners for code, _, _ in learner.marks or []})


def _progress_row(learner: LearnerProgress, mark_codes: list[str]) -> list:
    marks = {code: mark for code, mark, _ in learner.marks or []}
    return [
        *_person(learner.user),
        learner.programme.title,
        learner.cohort.name,
        learner.enrolment.status,
        learner.status,
        learner.credits_earned,
        learner.credits_required,
        learner.modules_passed,
        learner.modules_total,
        learner.on_time,
        learner.late,
        learner.missing,
        as_date(learner.last_activity),
        "; ".join(learner.risks),
        *(marks.get(code) for code in mark_codes),
    ]


def progress(
    organisation: Organisation,
    *,
    now: datetime | None = None,
    report: OrganisationReport | None = None,
) -> Table:
    """One row per enrolment the organisation sponsors, worst off first, with module marks (as
    percentages) for the learners who share them."""
    report = report or organisation_report(organisation, now=now)
    mark_codes = _mark_codes(report.learners)
    return Table(
        title=EXPORTS["progress"],
        columns=[
            *PROGRESS_COLUMNS,
            *(Column(f"mark_{code}", MARK_COLUMN.width) for code in mark_codes),
        ],
        rows=[_progress_row(learner, mark_codes) for learner in report.learners],
    )


def build(export: str, organisation: Organisation, *, now: datetime | None = None) -> Table:
    if export == "staff-credentials":
        return staff_credentials(organisation, now=now)
    if export == "progress":
        return progress(organisation, now=now)
    raise ValueError(f"no such export: {export!r}")
