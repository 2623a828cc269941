"""The work `flask academy run-scheduled` does, for cron or a scheduler container to run as often
as it likes (hourly is plenty):

1. the outbox sweep: messages whose retry is due, or whose worker died mid-send, are queued again;
2. deadline reminders to learners who have not submitted, by their own deadline (an approved
   extension moves it): one when the UK day `REMINDER_WORKING_DAYS` working days before the due
   day comes (on the cohort nation's calendar), one in the last `LAST_CALL` before the deadline;
3. feedback-overdue alerts: each tutor, once a working day, gets the work in their cohorts whose
   feedback date has passed with no mark released; each admin a digest of it once an ISO week;
4. credential expiry reminders, `EXPIRY_REMINDER_DAYS` before a valid credential expires, to its
   holder and to the current sponsors of their employer and of the organisations that sponsored
   their enrolments;
5. the sponsors' summaries (academy.reporting.scheduled), as each sponsor chose;
6. the retention schedule (academy.privacy.retention): files, emails and sign-in counters past
   their retention periods are deleted.

Every email has an idempotency key naming what it reminds of and when, so running again sends
nothing twice, and a deadline moved by an extension is a new deadline with reminders of its own.
Each step runs in its own savepoint: one that fails is rolled back and logged, and the others
still send. Each step reads a fixed number of queries whatever the number of learners (the keys
already used are looked up together), then writes one row per email it sends.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload

from academy.assessment.forms import uk_datetime_text
from academy.assessment.models import Assignment, Extension, Submission
from academy.assessment.services import candidate_number
from academy.assessment.tracking import work_status
from academy.auth.models import RoleAssignment, User
from academy.catalogue.models import Module, Programme
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core import calendar, clock
from academy.core.urls import external_url
from academy.credentials.models import Credential, status_clause
from academy.extensions import db
from academy.marking.models import Mark
from academy.notifications import mail
from academy.notifications.models import OutboxMessage
from academy.organisations.models import Organisation
from academy.reporting import scheduled as sponsor_summaries
from academy.reporting.academy_reports import current_tutor_cohorts

log = logging.getLogger(__name__)

#: The first deadline reminder goes on the UK day this many working days before the due day.
REMINDER_WORKING_DAYS = 3
#: The last reminder goes once the deadline is this close.
LAST_CALL = timedelta(hours=24)
#: Deadline reminder triggers, in the order they come, as their keys and the summary name them.
DEADLINE_TRIGGERS = {"3-working-days": "3 working days before", "1-day": "1 day before"}
#: Credential expiry reminders, days before the expiry day; the nearest one that applies is sent.
EXPIRY_REMINDER_DAYS = (30, 90)
#: At most this many pieces of work are listed in a tutor's alert; the queue has them all.
LISTED_IN_ALERT = 30


# --- results ----------------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did (or, in a dry run, would do)."""

    label: str
    #: Emails queued (or work done) by what they were, in the order the summary line gives them.
    counts: dict[str, int] = field(default_factory=dict)
    #: `recipient: subject` of each email queued, for a dry run to list.
    messages: list[str] = field(default_factory=list)
    #: Lines the step reports however it ran (the sponsors' summaries, one each).
    lines: list[str] = field(default_factory=list)
    #: Parts that failed without stopping the step (a sponsor summary).
    failures: int = 0
    #: Set when the whole step failed and was rolled back.
    error: str = ""
    #: What the summary line says happened to them.
    verb: str = "sent"

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.failures > 0

    def add(self, kind: str, message: OutboxMessage | None) -> None:
        if message is None:
            return
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.messages.append(f"{message.recipient}: {message.subject}")

    def describe(self, *, dry_run: bool = False) -> str:
        if self.error:
            return f"{self.label}: FAILED, nothing of this kind sent ({self.error})"
        verb = f"would be {self.verb}" if dry_run else self.verb
        line = f"{self.label}: {self.total} {verb}"
        if len(self.counts) > 1:
            line += f" ({'; '.join(f'{kind}: {count}' for kind, count in self.counts.items())})"
        if self.failures:
            line += f", {self.failures} failed"
        return line + "."


def _used_keys(keys: Iterable[str]) -> set[str]:
    """The idempotency keys among `keys` some earlier run has used: one query for them all."""
    keys = set(keys)
    if not keys:
        return set()
    return set(
        db.session.scalars(
            sa.select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
        )
    )


