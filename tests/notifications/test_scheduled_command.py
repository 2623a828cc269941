"""`flask academy run-scheduled`: every kind of scheduled email in one run with a summary line
each, nothing twice however often it runs, a dry run that says what would go and sends and
records nothing, lost deliveries picked up, and one step failing without stopping the others."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from rq import Queue

from academy.core import clock, jobs
from academy.credentials import services as credentials
from academy.extensions import db
from academy.notifications import scheduled
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage
from academy.reporting.models import ReportSubscription
from tests.conftest import count
from tests.notifications.conftest import REDIS_URL

#: Tuesday 30 March 2027, the first working day after Easter in England.
NOW = datetime(2027, 3, 30, 8, tzinfo=UTC)


def run(app, *args, now=NOW):
    with clock.frozen_at(now):
        return app.test_cli_runner().invoke(args=["academy", "run-scheduled", *args])


def to(outbox, user) -> list[str]:
    return [message["Subject"] for message in outbox if message["To"] == user.email]


@pytest.fixture
def world(ctx, make):
    """One of everything due on NOW: a deadline reminder, overdue feedback for a tutor and an
    admin, a credential 90 days from expiry, and a sponsor's monthly summary."""
    trust = make.organisation(ods_code="RR8", name="Leeds Teaching Hospitals")
    cohort = make.cohort(feedback_working_days=5)
    people = {
        "learner": make.learner_in(cohort, organisation=trust, name="Lin Learner"),
        "writer": make.learner_in(cohort, organisation=trust, name="Wes Writer"),
        "tutor": make.user("tutor", scope=cohort, name="Tess Tutor"),
        "admin": make.user("admin", name="Ada Admin"),
        "sponsor": make.user("sponsor", scope=trust, name="Sam Sponsor"),
    }
    # Due on Thursday 1 April: reminded from Thursday 25 March, three working days before.
    make.assignment(
        cohort,
        title="Benefits case",
        opens_at=datetime(2027, 3, 1, tzinfo=UTC),
        due_at=datetime(2027, 4, 1, 16, tzinfo=UTC),
    )
    essay = make.assignment(
        cohort,
        title="Essay",
        opens_at=datetime(2027, 3, 1, tzinfo=UTC),
        due_at=datetime(2027, 3, 18, 16, tzinfo=UTC),
    )
    with clock.frozen_at(datetime(2027, 3, 18, 10, tzinfo=UTC)):
        make.submission(essay, people["writer"])
        credentials.record_external(
            people["learner"],
            actor=people["learner"],
            title="PRINCE2 Practitioner",
            issuer="PeopleCert",
            issued_on=date(2024, 6, 28),
            expires_on=date(2027, 6, 28),
        )
        db.session.commit()
    return people


