"""The outbox with no Redis (the embedded default): the message is a row committed with the
change, its delivery job runs in-process once the request has committed, and delivery is a
no-op for anything not waiting to go."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.core import jobs
from academy.extensions import db
from academy.notifications import mail
from academy.notifications.models import OutboxMessage


@pytest.fixture(autouse=True)
def no_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def queue_reset(user, **options):
    return mail.send_email(
        user.email,
        "Reset your Digital Academy password",
        "password_reset",
        user=user,
        link="https://academy.test/reset/token",
        hours=2,
        **options,
    )


def messages_to(address: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).filter_by(recipient=address)))


def test_a_rolled_back_change_leaves_no_message_and_no_job(make, ctx, app):
    user = make.user()

    queue_reset(user)
    db.session.rollback()

    assert messages_to(user.email) == []
    assert jobs.run_ready() == 0
    assert mail.sent_messages(app) == []


def test_a_committed_message_is_sent_once_by_its_job(make, ctx, app):
    user = make.user()

    message = queue_reset(user)
    db.session.commit()

    assert mail.sent_messages(app) == []  # nothing goes before the job runs
    assert jobs.run_ready() == 1
    assert [m["To"] for m in mail.sent_messages(app)] == [user.email]
    assert mail.deliver(message.id) == "skipped"
    assert len(mail.sent_messages(app)) == 1


def test_a_second_message_with_the_same_idempotency_key_is_never_queued(make, ctx, app):
    user = make.user()
    first = queue_reset(user, idempotency_key="reminder:1:3-days")
    db.session.commit()

    second = queue_reset(user, idempotency_key="reminder:1:3-days")
    db.session.commit()
    jobs.run_ready()

    assert first is not None and second is None
    assert [m.id for m in messages_to(user.email)] == [first.id]
    assert len(mail.sent_messages(app)) == 1


def test_delivering_a_missing_message_does_nothing(ctx, app):
    missing = (db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0) + 1

    assert mail.deliver(missing) == "skipped"
    assert mail.sent_messages(app) == []


def test_delivering_a_message_already_sent_does_nothing(make, ctx, app):
    message = queue_reset(make.user())
    db.session.commit()
    jobs.run_ready()
    sent_at = db.session.get(OutboxMessage, message.id, populate_existing=True).sent_at

    assert mail.deliver(message.id) == "skipped"

    message = db.session.get(OutboxMessage, message.id, populate_existing=True)
    assert (message.status, message.attempts, message.sent_at) == ("sent", 1, sent_at)
    assert len(mail.sent_messages(app)) == 1


def test_without_redis_a_release_request_sends_the_learners_their_notices(make, api, app):
    cohort = make.cohort()
    learners = [make.learner_in(cohort) for _ in range(2)]
    tutor = make.user("tutor", scope=cohort)
    assignment = make.assignment(cohort, title="Digital maturity assessment")
    for learner in learners:
        submission = make.submission(assignment, learner)
        api(tutor).put(f"submissions/{submission.id}/mark", json={"version": 0, "mark": 58})

    response = api(tutor).post(f"assignments/{assignment.id}/release")

    assert response.status_code == 200 and response.get_json() == {"released": 2}
    # Sent by the request itself, after its commit: no worker, no test helper ran the jobs.
    notices = [m for m in mail.sent_messages(app) if m["Subject"].startswith("Your mark is ready")]
    assert sorted(m["To"] for m in notices) == sorted(learner.email for learner in learners)
    assert {m.status for learner in learners for m in messages_to(learner.email)} == {"sent"}
