"""Recording audit events. Callers pass the actor; the request layer sets where it came from."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from academy.audit.models import AuditEvent
from academy.extensions import db

#: Set by the request (or left unset by CLI commands and jobs) so services need not see `request`.
origin_ip: ContextVar[str | None] = ContextVar("audit_origin_ip", default=None)


def record(
    action: str,
    *,
    actor=None,
    obj=None,
    object_type: str | None = None,
    object_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        ip_address=ip_address or origin_ip.get(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, old and new, so history rows stay readable."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