@dataclass
class _Email:
    """An email a step means to send, unless its key was used before."""

    kind: str
    key: str
    to: str
    subject: str
    template: str
    category: str
    context: dict


def _send_all(emails: list[_Email], result: StepResult) -> None:
    used = _used_keys(email.key for email in emails)
    for email in emails:
        if email.key in used:
            continue
        message = mail.send_email(
            email.to,
            email.subject,
            email.template,
            category=email.category,
            idempotency_key=email.key,
            **email.context,
        )
        result.add(email.kind, message)


def _current_role_holders(role: str, today: date, **scope) -> sa.Select:
    """Active users holding `role` today, with the role's scope column when `scope` names one."""
    clauses = [
        RoleAssignment.role == role,
        RoleAssignment.ended_at.is_(None),
        RoleAssignment.valid_from <= today,
        sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
        User.active.is_(True),
    ]
    for column, values in scope.items():
        clauses.append(getattr(RoleAssignment, column).in_(values))
    return (
        sa.select(RoleAssignment, User)
        .join(User, User.id == RoleAssignment.user_id)
        .options(lazyload(User.roles))
        .where(*clauses)
        .order_by(User.id, RoleAssignment.id)
    )


def _settings_url() -> str:
    return external_url("notifications.preferences")


# --- 1. the outbox ---------------------------------------------------------------------------


def sweep_outbox(*, dry_run: bool = False) -> StepResult:
    """Queue again the messages due a retry, or left claimed by a worker that stopped."""
    result = StepResult("Outbox", verb="queued again")
    result.counts["due"] = len(mail.due_messages()) if dry_run else mail.sweep()
    return result


# --- 2. deadline reminders -------------------------------------------------------------------


def reminder_day(due_at: datetime, nation: str) -> date:
    """The UK day `REMINDER_WORKING_DAYS` working days before the UK day `due_at` falls on:
    work due on Tuesday after an Easter weekend in England is reminded of the Tuesday before."""
    day = calendar.uk_date(due_at)
    left = REMINDER_WORKING_DAYS
    while left:
        day -= timedelta(days=1)
        if calendar.is_working_day(day, nation):
            left -= 1
    return day


def deadline_trigger(due_at: datetime, nation: str, now: datetime) -> str | None:
    """The reminder due at `now` for work due at `due_at`: `1-day` in its last 24 hours,
    `3-working-days` from the reminder day until then, none before that or once it has passed.
    Only the nearer one is sent when a late start means both apply."""
    if now >= due_at:
        return None
    if due_at - now <= LAST_CALL:
        return "1-day"
    if calendar.uk_date(now) >= reminder_day(due_at, nation):
        return "3-working-days"
    return None


def deadline_key(assignment_id: int, user_id: int, due_at: datetime, trigger: str) -> str:
    return f"deadline:{assignment_id}:{user_id}:{due_at.isoformat()}:{trigger}"


def _assignments_with_deadlines_ahead(now: datetime) -> list[Assignment]:
    """Open assignments of cohorts that have started whose deadline, or an approved extension
    of it, is still ahead."""
    extended = sa.select(Extension.assignment_id).where(
        Extension.status == "approved", Extension.granted_due_at > now
    )
    started = (
        sa.select(ModuleDelivery.id)
        .join(Cohort, Cohort.id == ModuleDelivery.cohort_id)
        .where(Cohort.starts_on <= calendar.uk_date(now))
    )
    return list(
        db.session.scalars(
            sa.select(Assignment)
            .options(
                joinedload(Assignment.delivery)
                .joinedload(ModuleDelivery.cohort)
                .options(
                    lazyload(Cohort.deliveries),
                    joinedload(Cohort.programme).lazyload(Programme.modules),
                )
            )
            .where(
                Assignment.opens_at <= now,
                Assignment.delivery_id.in_(started),
                sa.or_(Assignment.due_at > now, Assignment.id.in_(extended)),
            )
            .order_by(Assignment.due_at, Assignment.id)
        ).unique()
    )


