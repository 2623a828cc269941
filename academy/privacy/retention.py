"""The retention schedule: `flask academy retention run` (and every `run-scheduled`) deletes what
the privacy notice says is kept no longer, and nothing else.

- Submission and feedback files: RETENTION_SUBMISSION_YEARS after the cohort's last day. The
  rows that record the work stay (marks, results, receipts with every file's name and hash);
  the submission gets `files_purged_at`.
- Sent and failed outbox messages: RETENTION_OUTBOX_DAYS after they were queued, with their
  attachments (sponsors' summaries name staff).
- Failed sign-in counters: RETENTION_LOGIN_THROTTLE_DAYS after the last failure.
- Accounts not used for RETENTION_INACTIVE_ACCOUNT_YEARS are listed for an admin to review, never
  deleted: whether to erase someone is a decision, not a timer.

Files are shared blobs, so each is deleted only once no row names it, and only after the commit
(academy.core.blobs). A run that finds nothing to do changes nothing, so running it again, or
from several schedulers, is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from academy.assessment.models import Assignment, Submission
from academy.audit import services as audit
from academy.auth.models import LoginThrottle, User
from academy.cohorts.models import Cohort, ModuleDelivery
from academy.core import blobs, clock
from academy.core.calendar import uk_date
from academy.extensions import db
from academy.marking.models import Mark
from academy.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

#: Outbox messages in these states are finished with; pending and sending ones never expire.
FINISHED_OUTBOX = ("sent", "failed")


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass
class RetentionReport:
    """What a run did or, in a dry run, would do."""

    dry_run: bool = False
    submissions_purged: int = 0
    submission_files_deleted: int = 0
    feedback_files_deleted: int = 0
    outbox_messages_deleted: int = 0
    login_throttles_deleted: int = 0
    #: Flagged for review, not changed.
    inactive_accounts: list[int] = field(default_factory=list)
    #: Distinct blobs queued for deletion once the run commits (if nothing else names them).
    blobs_queued: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "submissions_purged": self.submissions_purged,
            "submission_files_deleted": self.submission_files_deleted,
            "feedback_files_deleted": self.feedback_files_deleted,
            "outbox_messages_deleted": self.outbox_messages_deleted,
            "login_throttles_deleted": self.login_throttles_deleted,
            "inactive_accounts": len(self.inactive_accounts),
        }

    @property
    def changed_anything(self) -> bool:
        return any(count for name, count in self.counts().items() if name != "inactive_accounts")

    def lines(self) -> list[str]:
        verb = "would be deleted" if self.dry_run else "deleted"
        lines = [
            f"Submissions past retention: {self.submissions_purged} "
            f"({self.submission_files_deleted} submission files and "
            f"{self.feedback_files_deleted} feedback files {verb})",
            f"Outbox messages {verb}: {self.outbox_messages_deleted}",
            f"Failed sign-in counters {verb}: {self.login_throttles_deleted}",
        ]
        if self.inactive_accounts:
            shown = ", ".join(str(user_id) for user_id in self.inactive_accounts[:50])
            more = len(self.inactive_accounts) - 50
            lines.append(
                f"Accounts unused for {current_app.config['RETENTION_INACTIVE_ACCOUNT_YEARS']} "
                f"years, to review (not changed): {len(self.inactive_accounts)} (user ids "
                f"{shown}{f' and {more} more' if more > 0 else ''})"
            )
        return lines


# --- submissions ------------------------------------------------------------------------------


def submission_cutoff(today: date) -> date:
    """Submissions of cohorts that ended before this day are past retention."""
    return years_before(today, current_app.config["RETENTION_SUBMISSION_YEARS"])


def past_retention(today: date) -> sa.Select:
    """Submission ids whose cohort ended more than RETENTION_SUBMISSION_YEARS ago and whose files
    have not been purged yet."""
    return (
        sa.select(Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .join(Cohort, Cohort.id == ModuleDelivery.cohort_id)
        .where(Submission.files_purged_at.is_(None), Cohort.ends_on < submission_cutoff(today))
    )


@dataclass
class Purged:
    submission_files: int = 0
    feedback_files: int = 0
    blobs: set[str] = field(default_factory=set)


def purge_submission_files(
    submissions: Iterable[Submission], *, now: datetime, dry_run: bool = False
) -> Purged:
    """Delete the files of `submissions` and their feedback files, keeping every record of them,
    and mark each purged. The blobs go after the commit, if no other row names them."""
    submissions = list(submissions)
    purged = Purged()
    if not submissions:
        return purged
    marks = {
        mark.submission_id: mark
        for mark in db.session.scalars(
            sa.select(Mark).where(Mark.submission_id.in_([s.id for s in submissions]))
        )
    }
    for submission in submissions:
        purged.submission_files += len(submission.files)
        purged.blobs.update(file.sha256 for file in submission.files)
        mark = marks.get(submission.id)
        if mark is not None and mark.feedback_file_sha256:
            purged.feedback_files += 1
            purged.blobs.add(mark.feedback_file_sha256)
        if dry_run:
            continue
        submission.files.clear()
        submission.files_purged_at = now
        if mark is not None and mark.feedback_file_sha256:
            # The name stays as a record that there was one; without the hash nothing links it.
            mark.feedback_file_sha256 = None
    if not dry_run:
        db.session.flush()
        for sha256 in purged.blobs:
            blobs.delete_if_unreferenced(sha256)
    return purged


def _purge_expired_submissions(report: RetentionReport, now: datetime) -> set[str]:
    ids = list(db.session.scalars(past_retention(uk_date(now))))
    found: set[str] = set()
    # In batches, so a first run over years of work does not load it all at once.
    for start in range(0, len(ids), 500):
        batch = db.session.scalars(
            sa.select(Submission).where(Submission.id.in_(ids[start : start + 500]))
        ).all()
        purged = purge_submission_files(batch, now=now, dry_run=report.dry_run)
        report.submissions_purged += len(batch)
        report.submission_files_deleted += purged.submission_files
        report.feedback_files_deleted += purged.feedback_files
        found |= purged.blobs
    return found


# --- outbox, sign-in counters, unused accounts ------------------------------------------------


def _purge_outbox(report: RetentionReport, now: datetime) -> set[str]:
    cutoff = now - timedelta(days=current_app.config["RETENTION_OUTBOX_DAYS"])
    old = sa.and_(OutboxMessage.status.in_(FINISHED_OUTBOX), OutboxMessage.created_at < cutoff)
    rows = db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.attachments).where(old))
    ids, attached = [], set()
    for message_id, attachments in rows:
        ids.append(message_id)
        attached.update(item.get("sha256") for item in attachments or [] if item.get("sha256"))
    report.outbox_messages_deleted = len(ids)
    if ids and not report.dry_run:
        for start in range(0, len(ids), 500):
            db.session.execute(
                sa.delete(OutboxMessage).where(OutboxMessage.id.in_(ids[start : start + 500]))
            )
        for sha256 in attached:
            blobs.delete_if_unreferenced(sha256)
    return attached


def _purge_login_throttles(report: RetentionReport, now: datetime) -> None:
    cutoff = now - timedelta(days=current_app.config["RETENTION_LOGIN_THROTTLE_DAYS"])
    stale = sa.and_(
        LoginThrottle.last_failure_at < cutoff,
        sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
    )
    if report.dry_run:
        report.login_throttles_deleted = db.session.scalar(
            sa.select(sa.func.count()).select_from(LoginThrottle).where(stale)
        )
        return
    purge = _throttle_purge()
    if purge is not None:
        older_than = timedelta(days=current_app.config["RETENTION_LOGIN_THROTTLE_DAYS"])
        report.login_throttles_deleted = int(purge(older_than=older_than) or 0)
        return
    result = db.session.execute(sa.delete(LoginThrottle).where(stale))
    report.login_throttles_deleted = result.rowcount or 0


def _throttle_purge():
    """academy.auth.throttle.purge_stale, where the sign-in throttle provides its own."""
    try:
        from academy.auth import throttle
    except ImportError:
        return None
    return getattr(throttle, "purge_stale", None)


def _flag_inactive_accounts(report: RetentionReport, now: datetime) -> None:
    years = current_app.config["RETENTION_INACTIVE_ACCOUNT_YEARS"]
    if not years:
        return
    cutoff = datetime.combine(years_before(now.date(), years), now.timetz())
    report.inactive_accounts = list(
        db.session.scalars(
            sa.select(User.id)
            .where(
                User.erased_at.is_(None),
                sa.func.coalesce(User.last_login_at, User.created_at) < cutoff,
            )
            .order_by(User.id)
        )
    )


# --- the run ----------------------------------------------------------------------------------


def run(*, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Apply the schedule. Flushes; the caller commits (the files go after that), or rolls back
    after a dry run, which changes nothing and queues nothing."""
    now = now or clock.now()
    report = RetentionReport(dry_run=dry_run)
    queued = _purge_expired_submissions(report, now)
    queued |= _purge_outbox(report, now)
    _purge_login_throttles(report, now)
    _flag_inactive_accounts(report, now)
    report.blobs_queued = 0 if dry_run else len(queued)
    if not dry_run and report.changed_anything:
        # Only runs that deleted something are audited: a scheduler runs this every few minutes.
        audit.record("privacy.retention", object_type="retention", after=report.counts())
    log.info("retention%s: %s", " (dry run)" if dry_run else "", report.counts())
    return report
