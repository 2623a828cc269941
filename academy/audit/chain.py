"""The audit log as a hash chain: each event's hash covers its own content and the hash of the
event before it, so editing, deleting or reordering a stored event shows up when the chain is
recomputed. It cannot show the newest events being cut off the end; only a copy of the latest
hash kept elsewhere could.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db

GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL advisory lock that queues appends to the chain ("audit" in ASCII).
APPEND_LOCK_KEY = 0x6175646974
VERIFY_BATCH = 1000


def plain_json(value: Any) -> Any:
    """`value` as it reads back from a JSON column (string keys, lists for tuples), so the hash
    taken before the insert matches the one recomputed from the stored row."""
    return None if value is None else json.loads(json.dumps(value))


def event_hash(
    *,
    id: int,
    action: str,
    actor_id: int | None,
    object_type: str | None,
    object_id: str | None,
    before: Any,
    after: Any,
    ip_address: str | None,
    occurred_at: datetime,
    previous_hash: str,
) -> str:
    content = {
        "id": id,
        "action": action,
        "actor_id": actor_id,
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
        "ip_address": ip_address,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "previous_hash": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim_next_link() -> tuple[int, str]:
    """The id and previous hash for a new event, holding the chain until this transaction ends.

    Two transactions must never both chain onto the same last event, and ids must rise in chain
    order, so the lock is taken before the last event is read and the id is drawn under it. On
    SQLite the app opens every transaction with BEGIN IMMEDIATE, which already serialises writers.
    """
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_KEY)))
    last = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    if postgres:
        next_id = db.session.execute(
            sa.text("SELECT nextval(pg_get_serial_sequence('audit_event', 'id'))")
        ).scalar_one()
    else:
        next_id = (last.id if last else 0) + 1
    return next_id, (last.hash if last else GENESIS_HASH)


@dataclass(frozen=True)
class ChainStatus:
    checked: int
    #: The first event whose stored hashes do not match the chain, or None when intact.
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def describe(self) -> str:
        if self.intact:
            return f"chain intact: {self.checked} events"
        return f"chain broken at event {self.broken_at}: {self.reason}"


def verify_chain() -> ChainStatus:
    """Walk every event in id order, recomputing each hash, and report the first break. Rows are
    read as plain tuples in batches, so a long log is neither held in the session nor stale."""
    table = AuditEvent.__table__
    previous_hash = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        batch = db.session.execute(
            sa.select(table).where(table.c.id > last_id).order_by(table.c.id).limit(VERIFY_BATCH)
        ).all()
        if not batch:
            return ChainStatus(checked)
        for row in batch:
            if row.previous_hash != previous_hash:
                return ChainStatus(
                    checked,
                    row.id,
                    "it does not follow the event before it "
                    "(an event was removed, added or reordered)",
                )
            content = {
                name: getattr(row, name)
                for name in (
                    "id",
                    "action",
                    "actor_id",
                    "object_type",
                    "object_id",
                    "before",
                    "after",
                    "ip_address",
                    "occurred_at",
                    "previous_hash",
                )
            }
            if event_hash(**content) != row.hash:
                return ChainStatus(checked, row.id, "its content does not match its hash")
            previous_hash = row.hash
            checked += 1
            last_id = row.id
