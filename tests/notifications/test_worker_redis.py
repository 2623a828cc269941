"""Email as production sends it: the change commits its outbox row, the job goes to the real
Redis, `flask academy worker` (rq's SimpleWorker, in burst mode here) runs it, and a real SMTP
server receives the message. Sent once, retried after a refusal, finished exactly once after a
worker dies, and nothing at all for a change that rolled back."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from academy.auth import services as auth_services
from academy.core import clock
from academy.extensions import db
from academy.marking import services as marking
from academy.notifications import mail
from academy.notifications.models import OutboxMessage
from tests.factories import ApiClient, Factories

pytestmark = pytest.mark.no_db


def start_worker_command(app):
    """`flask academy worker --burst`, as an operator (or a restarted container) runs it."""
    return app.test_cli_runner().invoke(args=["academy", "worker", "--burst"])


# --- sent once ---------------------------------------------------------------------------------


def test_a_committed_email_goes_to_redis_and_the_worker_sends_it_once(delivery):
    user_id, address = delivery.user()

    message_id = delivery.email(user_id)

    assert delivery.queued() == [("deliver_email", message_id)]
    assert delivery.smtp.messages == []
    assert delivery.work() is True
    [received] = delivery.smtp.messages
    message = delivery.message(message_id)
    assert received["To"] == address
    assert received["Subject"] == "Reset your Digital Academy password"
    assert received["Message-ID"] == message.message_id
    assert "https://academy.test/reset/token" in received.get_body(("plain",)).get_content()
    assert (message.status, message.attempts) == ("sent", 1)
    assert message.sent_at is not None
    assert delivery.queued() == []

    # The same job run again, and a worker restarted (which sweeps): nothing more goes.
    again = delivery.enqueue_again(message_id)
    delivery.work()

    assert again.return_value(refresh=True) == "skipped"
    assert len(delivery.smtp.messages) == 1
    assert delivery.message(message_id).status == "sent"


# --- retried after a failure -------------------------------------------------------------------


def test_a_refused_send_is_retried_by_the_scheduled_job_after_its_backoff_and_sent_once(delivery):
    user_id, address = delivery.user()
    delivery.smtp.refusing = True
    message_id = delivery.email(user_id)
    queued_at = clock.now()

    delivery.work()

    message = delivery.message(message_id)
    assert delivery.smtp.refused == 1 and delivery.smtp.messages == []
    assert (message.status, message.attempts) == ("pending", 1)
    assert "451" in message.last_error and "Try again later" in message.last_error
    assert message.next_attempt_at >= queued_at + mail.backoff(1)
    [retry] = delivery.scheduled()
    assert retry.args == ("deliver_email", message_id)
    assert delivery.queued() == []

    # The server would take it now, but the backoff has not passed: rq holds the retry back,
    # and a restarted worker's sweep finds nothing due.
    delivery.smtp.refusing = False
    delivery.work()
    assert delivery.smtp.messages == []
    assert [job.id for job in delivery.scheduled()] == [retry.id]

    # The backoff passes: the scheduler moves the retry onto the queue and it sends.
    delivery.make_due(retry)
    with clock.frozen_at(message.next_attempt_at + timedelta(seconds=1)):
        assert delivery.work(sweep=False) is True

    assert retry.return_value(refresh=True) == "sent"
    [received] = delivery.smtp.messages
    assert received["To"] == address
    message = delivery.message(message_id)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert delivery.scheduled() == []

    with clock.frozen_at(message.next_attempt_at + timedelta(hours=1)):
        delivery.work()
    assert len(delivery.smtp.messages) == 1


def test_a_retry_whose_job_was_lost_is_swept_up_by_the_next_worker(delivery):
    user_id, address = delivery.user()
    delivery.smtp.refusing = True
    message_id = delivery.email(user_id)
    delivery.work()
    due = delivery.message(message_id).next_attempt_at
    # Redis lost the delayed job (flushed, or failed over without it).
    delivery.redis.flushdb()
    delivery.smtp.refusing = False

    with clock.frozen_at(due + timedelta(seconds=1)):
        result = start_worker_command(delivery.app)

    assert result.exit_code == 0, result.output
    assert [m["To"] for m in delivery.smtp.messages] == [address]
    assert delivery.message(message_id).status == "sent"


# --- a worker that dies ------------------------------------------------------------------------


def claim_then_die(delivery, message_id: int) -> None:
    """What a worker that crashes mid-send leaves: its job gone from the queue with it, the
    message claimed (`sending`), nothing sent."""
    delivery.queue.empty()
    with delivery.app.app_context():
        assert mail._claim(message_id) is True


def test_a_worker_that_died_before_sending_is_finished_by_the_next_one_exactly_once(delivery):
    user_id, address = delivery.user()
    message_id = delivery.email(user_id)
    claim_then_die(delivery, message_id)
    assert delivery.message(message_id).status == "sending"

    # Restarted at once, the claim may still be a slow worker's: it is left alone.
    restarted = start_worker_command(delivery.app)
    assert restarted.exit_code == 0, restarted.output
    assert delivery.smtp.messages == []
    assert delivery.message(message_id).status == "sending"

    # Once the claim is stale the worker that owned it is taken to be gone: a restart sends it.
    with clock.frozen_at(clock.now() + mail.STALE_CLAIM + timedelta(minutes=1)):
        restarted = start_worker_command(delivery.app)

    assert restarted.exit_code == 0, restarted.output
    assert [m["To"] for m in delivery.smtp.messages] == [address]
    message = delivery.message(message_id)
    assert (message.status, message.attempts) == ("sent", 2)


def test_a_job_run_again_after_it_finished_sends_nothing_more(delivery):
    """A worker that dies after the send but before rq records the job as finished has rq run
    it again; a duplicated job does the same. Both find the message sent."""
    user_id, address = delivery.user()
    message_id = delivery.email(user_id)
    [original] = delivery.queue.get_jobs()
    delivery.work()
    assert len(delivery.smtp.messages) == 1

    delivery.queue.enqueue_job(original)
    duplicates = [delivery.enqueue_again(message_id) for _ in range(2)]
    delivery.work()

    assert [job.return_value(refresh=True) for job in duplicates] == ["skipped", "skipped"]
    assert original.return_value(refresh=True) == "skipped"
    assert [m["To"] for m in delivery.smtp.messages] == [address]
    assert delivery.message(message_id).attempts == 1


def test_a_worker_that_died_after_the_server_took_the_message_resends_it_with_the_same_id(
    delivery,
):
    """The one window left: the server accepted the message and the worker died before it
    could record that. Its successor sends it again (SMTP has no way to ask whether a message
    arrived), under the same Message-ID, so the receiving side can tell it is one message."""
    user_id, address = delivery.user()
    message_id = delivery.email(user_id)
    claim_then_die(delivery, message_id)
    with delivery.app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        mail.transport(mail.as_email(message))
        db.session.rollback()

    with clock.frozen_at(clock.now() + mail.STALE_CLAIM + timedelta(minutes=1)):
        start_worker_command(delivery.app)

    first, second = delivery.smtp.to(address)
    assert first["Message-ID"] == second["Message-ID"] == delivery.message(message_id).message_id
    assert delivery.message(message_id).status == "sent"


# --- rolled back -------------------------------------------------------------------------------


def test_a_change_that_rolls_back_queues_nothing_and_sends_nothing(delivery):
    user_id, address = delivery.user()
    with delivery.app.test_request_context():
        auth_services.request_password_reset(address)
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 1
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0

    assert delivery.queued() == [] and delivery.scheduled() == []
    assert delivery.work() is False
    assert delivery.smtp.messages == []


# --- a release, end to end ---------------------------------------------------------------------


def test_with_redis_a_release_through_the_api_reaches_the_learners_once_the_worker_runs(delivery):
    app = delivery.app
    with app.app_context():
        make = Factories(app)
        cohort = make.cohort()
        learners = [make.learner_in(cohort) for _ in range(2)]
        tutor = make.user("tutor", scope=cohort)
        assignment = make.assignment(cohort, title="Benefits realisation plan")
        for learner in learners:
            marking.save_mark(
                make.submission(assignment, learner), actor=tutor, expected_version=0, mark=64
            )
        db.session.commit()
        addresses = sorted(learner.email for learner in learners)
        assignment_id = assignment.id
        as_tutor = ApiClient(app.test_client(), make.token_for(tutor))
        db.session.remove()

    response = as_tutor.post(f"assignments/{assignment_id}/release")

    assert response.status_code == 200 and response.get_json() == {"released": 2}
    assert delivery.smtp.messages == []  # the request only queued them
    delivery.work()
    notices = [m for m in delivery.smtp.messages if m["Subject"].startswith("Your mark is ready")]
    assert sorted(m["To"] for m in notices) == addresses
    assert all("Benefits realisation plan" in m["Subject"] for m in notices)


# --- the command -------------------------------------------------------------------------------


def test_the_worker_command_refuses_without_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)

    result = start_worker_command(app)

    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output


def test_the_worker_command_says_when_redis_cannot_be_reached(app, monkeypatch):
    from tests.notifications.conftest import free_port

    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")

    result = start_worker_command(app)

    assert result.exit_code != 0
    assert "Cannot reach Redis" in result.output
