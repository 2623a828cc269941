from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime
from academy.extensions import db

#: pending (waiting for its first or next attempt) → sending (a worker has claimed it) → sent;
#: or failed, after the last attempt, until an admin retries it.
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(TimestampMixin, db.Model):
    """An email, written in the same transaction as the change that caused it and sent by a job
    after the commit: a rolled-back change sends nothing, and a failed send is retried."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One message per key, ever: a reminder or a retried job can never send twice.
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    recipient: Mapped[str] = mapped_column(sa.String(254), nullable=False, index=True)
    #: The user it is for, when it is for one (preferences and the admin page use it).
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    #: The template under templates/email/, and the category preferences are checked against.
    template: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    category: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="essential")
    #: Plain values describing what the message is about (ids, titles), for the admin page.
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)
    #: Rendered when queued, so what is sent is what the change described at the time.
    text_body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    #: [{"name", "mimetype", "sha256"}]: the bytes are kept in file storage.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default="pending", index=True
    )
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=clock.now, index=True
    )
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: The Message-ID header: the same on every attempt, so a receiving server that saw an
    #: earlier attempt arrive can tell.
    message_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name="status_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.template} to {self.recipient} {self.status}>"
