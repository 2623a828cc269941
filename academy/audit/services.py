"""Recording audit events. Callers pass the actor; the request layer sets where it came from."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from academy.audit import chain
from academy.audit.models import AuditEvent
from academy.auth.models import User
from academy.core import calendar, clock
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
    event_id, previous_hash = chain.claim_next_link()
    content = {
        "id": event_id,
        "action": action,
        "actor_id": getattr(actor, "id", None),
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "before": chain.plain_json(before),
        "after": chain.plain_json(after),
        "ip_address": ip_address or origin_ip.get(),
        "occurred_at": clock.now(),
        "previous_hash": previous_hash,
    }
    event = AuditEvent(**content, hash=chain.event_hash(**content))
    db.session.add(event)
    db.session.flush()
    return event


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, old and new, so history rows stay readable."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def search_events(
    *,
    action: str | None = None,
    actor_email: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> sa.Select:
    """Events matching every filter given, newest first, joined to their actors (outer), so a
    caller may add `User.email` as a column.

    `action` matches from the start, so `role.` finds every role change; the actor's email
    matches any part, ignoring case; object type and id match exactly; the dates are UK days,
    both included."""
    stmt = (
        sa.select(AuditEvent)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.id.desc())
    )
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action.strip().lower(), autoescape=True))
    if actor_email:
        # Emails are stored lower-case.
        stmt = stmt.where(User.email.contains(actor_email.strip().lower(), autoescape=True))
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type.strip())
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id.strip())
    if date_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= _uk_day_start(date_from))
    if date_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < _uk_day_start(date_to + timedelta(days=1)))
    return stmt


def _uk_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=calendar.UK_TIME)


def actor_emails(events) -> dict[int, str]:
    """The email of each actor of `events`, in one query."""
    ids = {event.actor_id for event in events if event.actor_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.email).where(User.id.in_(ids))).all())


def record_export(what: str, *, actor, obj=None, **details) -> AuditEvent:
    """A bulk download of people's data (a trust's staff report, a gradebook, the audit log):
    who took which data, and when, is what a trust's information governance lead asks first.
    The caller commits before streaming, so the record stands even if the download is cut off."""
    return record("data.export", actor=actor, obj=obj, after={"export": what, **details})
