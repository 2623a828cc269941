"""The CPD entry services: every rule for what an entry may hold, cleaning of control
characters, stale versions refused with the current state, and every change audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.cpd import services
from academy.cpd.models import CpdEntry
from academy.extensions import db

VALID = {
    "title": "NHS ConfedExpo 2027",
    "activity_type": "conference",
    "provider": "NHS Confederation",
    "started_on": date(2027, 5, 10),
    "ended_on": date(2027, 5, 11),
    "hours": "12.5",
    "reflection": "Heard how three trusts ran their EPR go-lives.",
}


def add(user, **changes):
    return services.add_entry(user, actor=user, **{**VALID, **changes})


def refused(user, field: str, **changes) -> str:
    with pytest.raises(DomainError) as caught:
        add(user, **changes)
    assert caught.value.field == field
    assert caught.value.status == 422
    db.session.rollback()
    return caught.value.message


def entries() -> list[CpdEntry]:
    return db.session.scalars(sa.select(CpdEntry)).all()


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.fixture
def person(make):
    return make.user("learner")


def test_an_entry_is_saved_cleaned_and_audited_without_the_reflection_text(ctx, person):
    entry = add(person, title="  NHS\x00 ConfedExpo\t2027\n ", hours=Decimal("12.5"))
    db.session.commit()
    assert entry.title == "NHS ConfedExpo2027"
    assert entry.hours == Decimal("12.5")
    assert entry.version == 1 and entry.user_id == person.id
    (event,) = audit("cpd.add")
    assert event.actor_id == person.id and event.object_id == str(entry.id)
    assert event.after["hours"] == "12.5"
    assert "EPR" not in str(event.after)  # the learner's own words stay out of the log
    assert event.after["reflection"] == f"{len(VALID['reflection'])} characters"


def test_title_is_required_and_at_most_300_characters(ctx, person):
    assert refused(person, "title", title="") == "Enter a title for the activity"
    assert refused(person, "title", title=" \x07\x1b ") == "Enter a title for the activity"
    assert refused(person, "title", title=None) == "Enter a title for the activity"
    assert "300 characters" in refused(person, "title", title="x" * 301)
    assert add(person, title="x" * 300).title == "x" * 300


def test_activity_type_must_be_one_of_the_kinds(ctx, person):
    assert refused(person, "activity_type", activity_type="holiday")
    assert refused(person, "activity_type", activity_type=None)
    for kind in ("course", "conference", "e_learning", "reading", "work_based", "teaching"):
        assert add(person, activity_type=kind).activity_type == kind


def test_the_start_date_is_required_and_not_in_the_future(ctx, person):
    assert refused(person, "started_on", started_on=None, ended_on=None)
    assert "future" in refused(person, "started_on", started_on=date(2027, 6, 2), ended_on=None)
    assert refused(person, "started_on", started_on="2027-05-01")
    assert refused(person, "started_on", started_on=datetime(2027, 5, 1, tzinfo=UTC))
    assert "1900 or later" in refused(person, "started_on", started_on=date(1899, 12, 31))
    assert add(person, started_on=date(1900, 1, 1)).started_on.year == 1900
    assert add(person, started_on=date(2027, 6, 1), ended_on=None).started_on == date(2027, 6, 1)


def test_today_is_the_uk_date_not_the_utc_one(ctx, person):
    # 23:30 UTC on 1 June is already 2 June in British Summer Time.
    with clock.frozen_at(datetime(2027, 6, 1, 23, 30, tzinfo=UTC)):
        assert add(person, started_on=date(2027, 6, 2), ended_on=None).started_on.day == 2


def test_the_end_date_is_optional_on_or_after_the_start_and_not_in_the_future(ctx, person):
    assert "after the start" in refused(person, "ended_on", ended_on=date(2027, 5, 9))
    assert "future" in refused(person, "ended_on", ended_on=date(2027, 6, 2))
    assert add(person, ended_on=None).ended_on is None
    assert add(person, ended_on=date(2027, 5, 10)).ended_on == date(2027, 5, 10)


@pytest.mark.parametrize("hours", [0, "0", "-1", -0.5, "1000.1", 1001, "0.05", "1.25", 2.75,
                                   "abc", "", None, "NaN", "Infinity", True, "1e400"])  # fmt: skip
def test_hours_more_than_0_up_to_1000_to_one_decimal_place(ctx, person, hours):
    assert refused(person, "hours", hours=hours)
    assert entries() == []


@pytest.mark.parametrize(("hours", "stored"), [("1000", "1000.0"), (0.1, "0.1"), (7, "7.0"),
                                               (" 1.5 ", "1.5"), ("2.50", "2.5")])  # fmt: skip
def test_hours_accepted_are_stored_to_one_decimal_place(ctx, person, hours, stored):
    entry = add(person, hours=hours)
    db.session.commit()
    assert f"{entry.hours:f}" == stored


def test_reflection_keeps_lines_loses_controls_and_is_at_most_10000_characters(ctx, person):
    entry = add(person, reflection="First line\r\nSecond\x00 line\x1b\n\n\tIndented 😀 café")
    assert entry.reflection == "First line\nSecond line\n\n\tIndented 😀 café"
    assert "10,000 characters" in refused(person, "reflection", reflection="x" * 10_001)
    assert len(add(person, reflection="é" * 10_000).reflection) == 10_000
    assert add(person, reflection=None).reflection == ""


def test_provider_is_optional_and_at_most_300_characters(ctx, person):
    assert "300 characters" in refused(person, "provider", provider="p" * 301)
    assert add(person, provider="").provider == ""
    assert add(person, provider=None).provider == ""


def test_an_update_changes_the_fields_given_and_moves_the_version(ctx, person):
    entry = add(person)
    db.session.commit()
    services.update_entry(entry, actor=person, expected_version=1, hours="3", provider="")
    db.session.commit()
    assert (entry.hours, entry.provider, entry.title) == (Decimal("3.0"), "", VALID["title"])
    assert entry.version == 2
    (event,) = audit("cpd.update")
    assert event.before == {"hours": "12.5", "provider": "NHS Confederation", "version": 1}
    assert event.after == {"hours": "3.0", "provider": "", "version": 2}


def test_an_update_checks_the_same_rules_against_the_saved_fields(ctx, person):
    entry = add(person)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        services.update_entry(entry, actor=person, expected_version=1,
                              started_on=date(2027, 5, 12))  # fmt: skip
    assert caught.value.field == "ended_on"  # now before the saved start date
    db.session.rollback()
    assert db.session.get(CpdEntry, entry.id).started_on == date(2027, 5, 10)


def test_a_stale_version_is_refused_with_the_entry_as_it_is_now(ctx, person):
    entry = add(person)
    db.session.commit()
    services.update_entry(entry, actor=person, expected_version=1, title="Changed in one tab")
    db.session.commit()
    with pytest.raises(Conflict) as caught:
        services.update_entry(entry, actor=person, expected_version=1, title="The other tab")
    assert isinstance(caught.value, services.StaleEntry)
    assert caught.value.status == 409 and caught.value.field == "version"
    assert caught.value.extra["current"]["title"] == "Changed in one tab"
    assert caught.value.extra["current"]["version"] == 2
    db.session.rollback()
    assert db.session.get(CpdEntry, entry.id).title == "Changed in one tab"


def test_delete_removes_the_entry_and_is_audited(ctx, person):
    entry = add(person)
    db.session.commit()
    entry_id = entry.id
    services.delete_entry(entry, actor=person)
    db.session.commit()
    assert db.session.get(CpdEntry, entry_id) is None
    (event,) = audit("cpd.delete")
    assert event.object_id == str(entry_id) and event.before["title"] == VALID["title"]
