"""Where each learner a trust sponsors stands, worked out for a whole organisation at once.

Everything a sponsor's dashboard, exports and summary emails show comes from `organisation_report`,
which reads a fixed number of queries whatever the trust's size: the enrolments, then every
assignment, submission, extension, released mark, result, activity time and credential of those
learners in one query each, joined up in Python.

Scope follows the sponsorship, not the employer: a learner's progress in a cohort belongs to the
organisation that sponsored that enrolment, so it stays with that organisation if they move on.
Credentials are the exception: an organisation sees those its current staff hold, wherever earned,
as well as those of learners it sponsors, since tracking who holds what is the point of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from academy.assessment.models import Assignment, Extension, Submission
from academy.assessment.tracking import WorkStatus, work_status
from academy.auth.models import User
from academy.catalogue.models import Module, Programme
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.content.models import ResourceCompletion
from academy.core import clock
from academy.core.calendar import uk_date
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking.models import Mark, ModuleResult
from academy.organisations.models import Organisation

#: A learner with no sign-in, upload or completed resource for this long is flagged.
INACTIVE_WEEKS = 4
#: Credentials expiring within this many days are flagged on the dashboard.
EXPIRING_DAYS = 90
#: Headline statuses, worst first.
PROGRESS_STATUSES = {
    "at_risk": "At risk",
    "missing": "Work missing",
    "late": "Late work",
    "on_track": "On track",
    "finished": "Finished",
}


@dataclass
class LearnerProgress:
    user: User
    enrolment: Enrolment
    cohort: Cohort
    programme: Programme
    credits_earned: int = 0
    modules_passed: int = 0
    modules_total: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    upcoming: int = 0
    last_activity: datetime | None = None
    #: Why the learner needs help, in words a sponsor can act on.
    risks: list[str] = field(default_factory=list)
    #: Module results with marks, for sponsors the learner has let see them (else None).
    marks: list[tuple[str, Decimal | None, bool]] | None = None

    @property
    def credits_required(self) -> int:
        return self.programme.credits_required

    @property
    def status(self) -> str:
        if self.enrolment.status in ("completed", "withdrawn"):
            return "finished"
        if self.risks:
            return "at_risk"
        if self.missing:
            return "missing"
        if self.late:
            return "late"
        return "on_track"

    @property
    def status_label(self) -> str:
        return PROGRESS_STATUSES[self.status]


@dataclass
class CredentialSummary:
    held: list[Credential]
    expiring: list[Credential]
    expired: list[Credential]
    external: list[Credential]
    #: Staff holding a valid award credential: the people the trust's target counts.
    credentialed_user_ids: set[int]
    target: int
    #: (month start, credentialed staff at the month's end) for the last 12 months.
    trend: list[tuple[date, int]]

    @property
    def coverage_text(self) -> str:
        return f"{len(self.credentialed_user_ids)} of {self.target} credentialed"

    @property
    def coverage_ratio(self) -> float:
        if self.target <= 0:
            return 1.0
        return min(1.0, len(self.credentialed_user_ids) / self.target)


@dataclass
class OrganisationReport:
    organisation: Organisation
    generated_at: datetime
    learners: list[LearnerProgress]
    credentials: CredentialSummary
    #: Enrolments sponsored, by enrolment status.
    by_enrolment_status: dict[str, int]
    #: Learners by headline progress status.
    by_progress: dict[str, int]

    @property
    def at_risk(self) -> list[LearnerProgress]:
        return [learner for learner in self.learners if learner.status == "at_risk"]


# --- reading --------------------------------------------------------------------------------------


def _sponsored_enrolments(organisation_id: int) -> list[Enrolment]:
    return list(
        db.session.scalars(
            sa.select(Enrolment)
            .options(
                joinedload(Enrolment.user),
                joinedload(Enrolment.cohort).joinedload(Cohort.programme),
            )
            .where(Enrolment.sponsor_organisation_id == organisation_id)
            .order_by(Enrolment.id)
        ).unique()
    )


def assignments_by_cohort(cohort_ids: set[int]) -> dict[int, list[Assignment]]:
    """Every assignment of the cohorts, by cohort, in due order: one query."""
    by_cohort: dict[int, list[Assignment]] = defaultdict(list)
    if not cohort_ids:
        return by_cohort
    rows = db.session.execute(
        sa.select(Assignment, ModuleDelivery.cohort_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .where(ModuleDelivery.cohort_id.in_(cohort_ids))
        .order_by(Assignment.due_at, Assignment.id)
    )
    for assignment, cohort_id in rows:
        by_cohort[cohort_id].append(assignment)
    return by_cohort


def _deliveries(cohort_ids: set[int]) -> dict[int, int]:
    """Modules each cohort runs."""
    if not cohort_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(ModuleDelivery.cohort_id, sa.func.count(ModuleDelivery.id))
            .where(ModuleDelivery.cohort_id.in_(cohort_ids))
            .group_by(ModuleDelivery.cohort_id)
        ).all()
    )


def _per_user_assignment(model, user_ids: set[int], assignment_ids: set[int]):
    if not user_ids or not assignment_ids:
        return []
    return db.session.scalars(
        sa.select(model)
        .where(model.user_id.in_(user_ids), model.assignment_id.in_(assignment_ids))
        .order_by(model.id)
    ).all()


def _released_fails(user_ids: set[int], assignment_ids: set[int]) -> set[tuple[int, int]]:
    """(user, assignment) pairs whose released mark is below the module's pass mark."""
    if not user_ids or not assignment_ids:
        return set()
    rows = db.session.execute(
        sa.select(
            Submission.user_id,
            Submission.assignment_id,
            Mark.final_mark,
            Assignment.max_mark,
            Module.pass_mark,
        )
        .join(Mark, Mark.submission_id == Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .join(Module, Module.id == ModuleDelivery.module_id)
        .where(
            Submission.user_id.in_(user_ids),
            Submission.assignment_id.in_(assignment_ids),
            Mark.status == "released",
        )
    )
    fails = set()
    for user_id, assignment_id, final, max_mark, pass_mark in rows:
        if final is not None and max_mark and final * 100 < Decimal(pass_mark) * max_mark:
            fails.add((user_id, assignment_id))
    return fails


def _results(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[ModuleResult, str]]]:
    """Each (learner, cohort)'s module results with the module's code."""
    by_pair: dict[tuple[int, int], list[tuple[ModuleResult, str]]] = defaultdict(list)
    if not pairs:
        return by_pair
    user_ids = {user_id for user_id, _ in pairs}
    cohort_ids = {cohort_id for _, cohort_id in pairs}
    rows = db.session.execute(
        sa.select(ModuleResult, Module.code)
        .join(Module, Module.id == ModuleResult.module_id)
        .where(ModuleResult.user_id.in_(user_ids), ModuleResult.cohort_id.in_(cohort_ids))
        .order_by(Module.code, ModuleResult.attempt)
    )
    for result, code in rows:
        if (result.user_id, result.cohort_id) in pairs:
            by_pair[(result.user_id, result.cohort_id)].append((result, code))
    return by_pair