def send_deadline_reminders(now: datetime) -> StepResult:
    """Remind learners with active enrolments who have not submitted (a draft is not
    submitted) of their own deadline: five queries whatever the cohorts' size."""
    result = StepResult("Deadline reminders", {label: 0 for label in DEADLINE_TRIGGERS.values()})
    assignments = _assignments_with_deadlines_ahead(now)
    if not assignments:
        return result
    cohort_ids = {a.delivery.cohort_id for a in assignments}
    assignment_ids = [a.id for a in assignments]
    learners: dict[int, list[User]] = defaultdict(list)
    for cohort_id, learner in db.session.execute(
        sa.select(Enrolment.cohort_id, User)
        .join(User, User.id == Enrolment.user_id)
        .options(lazyload(User.roles))
        .where(
            Enrolment.cohort_id.in_(cohort_ids),
            Enrolment.status == "active",
            User.active.is_(True),
        )
        .order_by(User.id)
    ):
        learners[cohort_id].append(learner)
    # Only handed-in work stops a reminder, so drafts are not read at all.
    submissions = {
        (s.assignment_id, s.user_id): s
        for s in db.session.scalars(
            sa.select(Submission)
            .options(lazyload("*"))
            .where(Submission.assignment_id.in_(assignment_ids), Submission.status == "submitted")
        )
    }
    extensions: dict[tuple[int, int], list[Extension]] = defaultdict(list)
    for extension in db.session.scalars(
        sa.select(Extension)
        .options(lazyload("*"))
        .where(Extension.assignment_id.in_(assignment_ids), Extension.status == "approved")
        .order_by(Extension.id)
    ):
        extensions[(extension.assignment_id, extension.user_id)].append(extension)

    emails = []
    for assignment in assignments:
        cohort = assignment.delivery.cohort
        for learner in learners[cohort.id]:
            pair = (assignment.id, learner.id)
            status = work_status(assignment, submissions.get(pair), extensions.get(pair, []))
            if status.key in ("submitted", "late"):
                continue
            trigger = deadline_trigger(status.due_at, cohort.nation, now)
            if trigger is None:
                continue
            emails.append(
                _Email(
                    kind=DEADLINE_TRIGGERS[trigger],
                    key=deadline_key(assignment.id, learner.id, status.due_at, trigger),
                    to=learner.email,
                    subject=(
                        f"{'Last reminder' if trigger == '1-day' else 'Reminder'}: "
                        f"{assignment.title} is due {uk_datetime_text(status.due_at)}"
                    ),
                    template="deadline_reminder",
                    category="deadline_reminder",
                    context={
                        "user": learner,
                        "assignment": assignment,
                        "module": assignment.delivery.module,
                        "due_at": status.due_at,
                        "extended": status.extension is not None,
                        "last_call": trigger == "1-day",
                        "link": external_url("assessment.assignment", assignment_id=assignment.id),
                        "extension_link": external_url(
                            "assessment.request_extension", assignment_id=assignment.id
                        ),
                        "settings_url": _settings_url(),
                    },
                )
            )
    _send_all(emails, result)
    return result


# --- 3. feedback overdue ---------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueWork:
    """Handed-in work whose feedback date has passed with no mark released."""

    submission_id: int
    cohort: Cohort
    assignment_id: int
    assignment_title: str
    module_code: str
    #: The learner's name, or their candidate number while the assignment is anonymous.
    shown_as: str
    submitted_at: datetime
    feedback_due: date
    working_days_overdue: int


@dataclass
class CohortOverdue:
    cohort: Cohort
    tutors: list[str]
    overdue: int = 0
    #: The earliest feedback date missed.
    oldest_due: date | None = None


