"""Summary emails to sponsors, and each sponsor's choice of how often to get them.

Every sponsor gets, for each organisation their current sponsor roles name, a summary of the
organisation's dashboard (learners by status, who is at risk, coverage against the target,
credentials expiring soon) with the staff-credentials CSV attached: monthly unless they choose
weekly or off. `flask academy reports send-summaries` sends what is due and a scheduler runs it
as often as it likes: a weekly summary goes out on the first run in a new ISO week, a monthly one
on the first run in a new month, and the subscription's `last_period` makes a second run in the
same period send nothing.

Each summary is recorded, then sent, inside its own savepoint: a summary that fails is rolled
back (and sent again on the next run) without stopping the others, and two runs at once cannot
both send one, as the second's write of the same subscription is refused. The command commits
once at the end, so a run killed part-way sends again what it had sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from academy.audit import services as audit
from academy.auth.models import RoleAssignment, User
from academy.core import clock
from academy.core.calendar import uk_date
from academy.core.errors import Conflict, DomainError
from academy.core.policy import current_roles, sponsored_organisation_ids
from academy.core.spreadsheets import CSV_MIMETYPE, csv_bytes
from academy.core.urls import external_url
from academy.extensions import db
from academy.notifications.mail import send_email
from academy.organisations.models import Organisation
from academy.reporting import exports
from academy.reporting.models import DEFAULT_FREQUENCY, FREQUENCIES, ReportSubscription
from academy.reporting.progress import (
    EXPIRING_DAYS,
    PROGRESS_STATUSES,
    OrganisationReport,
    organisation_report,
)

log = logging.getLogger(__name__)

#: Frequencies that send something.
SENDING = ("weekly", "monthly")
#: At most this many names of each list in an email; the dashboard and attachment have them all.
LISTED_IN_EMAIL = 20


def period_of(frequency: str, day: date) -> str:
    """The period a summary sent on `day` covers: `2026-W47` (ISO week) or `2026-11`."""
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == "monthly":
        return f"{day:%Y-%m}"
    raise ValueError(f"no period for {frequency!r}")


def period_label(frequency: str, day: date) -> str:
    """`week beginning 16 November 2026`, `November 2026`"""
    if frequency == "weekly":
        monday = day - timedelta(days=day.weekday())
        return f"week beginning {monday.day} {monday:%B %Y}"
    return f"{day:%B %Y}"


# --- a sponsor's choices -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionChoice:
    """A sponsor's summary email for one organisation: their row, or the default without one."""

    organisation: Organisation
    subscription: ReportSubscription | None

    @property
    def frequency(self) -> str:
        return self.subscription.frequency if self.subscription else DEFAULT_FREQUENCY

    @property
    def frequency_label(self) -> str:
        return FREQUENCIES[self.frequency]

    @property
    def version(self) -> int:
        """0 before the sponsor has saved a choice."""
        return self.subscription.version if self.subscription else 0

    @property
    def last_sent_at(self) -> datetime | None:
        return self.subscription.last_sent_at if self.subscription else None


def subscription_choices(user: User) -> list[SubscriptionChoice]:
    """The organisations `user` sponsors now, by name, each with their choice of emails."""
    ids = sponsored_organisation_ids(user)
    if not ids:
        return []
    organisations = db.session.scalars(
        sa.select(Organisation)
        .where(Organisation.id.in_(ids))
        .order_by(Organisation.name, Organisation.id)
    )
    rows = {
        row.organisation_id: row
        for row in db.session.scalars(
            sa.select(ReportSubscription).where(
                ReportSubscription.user_id == user.id,
                ReportSubscription.organisation_id.in_(ids),
            )
        )
    }
    return [SubscriptionChoice(org, rows.get(org.id)) for org in organisations]


class StaleSubscription(Conflict):
    def __init__(self):
        super().__init__(
            "Your summary email settings were changed somewhere else. "
            "Reload the page and choose again."
        )