def _last_activity(user_ids: set[int]) -> dict[int, datetime]:
    """The latest sign-in, submission change or completed resource of each learner."""
    if not user_ids:
        return {}
    latest: dict[int, datetime] = {}
    queries = (
        sa.select(User.id, User.last_login_at).where(User.id.in_(user_ids)),
        sa.select(Submission.user_id, sa.func.max(Submission.updated_at))
        .where(Submission.user_id.in_(user_ids))
        .group_by(Submission.user_id),
        sa.select(ResourceCompletion.user_id, sa.func.max(ResourceCompletion.completed_at))
        .where(ResourceCompletion.user_id.in_(user_ids))
        .group_by(ResourceCompletion.user_id),
    )
    for query in queries:
        for user_id, moment in db.session.execute(query):
            if moment is not None and (user_id not in latest or moment > latest[user_id]):
                latest[user_id] = moment
    return latest


def organisation_credentials(organisation: Organisation, sponsored_user_ids: set[int]):
    """Credentials of the organisation's staff and of the learners it sponsors, with their
    holders: one query."""
    staff = sa.select(User.id).where(User.organisation_id == organisation.id)
    query = (
        sa.select(Credential)
        .options(joinedload(Credential.user))
        .where(
            sa.or_(
                Credential.user_id.in_(staff),
                Credential.user_id.in_(sponsored_user_ids or {-1}),
            )
        )
        .order_by(Credential.issued_at, Credential.id)
    )
    return list(db.session.scalars(query).unique())


def _month_starts(today: date, months: int = 12) -> list[date]:
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def _credentialed_at(credentials: list[Credential], moment: datetime) -> set[int]:
    """Holders of an award credential in force at `moment` (issued by then, not yet revoked,
    suspended or expired then)."""
    holders = set()
    for credential in credentials:
        if credential.kind != "award" or credential.issued_at > moment:
            continue
        if credential.revoked_at is not None and credential.revoked_at <= moment:
            continue
        if credential.suspended_at is not None and credential.suspended_at <= moment:
            continue
        if credential.expires_at is not None and credential.expires_at <= moment:
            continue
        holders.add(credential.user_id)
    return holders


def credential_summary(organisation: Organisation, credentials: list[Credential], now: datetime):
    horizon = now + timedelta(days=EXPIRING_DAYS)
    held, expiring, expired, external = [], [], [], []
    for credential in credentials:
        status = credential.status_at(now)
        if credential.kind == "external":
            external.append(credential)
        if status == "expired":
            expired.append(credential)
        elif status == "valid":
            held.append(credential)
            expiry = credential.expiry
            if expiry is not None:
                limit = horizon if isinstance(expiry, datetime) else uk_date(horizon)
                if expiry <= limit:
                    expiring.append(credential)
    trend = []
    for start in _month_starts(uk_date(now)):
        next_month = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        month_end = min(now, datetime.combine(next_month, datetime.min.time(), tzinfo=now.tzinfo))
        trend.append((start, len(_credentialed_at(credentials, month_end))))
    return CredentialSummary(
        held=held,
        expiring=sorted(expiring, key=lambda c: (c.expiry.isoformat(), c.id)),
        expired=expired,
        external=external,
        credentialed_user_ids=_credentialed_at(credentials, now),
        target=organisation.credential_target,
        trend=trend,
    )


