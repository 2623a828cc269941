"""Delivery over real SMTP (an aiosmtpd server started by the tests), with no Redis: what the
server receives, and what happens when it refuses or cannot be reached: backoff, a retry that
goes once, and "failed" after the last attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from academy.core import clock, jobs
from academy.extensions import db
from academy.notifications import mail
from academy.notifications.models import OutboxMessage
from tests.notifications.conftest import free_port

pytestmark = pytest.mark.usefixtures("smtp_config")

MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def queue_reset(user, **options) -> OutboxMessage:
    message = mail.send_email(
        user.email,
        "Reset your Digital Academy password",
        "password_reset",
        user=user,
        link="https://academy.test/reset/token",
        hours=2,
        **options,
    )
    db.session.commit()
    return message


def reloaded(message: OutboxMessage) -> OutboxMessage:
    return db.session.get(OutboxMessage, message.id, populate_existing=True)


def test_the_server_receives_text_html_and_attachments_as_queued(make, ctx, smtp, app):
    user = make.user(name="Dr Ife Okafor")
    report = "Trust,Learners\nLeeds Teaching Hospitals – £ test,3\n".encode()

    message = queue_reset(user, attachments=[("learners.csv", "text/csv", report)])
    jobs.run_ready()

    [received] = smtp.messages
    assert received["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert received["To"] == user.email
    assert received["Subject"] == "Reset your Digital Academy password"
    assert received["Message-ID"] == message.message_id
    assert "Dear Dr Ife Okafor" in received.get_body(("plain",)).get_content()
    assert "https://academy.test/reset/token" in received.get_body(("html",)).get_content()
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "learners.csv"
    assert attachment.get_content() == report.decode()
    assert reloaded(message).status == "sent"


def test_a_refused_message_waits_for_its_backoff_then_goes_once(make, ctx, smtp):
    user = make.user()
    smtp.refusing = True
    with clock.frozen_at(MOMENT):
        message = queue_reset(user)
        jobs.run_ready()

    message = reloaded(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.last_error.startswith("SMTPDataError") and "451" in message.last_error
    assert message.next_attempt_at == MOMENT + mail.backoff(1)
    assert smtp.refused == 1 and smtp.messages == []

    smtp.refusing = False
    with clock.frozen_at(MOMENT + mail.backoff(1) - timedelta(seconds=1)):
        assert mail.due_messages() == []
        assert mail.deliver(message.id) == "skipped"
    assert smtp.messages == []

    with clock.frozen_at(MOMENT + mail.backoff(1)):
        assert mail.due_messages() == [message.id]
        assert mail.sweep() == 1
        db.session.commit()
        assert jobs.run_ready() == 1

    [received] = smtp.messages
    assert received["To"] == user.email
    message = reloaded(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert mail.deliver(message.id) == "skipped"
    assert len(smtp.messages) == 1


def test_a_message_that_keeps_failing_ends_failed_with_its_last_error(make, ctx, smtp):
    user = make.user()
    admin = make.user("admin")
    smtp.refusing = True
    moment = MOMENT
    with clock.frozen_at(moment):
        message = queue_reset(user)
        jobs.run_ready()
    outcomes = []
    for _ in range(mail.MAX_ATTEMPTS - 1):
        moment = reloaded(message).next_attempt_at
        with clock.frozen_at(moment):
            outcomes.append(mail.deliver(message.id))

    assert outcomes == ["retry"] * (mail.MAX_ATTEMPTS - 2) + ["failed"]
    message = reloaded(message)
    assert (message.status, message.attempts) == ("failed", mail.MAX_ATTEMPTS)
    assert "451" in message.last_error
    assert smtp.refused == mail.MAX_ATTEMPTS and smtp.messages == []
    # Left for an admin: no sweep picks a failed message up again.
    with clock.frozen_at(moment + timedelta(days=30)):
        assert mail.due_messages() == []
        assert mail.deliver(message.id) == "skipped"

    smtp.refusing = False
    mail.retry(message, actor=admin)
    db.session.commit()
    jobs.run_ready()

    assert [m["To"] for m in smtp.messages] == [user.email]
    assert reloaded(message).status == "sent"


def test_a_server_that_cannot_be_reached_is_retried_like_a_refusal(
    make, ctx, smtp, app, monkeypatch
):
    user = make.user()
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())

    message = queue_reset(user)
    jobs.run_ready()

    message = reloaded(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.last_error.startswith("ConnectionRefusedError")
    assert smtp.messages == []
