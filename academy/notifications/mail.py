"""Email through an outbox. `send_email` renders the message and writes it as a row in the
current transaction; after the commit a job (`deliver_email`) sends it through the configured
transport (console, file, SMTP, or memory for tests), retrying with backoff, and marks it sent.
So a change that rolls back sends nothing, a failed send is not lost, and the same message (by its
idempotency key) is never queued twice."""

from __future__ import annotations

import io
import logging
import smtplib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, render_template

from academy.core import clock, jobs
from academy.extensions import db
from academy.notifications.models import OutboxMessage
from academy.notifications.preferences import ESSENTIAL, wants

log = logging.getLogger(__name__)

#: (file name, MIME type such as "text/csv", content)
Attachment = tuple[str, str, bytes]
#: Attempts before a message is left as failed for an admin to look at.
MAX_ATTEMPTS = 6
#: A claim older than this is taken to be from a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=15)
ATTACHMENT_MAX_MB = 20


def backoff(attempts: int) -> timedelta:
    """1, 5, 25 minutes, then 2 hours, ... after the first, second, third failure."""
    return timedelta(minutes=min(5 ** (attempts - 1), 24 * 60))


def _recipient_user(to: str, context: dict):
    user = context.get("user")
    return user if getattr(user, "email", None) == to else None


def _describe(context: dict) -> dict:
    """Plain values from the template context, for the admin page: ids and short text."""
    described = {}
    for key, value in context.items():
        if isinstance(value, str | int | float | bool) or value is None:
            described[key] = value if not isinstance(value, str) else value[:200]
        elif hasattr(value, "id") and hasattr(value, "__tablename__"):
            described[f"{key}_id"] = value.id
    return described


def send_email(
    to: str,
    subject: str,
    template: str,
    *,
    attachments: Sequence[Attachment] = (),
    category: str = ESSENTIAL,
    idempotency_key: str | None = None,
    **context,
) -> OutboxMessage | None:
    """Queue `templates/email/<template>.txt` (and `.html` when present) for `to`, with any
    `attachments`. Nothing is queued when the recipient has turned this `category` off, or when
    a message with the same `idempotency_key` was queued before (a reminder already sent)."""
    user = _recipient_user(to, context)
    if not wants(user, category):
        log.info("not sending %s to %s: they turned %s off", template, to, category)
        return None
    key = idempotency_key or f"once:{uuid.uuid4()}"
    if idempotency_key and db.session.scalar(
        sa.select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    ):
        return None
    html_template = f"email/{template}.html"
    stored = []
    for name, mimetype, content in attachments:
        from academy.core.storage import storage

        blob = storage().save(io.BytesIO(content), max_size=ATTACHMENT_MAX_MB * 1024 * 1024)
        stored.append({"name": name, "mimetype": mimetype, "sha256": blob.sha256})
    message = OutboxMessage(
        idempotency_key=key,
        recipient=to,
        user_id=getattr(user, "id", None),
        subject=subject,
        template=template,
        category=category,
        context=_describe(context),
        text_body=render_template(f"email/{template}.txt", **context),
        html_body=(
            render_template(html_template, **context)
            if html_template in current_app.jinja_env.list_templates()
            else None
        ),
        attachments=stored,
        message_id=make_msgid(domain="academy"),
    )
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except sa.exc.IntegrityError:
        # Queued by a concurrent run a moment ago: that one goes, this one is not needed.
        return None
    jobs.enqueue("deliver_email", message.id)
    return message


def as_email(message: OutboxMessage) -> EmailMessage:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    if message.attachments:
        from academy.core.storage import storage

        for attachment in message.attachments:
            with storage().open(attachment["sha256"]) as handle:
                content = handle.read()
            maintype, _, subtype = attachment["mimetype"].partition("/")
            # Text attachments are UTF-8; without saying so, readers assume ASCII.
            params = {"charset": "utf-8"} if maintype == "text" else {}
            email.add_attachment(
                content,
                maintype=maintype,
                subtype=subtype,
                filename=attachment["name"],
                params=params,
            )
    return email


def transport(email: EmailMessage, template: str = "message") -> None:
    """Hand one message to the configured backend; raises when it could not."""
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "memory":
        current_app.extensions.setdefault("academy_outbox", []).append(email)
    elif backend == "file":
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%f")
        (folder / f"{stamp}-{template}.eml").write_bytes(bytes(email))
    elif backend == "smtp":
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(email)
    else:
        print(f"\n--- email to {email['To']}: {email['Subject']} ---\n"
              f"{email.get_body(('plain',)).get_content()}")  # fmt: skip


def _claim(message_id: int) -> bool:
    """Take the message for this worker: a conditional UPDATE, so two workers (or a retried
    job and the sweeper) never both send it."""
    now = clock.now()
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            sa.or_(
                # A first attempt goes at once, whatever this node's clock says of when it
                # was queued; retries wait for their backoff.
                sa.and_(
                    OutboxMessage.status == "pending",
                    sa.or_(OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at <= now),
                ),
                sa.and_(
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_at < now - STALE_CLAIM,
                ),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


@jobs.job("deliver_email")
def deliver(message_id: int) -> str:
    """Send one queued message, once. Returns what happened: sent, retry, failed or skipped
    (already sent, or claimed by another worker, or not due yet)."""
    if not _claim(message_id):
        return "skipped"
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    try:
        transport(as_email(message), message.template)
    except Exception as error:  # noqa: BLE001 - any transport failure is retried the same way
        log.warning(
            "sending message %s failed (attempt %s): %s", message.id, message.attempts, error
        )
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        message.claimed_at = None
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            db.session.commit()
            return "failed"
        delay = backoff(message.attempts)
        message.status = "pending"
        message.next_attempt_at = clock.now() + delay
        jobs.enqueue("deliver_email", message.id, delay=delay)
        db.session.commit()
        return "retry"
    message.status = "sent"
    message.sent_at = clock.now()
    message.last_error = ""
    db.session.commit()
    return "sent"


def due_messages(limit: int = 500) -> list[int]:
    """Messages a sweep should try now: pending and due, or claimed by a worker long gone."""
    now = clock.now()
    return list(
        db.session.scalars(
            sa.select(OutboxMessage.id)
            .where(
                sa.or_(
                    sa.and_(
                        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
                    ),
                    sa.and_(
                        OutboxMessage.status == "sending",
                        OutboxMessage.claimed_at < now - STALE_CLAIM,
                    ),
                )
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def sweep() -> int:
    """Queue every message that is due (after a failure's backoff, or a crashed worker).
    Called by `run-scheduled`; idempotent, since delivery claims each message."""
    due = due_messages()
    for message_id in due:
        jobs.enqueue("deliver_email", message_id)
    return len(due)


def retry(message: OutboxMessage, *, actor) -> OutboxMessage:
    """An admin's "try again" on a failed message."""
    from academy.audit import services as audit
    from academy.core.errors import Conflict

    if message.status not in ("failed", "pending"):
        raise Conflict("Only a failed or waiting message can be retried")
    message.status = "pending"
    message.next_attempt_at = clock.now()
    message.attempts = min(message.attempts, MAX_ATTEMPTS - 1)
    db.session.flush()
    audit.record("outbox.retry", actor=actor, obj=message, after={"status": "pending"})
    jobs.enqueue("deliver_email", message.id)
    return message


def sent_messages(app) -> list[EmailMessage]:
    """Messages the `memory` transport has handed over (tests)."""
    return app.extensions.setdefault("academy_outbox", [])