def overdue_feedback(now: datetime) -> list[OverdueWork]:
    """Every piece of handed-in work, in any cohort, whose feedback is overdue today (UK time),
    the longest overdue first: one query, the working days counted in Python."""
    today = calendar.uk_date(now)
    rows = db.session.execute(
        sa.select(
            Submission.id,
            Submission.user_id,
            Submission.submitted_at,
            Assignment.id,
            Assignment.title,
            Assignment.anonymous,
            Module.code,
            User.name,
            Cohort,
        )
        .select_from(Submission)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .join(Module, Module.id == ModuleDelivery.module_id)
        .join(Cohort, Cohort.id == ModuleDelivery.cohort_id)
        .join(User, User.id == Submission.user_id)
        .outerjoin(Mark, Mark.submission_id == Submission.id)
        .options(
            lazyload(Cohort.deliveries),
            joinedload(Cohort.programme).lazyload(Programme.modules),
        )
        .where(
            Submission.status == "submitted",
            Submission.submitted_at.is_not(None),
            sa.or_(Mark.id.is_(None), Mark.status != "released"),
        )
        .order_by(Submission.submitted_at, Submission.id)
    ).all()
    due_by: dict[tuple[date, int, str], date] = {}
    overdue = []
    for (
        submission_id,
        user_id,
        submitted_at,
        assignment_id,
        title,
        anonymous,
        code,
        name,
        cohort,
    ) in rows:
        # The same arithmetic as marking.services.feedback_due, remembered per day handed in.
        key = (calendar.uk_date(submitted_at), cohort.feedback_working_days, cohort.nation)
        if key not in due_by:
            due_by[key] = calendar.add_working_days(*key)
        due = due_by[key]
        if today <= due:
            continue
        overdue.append(
            OverdueWork(
                submission_id=submission_id,
                cohort=cohort,
                assignment_id=assignment_id,
                assignment_title=title,
                module_code=code,
                # Unreleased, so an anonymous assignment's markers still see numbers only.
                shown_as=candidate_number(assignment_id, user_id) if anonymous else name,
                submitted_at=submitted_at,
                feedback_due=due,
                working_days_overdue=calendar.working_days_between(due, today, cohort.nation),
            )
        )
    overdue.sort(key=lambda work: (work.feedback_due, work.submitted_at, work.submission_id))
    return overdue


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _working_day_for(day: date, work: list[OverdueWork]) -> bool:
    """Whether `day` is a working day where some of `work` is marked: no alert on a weekend or
    a bank holiday of every nation concerned."""
    return any(calendar.is_working_day(day, nation) for nation in {w.cohort.nation for w in work})


def _tutor_alerts(
    by_cohort: dict[int, list[OverdueWork]], pairs: list[tuple[User, Cohort]], today: date
) -> list[_Email]:
    tutors: dict[int, User] = {}
    work_of: dict[int, list[OverdueWork]] = defaultdict(list)
    for tutor, cohort in pairs:
        if cohort.id in by_cohort:
            tutors[tutor.id] = tutor
            work_of[tutor.id].extend(by_cohort[cohort.id])
    emails = []
    for tutor_id, items in work_of.items():
        if not _working_day_for(today, items):
            continue
        items.sort(key=lambda work: (work.feedback_due, work.submitted_at, work.submission_id))
        tutor = tutors[tutor_id]
        count = len(items)
        emails.append(
            _Email(
                kind="tutor alerts",
                key=f"feedback-overdue:{tutor.id}:{today.isoformat()}",
                to=tutor.email,
                subject=(
                    f"Feedback overdue: {count} piece{'' if count == 1 else 's'} of work "
                    "past the feedback date"
                ),
                template="feedback_overdue",
                category="feedback_overdue",
                context={
                    "user": tutor,
                    "items": items[:LISTED_IN_ALERT],
                    "more": max(0, count - LISTED_IN_ALERT),
                    "count": count,
                    "today": today,
                    "link": external_url("marking.queue"),
                    "settings_url": _settings_url(),
                },
            )
        )
    return emails


def _admin_digests(
    by_cohort: dict[int, list[OverdueWork]], pairs: list[tuple[User, Cohort]], today: date
) -> list[_Email]:
    tutor_names: dict[int, set[str]] = defaultdict(set)
    for tutor, cohort in pairs:
        tutor_names[cohort.id].add(tutor.name)
    cohorts = [
        CohortOverdue(
            cohort=items[0].cohort,
            tutors=sorted(tutor_names.get(cohort_id, ())),
            overdue=len(items),
            oldest_due=min(work.feedback_due for work in items),
        )
        for cohort_id, items in by_cohort.items()
    ]
    cohorts.sort(key=lambda c: (-c.overdue, c.cohort.programme.title, c.cohort.name, c.cohort.id))
    total = sum(c.overdue for c in cohorts)
    week = iso_week(today)
    admins = db.session.execute(_current_role_holders("admin", today)).all()
    return [
        _Email(
            kind="admin digests",
            key=f"admin-digest:{admin.id}:{week}",
            to=admin.email,
            subject=(
                f"Overdue feedback this week: {total} across "
                f"{len(cohorts)} cohort{'' if len(cohorts) == 1 else 's'}"
            ),
            template="admin_digest",
            category="admin_digest",
            context={
                "user": admin,
                "cohorts": cohorts,
                "total": total,
                "today": today,
                "report_url": external_url(
                    "academy_reports.report", report_key="feedback-turnaround"
                ),
                "caseload_url": external_url("academy_reports.caseload"),
                "settings_url": _settings_url(),
            },
        )
        for admin in {user.id: user for _, user in admins}.values()
    ]