def _quiet_too_long(
    enrolment: Enrolment, last_activity: datetime | None, inactive_before: datetime, now: datetime
) -> bool:
    """Silence counts only while there is something to do: the cohort has started and not
    ended, the learner has been enrolled for the whole window, and has done nothing in it."""
    cohort = enrolment.cohort
    today = uk_date(now)
    if cohort.starts_on > today or cohort.ends_on < today:
        return False
    if enrolment.created_at is not None and enrolment.created_at > inactive_before:
        return False
    started = datetime.combine(cohort.starts_on, datetime.min.time(), tzinfo=now.tzinfo)
    if started > inactive_before:
        return False
    return last_activity is None or last_activity < inactive_before


def organisation_report(
    organisation: Organisation, *, now: datetime | None = None
) -> OrganisationReport:
    """Everything the organisation's dashboard shows, in a fixed number of queries."""
    now = now or clock.now()
    enrolments = _sponsored_enrolments(organisation.id)
    user_ids = {e.user_id for e in enrolments}
    cohort_ids = {e.cohort_id for e in enrolments}
    assignments = assignments_by_cohort(cohort_ids)
    assignment_ids = {a.id for items in assignments.values() for a in items}
    submissions = {
        (s.user_id, s.assignment_id): s
        for s in _per_user_assignment(Submission, user_ids, assignment_ids)
    }
    extensions: dict[tuple[int, int], list[Extension]] = defaultdict(list)
    for extension in _per_user_assignment(Extension, user_ids, assignment_ids):
        extensions[(extension.user_id, extension.assignment_id)].append(extension)
    fails = _released_fails(user_ids, assignment_ids)
    results = _results({(e.user_id, e.cohort_id) for e in enrolments})
    modules_run = _deliveries(cohort_ids)
    activity = _last_activity(user_ids)
    inactive_before = now - timedelta(weeks=INACTIVE_WEEKS)

    learners = []
    for enrolment in enrolments:
        cohort = enrolment.cohort
        progress = LearnerProgress(
            user=enrolment.user,
            enrolment=enrolment,
            cohort=cohort,
            programme=cohort.programme,
            modules_total=modules_run.get(cohort.id, 0),
            last_activity=activity.get(enrolment.user_id),
        )
        best: dict[int, tuple[ModuleResult, str]] = {}
        for result, code in results.get((enrolment.user_id, cohort.id), []):
            held = best.get(result.module_id)
            if held is None or result.passed or result.attempt > held[0].attempt:
                best[result.module_id] = (result, code)
        passed = [r for r, _ in best.values() if r.passed]
        progress.modules_passed = len(passed)
        progress.credits_earned = sum(r.credits for r in passed)
        failed_codes = [
            code for r, code in best.values() if r.status == "complete" and not r.passed
        ]
        if enrolment.user.shares_marks_with_sponsor:
            progress.marks = [(code, r.mark, r.passed) for r, code in best.values()]
        ongoing = enrolment.status == "active"
        for assignment in assignments.get(cohort.id, []):
            key = (enrolment.user_id, assignment.id)
            status: WorkStatus = work_status(
                assignment, submissions.get(key), extensions.get(key, [])
            )
            if status.key == "submitted":
                progress.on_time += 1
            elif status.key == "late":
                progress.late += 1
            elif status.key == "overdue":
                progress.missing += 1
                if ongoing and status.extension is None:
                    progress.risks.append(
                        f"Missed the deadline for “{assignment.title}” with no extension"
                    )
            else:
                progress.upcoming += 1
            if ongoing and key in fails:
                progress.risks.append(f"Failed “{assignment.title}”")
        if ongoing:
            for code in failed_codes:
                progress.risks.append(f"Did not pass module {code}")
            if _quiet_too_long(enrolment, progress.last_activity, inactive_before, now):
                progress.risks.append(f"No activity for {INACTIVE_WEEKS} weeks or more")
        learners.append(progress)

    credentials = organisation_credentials(organisation, user_ids)
    by_enrolment_status: dict[str, int] = defaultdict(int)
    for enrolment in enrolments:
        by_enrolment_status[enrolment.status] += 1
    by_progress: dict[str, int] = {key: 0 for key in PROGRESS_STATUSES}
    for learner in learners:
        by_progress[learner.status] += 1
    learners.sort(key=lambda p: (list(PROGRESS_STATUSES).index(p.status), p.user.name, p.user.id))
    return OrganisationReport(
        organisation=organisation,
        generated_at=now,
        learners=learners,
        credentials=credential_summary(organisation, credentials, now),
        by_enrolment_status=dict(by_enrolment_status),
        by_progress=by_progress,
    )