def update_subscriptions(
    user: User, choices: dict[int, tuple[str, int]], *, actor: User
) -> list[SubscriptionChoice]:
    """Set how often `user` gets each organisation's summary: `choices` maps an organisation id
    to (frequency, the `version` read, 0 before any choice). Only the sponsor themself chooses,
    only for organisations they sponsor now; one stale version refuses the lot."""
    if actor is None or actor.id != user.id:
        raise Conflict("Only the sponsor can choose which summary emails they get")
    current = {choice.organisation.id: choice for choice in subscription_choices(user)}
    for organisation_id, (frequency, expected_version) in choices.items():
        if organisation_id not in current:
            raise DomainError(
                f"You do not sponsor an organisation with id {organisation_id}",
                field="organisation_id",
            )
        if frequency not in FREQUENCIES:
            raise DomainError(
                "Choose never, every week or every month", field=f"frequency_{organisation_id}"
            )
        if current[organisation_id].version != expected_version:
            raise StaleSubscription()
    for organisation_id, (frequency, _) in choices.items():
        choice = current[organisation_id]
        if choice.frequency == frequency:
            continue
        before = choice.frequency
        row = choice.subscription
        if row is None:
            row = ReportSubscription(user_id=user.id, organisation_id=organisation_id)
            db.session.add(row)
        row.frequency = frequency
        db.session.flush()
        audit.record(
            "report_subscription.update",
            actor=actor,
            obj=row,
            before={"frequency": before},
            after={"frequency": frequency, "organisation_id": organisation_id},
        )
        log.info(
            "user %s set %s summaries of organisation %s", actor.id, frequency, organisation_id
        )
    return subscription_choices(user)


# --- sending -----------------------------------------------------------------------------------


@dataclass
class DueSummary:
    sponsor: User
    organisation: Organisation
    subscription: ReportSubscription | None
    frequency: str
    period: str

    def describe(self) -> str:
        return (
            f"{self.frequency} summary {self.period} of {self.organisation.ods_code} "
            f"({self.organisation.name}) to {self.sponsor.email}"
        )


@dataclass
class Outcome:
    summary: DueSummary
    #: would_send (a dry run), sent, failed, or skipped: its subscription changed during the run
    #: (another run sending it, or the sponsor choosing again), so the next run decides.
    result: str
    error: str = ""

    def describe(self) -> str:
        text = {
            "would_send": "Would send",
            "sent": "Sent",
            "skipped": "Left for the next run (changed meanwhile):",
            "failed": "FAILED",
        }[self.result]
        line = f"{text} {self.summary.describe()}"
        return f"{line}: {self.error}" if self.error else line


def due_summaries(now: datetime | None = None, *, frequency: str | None = None) -> list[DueSummary]:
    """The summaries not yet sent for the period `now` falls in, sponsor by sponsor: every
    organisation each active sponsor's current roles name, unless they chose off (or, with
    `frequency`, another frequency)."""
    now = now or clock.now()
    day = uk_date(now)
    sponsors = db.session.scalars(
        sa.select(User)
        .where(
            User.active.is_(True),
            User.id.in_(
                sa.select(RoleAssignment.user_id).where(
                    RoleAssignment.role == "sponsor", RoleAssignment.ended_at.is_(None)
                )
            ),
        )
        .order_by(User.email)
    ).all()
    # The same test as every page's: a role ended or past its `valid_to` gives nothing.
    sponsored = {
        user.id: {r.organisation_id for r in current_roles(user, "sponsor", now.date())} - {None}
        for user in sponsors
    }
    organisation_ids = set().union(*sponsored.values())
    if not organisation_ids:
        return []
    organisations = {
        org.id: org
        for org in db.session.scalars(
            sa.select(Organisation).where(Organisation.id.in_(organisation_ids))
        )
    }
    rows = {
        (row.user_id, row.organisation_id): row
        for row in db.session.scalars(
            sa.select(ReportSubscription).where(
                ReportSubscription.user_id.in_(sponsored),
                ReportSubscription.organisation_id.in_(organisation_ids),
            )
        )
    }
    due = []
    for sponsor in sponsors:
        chosen = sorted(sponsored[sponsor.id], key=lambda i: organisations[i].ods_code)
        for organisation_id in chosen:
            row = rows.get((sponsor.id, organisation_id))
            wanted = row.frequency if row else DEFAULT_FREQUENCY
            if wanted not in SENDING or (frequency and wanted != frequency):
                continue
            period = period_of(wanted, day)
            if row is not None and row.last_period == period:
                continue
            due.append(DueSummary(sponsor, organisations[organisation_id], row, wanted, period))
    return due


