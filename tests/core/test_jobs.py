"""Jobs start only after the change that queued them commits; Redis being down at that moment
does not turn a committed change into an error (the outbox sweep queues its emails later)."""

import socket

import sqlalchemy as sa

from academy.core import jobs
from academy.extensions import db
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_committed_change_stands_when_redis_is_down(app, make, monkeypatch, ctx):
    user = make.user("learner")
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    send_email(user.email, "Hello", "password_reset", user=user, link="https://academy.test/x")
    db.session.commit()  # must not raise
    (message,) = db.session.scalars(sa.select(OutboxMessage)).all()
    assert message.status == "pending" and message.attempts == 0


def test_rolled_back_jobs_never_run(make, outbox, ctx):
    user = make.user("learner")
    send_email(user.email, "Hello", "password_reset", user=user, link="https://academy.test/x")
    db.session.rollback()
    assert jobs.run_ready() == 0
    assert list(outbox) == []
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
