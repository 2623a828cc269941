from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from academy.core import clock
from academy.core.models import UTCDateTime
from academy.extensions import db


class AuditEvent(db.Model):
    """Who did what to which object, when and from where. Rows are only ever inserted."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock.now, nullable=False, index=True
    )
    #: Null for the system itself, or for a failed sign-in by an unknown email.
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    #: Dotted verb such as `user.create`, `role.grant`, `auth.login_failed`.
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    #: The hash of the event before this one (GENESIS_HASH for the first), so removing or
    #: reordering rows breaks the chain as surely as editing one.
    previous_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: SHA-256 of this event's canonical content and `previous_hash`; see academy.audit.chain.
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)

    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.object_type}:{self.object_id}>"


class AuditIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_changes(mapper, connection, target):
    raise AuditIsAppendOnly("audit events are append-only")
