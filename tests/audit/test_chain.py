"""The audit log's hash chain: intact logs verify; an edited, removed or reordered event is named;
appends at the same instant on a real database still form one chain."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit import services as audit
from academy.audit.chain import GENESIS_HASH, event_hash, verify_chain
from academy.audit.models import AuditEvent
from academy.extensions import db
from tests.concurrency import committed_app, run_together  # noqa: F401 - a fixture
from tests.factories import Factories


def _record_three(make):
    admin = make.user("admin")
    first = audit.record(
        "user.create", actor=admin, obj=admin, after={"email": "a@example.nhs.uk", "n": (1, 2)}
    )
    second = audit.record("role.grant", actor=admin, object_type="user", object_id=7)
    third = audit.record("auth.login_failed", ip_address="192.0.2.1", after={1: "key"})
    db.session.commit()
    return first, second, third


def _raw(statement: str, **params) -> None:
    # Straight to the table, as someone with database access would, past the ORM's refusal.
    db.session.execute(sa.text(statement), params)
    db.session.commit()
    db.session.expire_all()


def _cli(app):
    return app.test_cli_runner().invoke(args=["academy", "audit", "verify"])


def test_events_chain_onto_each_other_and_verify(make, ctx):
    before = verify_chain().checked
    first, second, third = _record_three(make)
    assert second.previous_hash == first.hash
    assert third.previous_hash == second.hash
    assert first.id < second.id < third.id
    status = verify_chain()
    assert status.intact
    assert status.checked == before + 3


def test_the_first_event_follows_the_genesis_hash(ctx):
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0
    event = audit.record("system.start")
    assert event.previous_hash == GENESIS_HASH


def test_an_edited_event_is_named(make, ctx, app):
    first, second, third = _record_three(make)
    _raw("UPDATE audit_event SET object_id = '8' WHERE id = :id", id=second.id)
    status = verify_chain()
    assert not status.intact
    assert status.broken_at == second.id
    assert "content" in status.reason


def test_an_event_edited_with_its_hash_recomputed_breaks_the_next_link(make, ctx):
    first, second, third = _record_three(make)
    forged = event_hash(
        id=second.id,
        action="role.revoke",
        actor_id=second.actor_id,
        object_type=second.object_type,
        object_id=second.object_id,
        before=second.before,
        after=second.after,
        ip_address=second.ip_address,
        occurred_at=second.occurred_at,
        previous_hash=second.previous_hash,
    )
    _raw(
        "UPDATE audit_event SET action = 'role.revoke', hash = :forged WHERE id = :id",
        forged=forged,
        id=second.id,
    )
    status = verify_chain()
    assert status.broken_at == third.id
    assert "removed, added or reordered" in status.reason


def test_a_removed_event_breaks_the_chain_at_the_next_one(make, ctx):
    first, second, third = _record_three(make)
    _raw("DELETE FROM audit_event WHERE id = :id", id=second.id)
    status = verify_chain()
    assert status.broken_at == third.id
    assert "removed" in status.reason


def test_reordered_events_are_named(make, ctx):
    second_id, third_id = (event.id for event in _record_three(make)[1:])
    # Swap the two events' places in the log: each keeps its content and hashes.
    _raw("UPDATE audit_event SET id = -1 WHERE id = :id", id=second_id)
    _raw("UPDATE audit_event SET id = :new WHERE id = :old", new=second_id, old=third_id)
    _raw("UPDATE audit_event SET id = :new WHERE id = -1", new=third_id)
    status = verify_chain()
    assert status.broken_at == second_id
    assert "reordered" in status.reason


def test_the_command_reports_an_intact_chain(make, app, ctx):
    _record_three(make)
    count = verify_chain().checked
    result = _cli(app)
    assert result.exit_code == 0, result.output
    assert f"chain intact: {count} events" in result.output


def test_the_command_fails_naming_the_broken_event(make, app, ctx):
    first, second, third = _record_three(make)
    _raw("UPDATE audit_event SET after = NULL WHERE id = :id", id=first.id)
    result = _cli(app)
    assert result.exit_code == 1
    assert f"chain broken at event {first.id}" in result.output


def _record_many(app, actor_id, count):
    with app.app_context():
        for index in range(count):
            audit.record(
                "concurrency.test", object_type="user", object_id=actor_id, after={"n": index}
            )
            db.session.commit()
        db.session.remove()


@pytest.mark.no_db
def test_events_recorded_at_the_same_instant_form_one_chain(committed_app):  # noqa: F811
    app = committed_app
    with app.app_context():
        actors = [Factories(app).user().id for _ in range(4)]
        db.session.remove()
    run_together(*[lambda a=a: _record_many(app, a, 5) for a in actors])
    with app.app_context():
        status = verify_chain()
        recorded = db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "concurrency.test")
        )
        db.session.remove()
    assert recorded == 20
    assert status.intact, status.describe()
