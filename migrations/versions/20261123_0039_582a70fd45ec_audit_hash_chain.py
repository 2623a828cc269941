"""audit hash chain

Events recorded before this revision are chained here, in id order, so the whole log is covered
and both hash columns can be NOT NULL: verification never has to guess where the chain starts.
(It proves nothing about those events before today, only that none changes from now on.)

The hashing is a frozen copy of academy.audit.chain.event_hash as it was at this revision, so
later changes to the app cannot change what this migration writes.

Revision ID: 582a70fd45ec
Revises: dfecdba70e62
Create Date: 2026-11-23 00:39:53.168160

"""

import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "582a70fd45ec"
down_revision = "dfecdba70e62"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
BATCH = 1000

audit_event = sa.table(
    "audit_event",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
    sa.column("ip_address", sa.String),
    sa.column("previous_hash", sa.String),
    sa.column("hash", sa.String),
)


def _event_hash(row, previous_hash):
    occurred_at = row.occurred_at
    # SQLite hands back the stored UTC time without its zone.
    occurred_at = occurred_at.replace(tzinfo=UTC) if occurred_at.tzinfo is None else occurred_at
    content = {
        "id": row.id,
        "action": row.action,
        "actor_id": row.actor_id,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "before": row.before,
        "after": row.after,
        "ip_address": row.ip_address,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "previous_hash": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _chain_existing_events():
    connection = op.get_bind()
    previous_hash = GENESIS_HASH
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(audit_event)
            .where(audit_event.c.id > last_id)
            .order_by(audit_event.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            event_hash = _event_hash(row, previous_hash)
            connection.execute(
                audit_event.update()
                .where(audit_event.c.id == row.id)
                .values(previous_hash=previous_hash, hash=event_hash)
            )
            previous_hash = event_hash
            last_id = row.id


def upgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    _chain_existing_events()

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("previous_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_hash"), ["hash"])


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_hash"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("previous_hash")