def send_feedback_alerts(now: datetime) -> StepResult:
    """Each current tutor gets the overdue work of their cohorts, once a UK day; each admin a
    digest of all overdue work by cohort, once an ISO week. Both go only when something is
    overdue, and only on a working day (in the nation of a cohort the work is in). Four
    queries."""
    result = StepResult("Feedback overdue", {"tutor alerts": 0, "admin digests": 0})
    today = calendar.uk_date(now)
    overdue = overdue_feedback(now)
    if not overdue or not _working_day_for(today, overdue):
        return result
    by_cohort: dict[int, list[OverdueWork]] = defaultdict(list)
    for work in overdue:
        by_cohort[work.cohort.id].append(work)
    pairs = current_tutor_cohorts(today)
    _send_all(
        [*_tutor_alerts(by_cohort, pairs, today), *_admin_digests(by_cohort, pairs, today)],
        result,
    )
    return result


# --- 4. credential expiry --------------------------------------------------------------------


def expiry_day(credential: Credential) -> date:
    """The UK day the credential expires: issued ones at a moment, external ones on a day."""
    expiry = credential.expiry
    return calendar.uk_date(expiry) if isinstance(expiry, datetime) else expiry


def expiry_trigger(days_left: int) -> int | None:
    """The nearest of `EXPIRY_REMINDER_DAYS` that `days_left` is within."""
    return next((days for days in sorted(EXPIRY_REMINDER_DAYS) if days_left <= days), None)


def send_credential_expiry_reminders(now: datetime) -> StepResult:
    """Holders of valid credentials expiring within 90 or 30 days, and the current sponsors of
    their employer and of their enrolments' sponsoring organisations: four queries."""
    result = StepResult(
        "Credential expiry reminders",
        {f"at {days} days": 0 for days in sorted(EXPIRY_REMINDER_DAYS, reverse=True)},
    )
    today = calendar.uk_date(now)
    horizon = max(EXPIRY_REMINDER_DAYS)
    credentials = list(
        db.session.scalars(
            sa.select(Credential)
            .options(joinedload(Credential.user).lazyload(User.roles))
            .where(
                status_clause("valid", now),
                sa.or_(
                    sa.and_(
                        Credential.kind != "external",
                        Credential.expires_at.is_not(None),
                        # A day beyond the horizon: which UK day a moment falls on is decided below.
                        Credential.expires_at <= now + timedelta(days=horizon + 1),
                    ),
                    sa.and_(
                        Credential.kind == "external",
                        Credential.expires_on.is_not(None),
                        Credential.expires_on <= today + timedelta(days=horizon),
                    ),
                ),
            )
            .order_by(Credential.id)
        ).unique()
    )
    due = []
    for credential in credentials:
        days_left = (expiry_day(credential) - today).days
        trigger = expiry_trigger(days_left)
        if trigger is not None:
            due.append((credential, trigger, days_left))
    if not due:
        return result

    holder_ids = {credential.user_id for credential, _, _ in due}
    organisations_of: dict[int, set[int]] = defaultdict(set)
    for credential, _, _ in due:
        if credential.user.organisation_id:
            organisations_of[credential.user_id].add(credential.user.organisation_id)
    # Every enrolment counts, whatever its status, as on the sponsor's dashboard.
    for user_id, organisation_id in db.session.execute(
        sa.select(Enrolment.user_id, Enrolment.sponsor_organisation_id)
        .where(Enrolment.user_id.in_(holder_ids))
        .distinct()
    ):
        organisations_of[user_id].add(organisation_id)
    organisation_ids = set().union(*organisations_of.values())
    sponsors_of: dict[int, list[tuple[User, Organisation]]] = defaultdict(list)
    if organisation_ids:
        for role, sponsor in db.session.execute(
            _current_role_holders("sponsor", now.date(), organisation_id=organisation_ids)
        ):
            sponsors_of[role.organisation_id].append((sponsor, role.organisation))

    emails = []
    wallet_url = external_url("credentials.wallet")
    for credential, trigger, days_left in due:
        holder = credential.user
        context = {
            "credential": credential,
            "holder": holder,
            "expires_on": expiry_day(credential),
            "days_left": days_left,
        }
        kind = f"at {trigger} days"
        if holder.active:
            emails.append(
                _Email(
                    kind=kind,
                    key=f"credential-expiry:{credential.id}:{trigger}:{holder.id}",
                    to=holder.email,
                    subject=f"Your credential expires soon: {credential.title}",
                    template="credential_expiry",
                    category="credential_expiry",
                    context={
                        **context,
                        "user": holder,
                        "for_sponsor": False,
                        "link": wallet_url,
                        "settings_url": _settings_url(),
                    },
                )
            )
        # A sponsor of both the employer and the enrolment's sponsor hears once.
        sponsors: dict[int, tuple[User, Organisation]] = {}
        for organisation_id in sorted(organisations_of.get(holder.id, ())):
            for sponsor, organisation in sponsors_of.get(organisation_id, []):
                if sponsor.id != holder.id:
                    sponsors.setdefault(sponsor.id, (sponsor, organisation))
        for sponsor, organisation in sponsors.values():
            emails.append(
                _Email(
                    kind=kind,
                    key=f"credential-expiry:{credential.id}:{trigger}:{sponsor.id}",
                    to=sponsor.email,
                    subject=f"A credential {holder.name} holds expires soon: {credential.title}",
                    template="credential_expiry",
                    category="credential_expiry",
                    context={
                        **context,
                        "user": sponsor,
                        "for_sponsor": True,
                        "organisation": organisation,
                        "link": external_url(
                            "reporting.dashboard", organisation_id=organisation.id
                        ),
                        "settings_url": _settings_url(),
                    },
                )
            )
    _send_all(emails, result)
    return result