@dataclass
class _OrganisationPack:
    report: OrganisationReport
    attachment: tuple[str, str, bytes]


def _pack(organisation: Organisation, now: datetime) -> _OrganisationPack:
    report = organisation_report(organisation, now=now)
    table = exports.staff_credentials(organisation, now=now)
    name = exports.filename(organisation, "staff-credentials", "csv", uk_date(now))
    return _OrganisationPack(report, (name, CSV_MIMETYPE, csv_bytes(table)))


def _send_summary(
    summary: DueSummary, pack: _OrganisationPack, *, now: datetime
) -> ReportSubscription:
    """Record `summary` as sent for its period, then send it."""
    row = summary.subscription
    if row is None:
        row = ReportSubscription(
            user_id=summary.sponsor.id,
            organisation_id=summary.organisation.id,
            frequency=summary.frequency,
        )
        db.session.add(row)
    row.last_period = summary.period
    row.last_sent_at = now
    db.session.flush()

    organisation, report = summary.organisation, pack.report
    day = uk_date(now)
    credentials = report.credentials
    send_email(
        summary.sponsor.email,
        f"{organisation.name}: {summary.frequency} learning summary, "
        f"{period_label(summary.frequency, day)}",
        "sponsor_summary",
        attachments=[pack.attachment],
        user=summary.sponsor,
        organisation=organisation,
        report=report,
        frequency=summary.frequency,
        period=period_label(summary.frequency, day),
        generated_on=day,
        by_progress=[
            (label, report.by_progress.get(key, 0)) for key, label in PROGRESS_STATUSES.items()
        ],
        enrolled=sum(report.by_enrolment_status.values()),
        at_risk=[(p.user.name, p.risks) for p in report.at_risk[:LISTED_IN_EMAIL]],
        at_risk_more=max(0, len(report.at_risk) - LISTED_IN_EMAIL),
        expiring=[
            (c.user.name, c.title, exports.as_date(c.expiry))
            for c in credentials.expiring[:LISTED_IN_EMAIL]
        ],
        expiring_more=max(0, len(credentials.expiring) - LISTED_IN_EMAIL),
        expiring_days=EXPIRING_DAYS,
        coverage_text=credentials.coverage_text,
        attachment_name=pack.attachment[0],
        dashboard_url=external_url("reporting.dashboard", organisation_id=organisation.id),
        export_url=external_url(
            "reporting_exports.staff_credentials", organisation_id=organisation.id, fmt="xlsx"
        ),
        settings_url=external_url("reporting_exports.subscriptions"),
    )
    log.info("sent %s", summary.describe())
    return row


def send_summaries(
    now: datetime | None = None, *, frequency: str | None = None, dry_run: bool = False
) -> list[Outcome]:
    """Send every summary due now (see the module's docstring); with `dry_run`, only say which.
    Flushes; the caller commits."""
    now = now or clock.now()
    outcomes = []
    packs: dict[int, _OrganisationPack] = {}
    for summary in due_summaries(now, frequency=frequency):
        if dry_run:
            outcomes.append(Outcome(summary, "would_send"))
            continue
        try:
            with db.session.begin_nested():
                organisation_id = summary.organisation.id
                if organisation_id not in packs:
                    packs[organisation_id] = _pack(summary.organisation, now)
                _send_summary(summary, packs[organisation_id], now=now)
        except (IntegrityError, StaleDataError):
            # Another run wrote this subscription first (and sends the summary itself), or the
            # sponsor changed their choice: nothing was sent, and the next run sees the change.
            outcomes.append(Outcome(summary, "skipped"))
        except Exception as error:
            log.exception("summary failed: %s", summary.describe())
            outcomes.append(Outcome(summary, "failed", f"{type(error).__name__}: {error}"))
        else:
            outcomes.append(Outcome(summary, "sent"))
    return outcomes