def test_a_dry_run_says_what_would_go_and_sends_and_records_nothing(app, world, outbox):
    result = run(app, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Outbox: 0 would be queued again."
    assert (
        "Deadline reminders: 2 would be sent (3 working days before: 2; 1 day before: 0)." in lines
    )
    learner = world["learner"]
    assert (
        f"  {learner.email}: Reminder: Benefits case is due Thursday 1 April 2027 at 5pm" in lines
    )
    assert "Feedback overdue: 2 would be sent (tutor alerts: 1; admin digests: 1)." in lines
    assert "Credential expiry reminders: 2 would be sent (at 90 days: 2; at 30 days: 0)." in lines
    assert (
        f"  {world['sponsor'].email}: A credential Lin Learner holds expires soon: "
        "PRINCE2 Practitioner" in lines
    )
    assert "Sponsor summaries: 1 would be sent." in lines
    assert any(line.startswith("  Would send monthly summary 2027-03 of RR8") for line in lines)
    # No delivery was queued for the emails the dry run wrote and rolled back.
    assert jobs.run_ready() == 0
    assert outbox == []
    assert count(OutboxMessage) == 0
    assert count(ReportSubscription) == 0


def test_a_run_sends_everything_due_once(app, world, outbox):
    result = run(app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:5] == [
        "Outbox: 0 queued again.",
        "Deadline reminders: 2 sent (3 working days before: 2; 1 day before: 0).",
        "Feedback overdue: 2 sent (tutor alerts: 1; admin digests: 1).",
        "Credential expiry reminders: 2 sent (at 90 days: 2; at 30 days: 0).",
        "Sponsor summaries: 1 sent.",
    ]
    # A real run lists only the summaries, not every email.
    assert world["learner"].email not in result.output
    assert to(outbox, world["learner"]) == [
        "Reminder: Benefits case is due Thursday 1 April 2027 at 5pm",
        "Your credential expires soon: PRINCE2 Practitioner",
    ]
    assert to(outbox, world["tutor"]) == [
        "Feedback overdue: 1 piece of work past the feedback date"
    ]
    assert to(outbox, world["admin"]) == ["Overdue feedback this week: 1 across 1 cohort"]
    assert to(outbox, world["sponsor"]) == [
        "A credential Lin Learner holds expires soon: PRINCE2 Practitioner",
        "Leeds Teaching Hospitals: monthly learning summary, March 2027",
    ]
    sent = len(outbox)

    again = run(app, now=NOW.replace(hour=9))
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == [
        "Outbox: 0 queued again.",
        "Deadline reminders: 0 sent (3 working days before: 0; 1 day before: 0).",
        "Feedback overdue: 0 sent (tutor alerts: 0; admin digests: 0).",
        "Credential expiry reminders: 0 sent (at 90 days: 0; at 30 days: 0).",
        "Sponsor summaries: 0 sent.",
        "Retention: 0 deleted.",
    ]
    assert len(outbox) == sent


def test_messages_whose_delivery_was_lost_are_sent_by_the_next_run(app, make, outbox):
    user = make.user()
    send_email(
        user.email,
        "Reset your Digital Academy password",
        "password_reset",
        user=user,
        link="https://academy.test/reset-password/token",
        hours=2,
    )
    db.session.commit()
    # The process stopped before running the delivery job it had queued.
    jobs.discard_ready()
    assert outbox == []

    result = run(app, now=datetime.now(UTC))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Outbox: 1 queued again.")
    assert to(outbox, user) == ["Reset your Digital Academy password"]


def test_a_failing_step_is_rolled_back_and_the_others_still_send(app, world, outbox, monkeypatch):
    def broken(now):
        # Something is queued before the failure, and must not survive it.
        send_email(
            world["learner"].email,
            "Half-done",
            "password_reset",
            user=world["learner"],
            link="https://academy.test/",
            hours=2,
        )
        raise RuntimeError("the credentials table is on fire")

    monkeypatch.setattr(scheduled, "send_credential_expiry_reminders", broken)
    result = run(app)
    assert result.exit_code == 1
    assert (
        "Credential expiry reminders: FAILED, nothing of this kind sent "
        "(RuntimeError: the credentials table is on fire)" in result.output
    )
    assert "Failed: Credential expiry reminders; see the log." in result.output
    assert "Deadline reminders: 2 sent" in result.output
    # The steps before and after the failure were committed and delivered.
    assert to(outbox, world["learner"]) == [
        "Reminder: Benefits case is due Thursday 1 April 2027 at 5pm"
    ]
    assert to(outbox, world["tutor"]) == [
        "Feedback overdue: 1 piece of work past the feedback date"
    ]
    assert to(outbox, world["sponsor"]) == [
        "Leeds Teaching Hospitals: monthly learning summary, March 2027"
    ]
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status != "sent")
        )
        == 0
    )

    # Once mended, the next run sends what the failed one did not.
    monkeypatch.undo()
    later = run(app, now=NOW.replace(hour=9))
    assert later.exit_code == 0, later.output
    assert "Credential expiry reminders: 2 sent" in later.output
    assert "Half-done" not in to(outbox, world["learner"])


def test_with_redis_the_deliveries_are_queued_when_the_run_commits(
    app, world, redis_db, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    queue = Queue(jobs.QUEUE_NAME, connection=redis_db)
    with clock.frozen_at(NOW):
        results = scheduled.run_scheduled()
    assert sum(result.total for result in results) == 7
    # Until the commit a worker would find none of the messages: nothing is on the queue.
    assert queue.count == 0
    db.session.commit()
    assert count(OutboxMessage) == 7
    assert sorted(job.args[1] for job in queue.get_jobs()) == sorted(
        db.session.scalars(sa.select(OutboxMessage.id))
    )
