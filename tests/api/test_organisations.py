"""/api/v1/organisations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.organisations.models import Organisation
from tests.api import assert_error

ORGANISATION_FIELDS = {"id", "ods_code", "name", "sector", "nation", "credential_target"}
NEW = {"ods_code": "rj1", "name": "Guy's and St Thomas'", "sector": "acute", "nation": "england"}


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))


def test_an_admin_creates_an_organisation(api, make):
    admin = make.user("admin")
    response = api(admin).post("organisations", json=NEW)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= ORGANISATION_FIELDS
    assert body["ods_code"] == "RJ1" and body["credential_target"] == 5 and body["version"] == 1
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.create")
    )
    assert event.actor_id == admin.id and event.object_id == str(body["id"])


def test_a_duplicate_ods_code_is_a_conflict(api, make):
    make.organisation(ods_code="RJ1")
    response = api(make.user("admin")).post("organisations", json=NEW)
    assert_error(response, 409, "ods_code")
    assert count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ods_code": "R!"}, "ods_code"),
        ({"sector": "pirate"}, "sector"),
        ({"nation": "atlantis"}, "nation"),
        ({"credential_target": -1}, "credential_target"),
        ({"name": "   "}, "name"),
    ],
)
def test_invalid_organisations_are_422_naming_the_field(api, make, change, field):
    response = api(make.user("admin")).post("organisations", json={**NEW, **change})
    assert_error(response, 422, field)
    assert count() == 0


@pytest.mark.parametrize("role", ["sponsor", "tutor", "learner", "examiner"])
def test_only_admins_create_organisations(api, make, role):
    own = make.organisation()
    response = api(make.user(role, organisation=own, scope=own)).post("organisations", json=NEW)
    assert_error(response, 403)
    assert count() == 1


def test_admins_list_every_organisation_sponsors_their_own(api, make):
    mine, theirs = make.organisation(name="A mine"), make.organisation(name="B theirs")
    sponsor = make.user("sponsor", organisation=mine, scope=mine)
    make.role(sponsor, "sponsor", scope=make.organisation(name="C also mine"))

    admin_view = api(make.user("admin")).get("organisations")
    sponsor_view = api(sponsor).get("organisations")

    assert [o["name"] for o in admin_view.get_json()] == ["A mine", "B theirs", "C also mine"]
    assert [o["name"] for o in sponsor_view.get_json()] == ["A mine", "C also mine"]
    assert sponsor_view.headers["X-Total-Count"] == "2"
    assert api(sponsor).get(f"organisations/{mine.id}").get_json()["name"] == "A mine"
    assert_error(api(sponsor).get(f"organisations/{theirs.id}"), 404)


@pytest.mark.parametrize("role", ["tutor", "learner", "examiner"])
def test_people_without_organisations_may_not_list_them(api, make, role):
    organisation = make.organisation()
    caller = make.user(role, organisation=organisation)
    assert_error(api(caller).get("organisations"), 403)
    assert_error(api(caller).get(f"organisations/{organisation.id}"), 404)


def test_an_unknown_organisation_is_404(api, make):
    assert_error(api(make.user("admin")).get("organisations/999999"), 404)


def test_an_admin_updates_with_the_version_read(api, make):
    organisation = make.organisation(name="Old")
    client = api(make.user("admin"))
    version = organisation.version

    response = client.patch(
        f"organisations/{organisation.id}",
        json={"name": "New", "credential_target": 8, "version": version},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "New" and body["credential_target"] == 8
    assert body["version"] == version + 1


def test_a_stale_version_is_a_conflict_carrying_the_current_state(api, make):
    organisation = make.organisation(name="Old")
    client = api(make.user("admin"))
    read = client.get(f"organisations/{organisation.id}").get_json()
    first = client.patch(f"organisations/{organisation.id}", json={"name": "First", **_v(read)})
    assert first.status_code == 200

    response = client.patch(f"organisations/{organisation.id}", json={"name": "Late", **_v(read)})

    body = assert_error(response, 409, "version")
    assert body["current"] == first.get_json()
    assert client.get(f"organisations/{organisation.id}").get_json()["name"] == "First"


def _v(body: dict) -> dict:
    return {"version": body["version"]}


def test_changing_to_an_ods_code_in_use_is_a_conflict(api, make):
    make.organisation(ods_code="RJ1")
    other = make.organisation(ods_code="RJ2")
    response = api(make.user("admin")).patch(
        f"organisations/{other.id}", json={"ods_code": "rj1", "version": other.version}
    )
    assert_error(response, 409, "ods_code")


def test_a_sponsor_may_read_but_not_change_their_organisation(api, make):
    own = make.organisation(name="Own")
    sponsor = make.user("sponsor", organisation=own, scope=own)
    response = api(sponsor).patch(f"organisations/{own.id}", json={"name": "X", "version": 1})
    assert_error(response, 403)
    db.session.expire_all()
    assert db.session.get(Organisation, own.id).name == "Own"
