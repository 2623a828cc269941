"""Events recorded before the hash chain existed are chained by its migration, in id order."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from academy import create_app
from academy.audit import services as audit
from academy.audit.chain import verify_chain
from academy.extensions import db
from tests.dbutil import drop_database, fresh_database_url

BEFORE_THE_CHAIN = "dfecdba70e62"


@pytest.mark.no_db
def test_existing_events_are_chained_by_the_migration(tmp_path):
    url = fresh_database_url("audit_chain_migration", tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    try:
        with app.app_context():
            upgrade(revision=BEFORE_THE_CHAIN)
            old_events = sa.table(
                "audit_event",
                sa.column("occurred_at", sa.DateTime(timezone=True)),
                sa.column("action", sa.String),
                sa.column("object_type", sa.String),
                sa.column("object_id", sa.String),
                sa.column("after", sa.JSON),
            )
            with db.engine.begin() as connection:
                connection.execute(
                    old_events.insert(),
                    [
                        {
                            "occurred_at": datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC),
                            "action": "user.create",
                            "object_type": "user",
                            "object_id": "1",
                            "after": {"email": "zoë@example.nhs.uk"},
                        },
                        {
                            "occurred_at": datetime(2026, 11, 2, tzinfo=UTC),
                            "action": "role.grant",
                            "object_type": None,
                            "object_id": None,
                            "after": None,
                        },
                    ],
                )
            upgrade()
            assert verify_chain().describe() == "chain intact: 2 events"
            # New events carry on from the migrated ones.
            audit.record("user.update", object_type="user", object_id=1)
            db.session.commit()
            assert verify_chain().describe() == "chain intact: 3 events"
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(url)