# --- 5. sponsors' summaries ------------------------------------------------------------------


def send_sponsor_summaries(now: datetime, *, dry_run: bool = False) -> StepResult:
    outcomes = sponsor_summaries.send_summaries(now, dry_run=dry_run)
    result = StepResult("Sponsor summaries")
    result.counts["summaries"] = sum(o.result in ("sent", "would_send") for o in outcomes)
    result.failures = sum(o.result == "failed" for o in outcomes)
    result.lines = [outcome.describe() for outcome in outcomes]
    return result


# --- 6. retention ----------------------------------------------------------------------------


def apply_retention(now: datetime, *, dry_run: bool = False) -> StepResult:
    """Delete what is past its retention period (academy.privacy.retention)."""
    from academy.privacy import retention

    report = retention.run(now=now, dry_run=dry_run)
    result = StepResult("Retention", verb="deleted")
    # Only what was deleted, so a quiet run is one short line.
    result.counts = {
        name.replace("_", " "): count
        for name, count in report.counts().items()
        if count and name != "inactive_accounts"
    } or {"items": 0}
    return result


# --- the run ---------------------------------------------------------------------------------


def run_scheduled(now: datetime | None = None, *, dry_run: bool = False) -> list[StepResult]:
    """Run every step in order, each in its own savepoint. Flushes; the caller commits, or, for
    a dry run, rolls back, so a dry run sends and records nothing but counts what a run would
    (preferences and emails already sent included)."""
    now = now or clock.now()
    steps = [
        ("Outbox", lambda: sweep_outbox(dry_run=dry_run)),
        ("Deadline reminders", lambda: send_deadline_reminders(now)),
        ("Feedback overdue", lambda: send_feedback_alerts(now)),
        ("Credential expiry reminders", lambda: send_credential_expiry_reminders(now)),
        ("Sponsor summaries", lambda: send_sponsor_summaries(now, dry_run=dry_run)),
        ("Retention", lambda: apply_retention(now, dry_run=dry_run)),
    ]
    results = []
    for label, step in steps:
        try:
            with db.session.begin_nested():
                result = step()
        except Exception as error:
            log.exception("scheduled step failed: %s", label)
            result = StepResult(label, error=f"{type(error).__name__}: {error}")
        else:
            log.info("%s", result.describe(dry_run=dry_run))
        results.append(result)
    return results
