"""/api/v1/modules and /api/v1/programmes, over HTTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.catalogue.models import Module, Programme
from academy.extensions import db
from tests.api import assert_error

MODULE = {
    "code": "dhl701",
    "title": "Leading digital change",
    "topic": "change_management",
    "credits": 15,
    "level": 7,
    "pass_mark": 50,
    "learning_outcomes": ["Explain the role of a CCIO"],
}
MODULE_FIELDS = {
    "id", "code", "title", "topic", "credits", "level", "pass_mark", "learning_outcomes",
    "summary", "credential_valid_months", "version",
}  # fmt: skip


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def admin(make):
    return make.user("admin")


# --- modules -----------------------------------------------------------------------------------


def test_an_admin_creates_a_module(api, admin):
    response = api(admin).post("modules", json={**MODULE, "summary": "For new CCIOs."})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == MODULE_FIELDS
    assert body["code"] == "DHL701" and body["version"] == 1
    assert body["learning_outcomes"] == ["Explain the role of a CCIO"]


def test_the_pass_mark_defaults_to_50(api, admin):
    fields = {k: v for k, v in MODULE.items() if k != "pass_mark"}
    assert api(admin).post("modules", json=fields).get_json()["pass_mark"] == 50


def test_a_duplicate_module_code_is_409(api, admin, make):
    make.module(code="DHL701")
    assert_error(api(admin).post("modules", json=MODULE), 409, "code")
    assert count(Module) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credits": -15}, "credits"),
        ({"credits": 0}, "credits"),
        ({"credits": "15"}, "credits"),
        ({"topic": "astrology"}, "topic"),
        ({"level": 3}, "level"),
        ({"pass_mark": 101}, "pass_mark"),
        ({"learning_outcomes": []}, "learning_outcomes"),
        ({"learning_outcomes": ["  "]}, "learning_outcomes"),
        ({"title": " "}, "title"),
        ({"code": "no spaces"}, "code"),
        ({"credits": 2**40}, "credits"),
        ({"colour": "blue"}, "colour"),
        ({"credential_valid_months": 0}, "credential_valid_months"),
        ({"credential_valid_months": -12}, "credential_valid_months"),
        ({"credential_valid_months": "36"}, "credential_valid_months"),
        ({"credential_valid_months": 2.5}, "credential_valid_months"),
        ({"credential_valid_months": 601}, "credential_valid_months"),
    ],
)
def test_invalid_modules_are_422_naming_the_field(api, admin, change, field):
    response = api(admin).post("modules", json={**MODULE, **change})
    assert_error(response, 422, field)
    assert count(Module) == 0


@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor", "examiner"])
def test_only_admins_change_the_catalogue(api, make, role):
    own = make.organisation()
    caller = api(make.user(role, organisation=own, scope=own))
    module = make.module()

    assert_error(caller.post("modules", json=MODULE), 403)
    assert_error(caller.patch(f"modules/{module.id}", json={"version": 1, "credits": 30}), 403)
    assert_error(
        caller.post("programmes", json={"code": "P1", "title": "t", "award_title": "a",
                                        "credits_required": 60, "module_ids": [module.id]}),
        403,
    )  # fmt: skip
    assert count(Module) == 1 and count(Programme) == 0


def test_anyone_signed_in_lists_modules_filtered_and_paginated(api, make):
    for code, topic in [("A1", "leadership"), ("B2", "informatics"), ("C3", "leadership")]:
        make.module(code=code, topic=topic)
    learner = api(make.user("learner"))

    everything = learner.get("modules")
    leadership = learner.get("modules?topic=leadership&per_page=1&page=2")

    assert [m["code"] for m in everything.get_json()] == ["A1", "B2", "C3"]
    assert [m["code"] for m in leadership.get_json()] == ["C3"]
    assert leadership.headers["X-Total-Count"] == "2"
    assert 'rel="prev"' in leadership.headers["Link"]
    assert "topic=leadership" in leadership.headers["Link"]
    assert_error(learner.get("modules?topic=astrology"), 422, "topic")
    assert_error(api().get("modules"), 401)


def test_get_one_module(api, make):
    module = make.module(code="DHL701")
    caller = api(make.user("sponsor", scope=make.organisation()))

    assert caller.get(f"modules/{module.id}").get_json()["code"] == "DHL701"
    assert_error(caller.get("modules/999999"), 404)


def test_patch_module_with_the_version_read(api, admin, make):
    module = make.module(credits=15)

    response = api(admin).patch(
        f"modules/{module.id}",
        json={"version": 1, "credits": 30, "learning_outcomes": ["One", "Two"]},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["credits"], body["learning_outcomes"], body["version"]) == (30, ["One", "Two"], 2)


def test_a_stale_module_version_is_409_with_the_current_state(api, admin, make):
    module = make.module(credits=15)
    api(admin).patch(f"modules/{module.id}", json={"version": 1, "credits": 30})

    response = api(admin).patch(f"modules/{module.id}", json={"version": 1, "credits": 45})

    body = assert_error(response, 409, "version")
    assert body["current"]["credits"] == 30 and body["current"]["version"] == 2


def test_a_module_credential_never_expires_unless_given_a_validity(api, admin, make):
    created = api(admin).post("modules", json=MODULE).get_json()
    assert created["credential_valid_months"] is None

    path = f"modules/{created['id']}"
    set_to = api(admin).patch(path, json={"version": 1, "credential_valid_months": 36})
    untouched = api(admin).patch(path, json={"version": 2, "title": "Renamed"})
    cleared = api(admin).patch(path, json={"version": 3, "credential_valid_months": None})

    assert set_to.get_json()["credential_valid_months"] == 36
    assert untouched.get_json()["credential_valid_months"] == 36
    assert cleared.status_code == 200 and cleared.get_json()["credential_valid_months"] is None
    assert_error(api(admin).patch(path, json={"version": 4, "credential_valid_months": 0}), 422,
                 "credential_valid_months")  # fmt: skip
    assert db.session.get(Module, created["id"]).credential_valid_months is None


def test_patch_module_to_a_code_in_use_is_409(api, admin, make):
    make.module(code="DHL701")
    module = make.module(code="DHL702")
    response = api(admin).patch(f"modules/{module.id}", json={"version": 1, "code": "dhl701"})
    assert_error(response, 409, "code")


# --- programmes --------------------------------------------------------------------------------


def new_programme(*module_ids, core=(), **change) -> dict:
    return {
        "code": "pgc-dhl",
        "title": "Digital Health Leadership",
        "award_title": "Postgraduate Certificate in Digital Health Leadership",
        "credits_required": 60,
        "module_ids": list(module_ids),
        "core_module_ids": list(core),
        **change,
    }


def test_an_admin_creates_a_programme_with_core_and_optional_modules(api, admin, make):
    core = make.module(code="DHL701", credits=30)
    optional = make.module(code="DHL702", credits=15)

    response = api(admin).post(
        "programmes", json=new_programme(optional.id, core=[core.id], merit_band=65)
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["code"] == "PGC-DHL"
    assert body["module_ids"] == [optional.id, core.id]
    assert body["core_module_ids"] == [core.id]
    assert body["modules"] == [
        {"id": optional.id, "code": "DHL702", "title": optional.title, "credits": 15,
         "core": False},
        {"id": core.id, "code": "DHL701", "title": core.title, "credits": 30, "core": True},
    ]  # fmt: skip
    assert (body["pass_band"], body["merit_band"], body["distinction_band"]) == (50, 65, 70)
    assert body["credits_available"] == 45


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"module_ids": [999_999]}, "module_ids"),
        ({"core_module_ids": [999_999]}, "core_module_ids"),
        ({"module_ids": ["1"]}, "module_ids"),
        ({"credits_required": -60}, "credits_required"),
        ({"pass_band": 70, "merit_band": 60}, "merit_band"),
        ({"merit_band": 80}, "distinction_band"),
        ({"distinction_band": 120}, "distinction_band"),
        ({"award_title": ""}, "award_title"),
        ({"award_type": "Degree"}, "award_type"),
        ({"award_type": None}, "award_type"),
        ({"award_needs_ratification": "yes"}, "award_needs_ratification"),
        ({"award_needs_ratification": 1}, "award_needs_ratification"),
        ({"credential_valid_months": 0}, "credential_valid_months"),
        ({"credential_valid_months": True}, "credential_valid_months"),
    ],
)
def test_invalid_programmes_are_422_naming_the_field(api, admin, make, change, field):
    module = make.module()
    response = api(admin).post("programmes", json=new_programme(module.id, **change))
    assert_error(response, 422, field)
    assert count(Programme) == 0


def test_a_duplicate_programme_code_is_409(api, admin, make):
    make.programme(code="PGC-DHL")
    response = api(admin).post("programmes", json=new_programme(make.module().id))
    assert_error(response, 409, "code")


def test_programmes_are_listed_and_shown_to_anyone_signed_in(api, make):
    module = make.module()
    programme = make.programme(code="PGC1", core=[module])
    make.programme(code="PGD1")
    learner = api(make.user("learner"))

    listed = learner.get("programmes")
    shown = learner.get(f"programmes/{programme.id}")

    assert [p["code"] for p in listed.get_json()] == ["PGC1", "PGD1"]
    assert listed.headers["X-Total-Count"] == "2"
    assert shown.get_json()["modules"][0]["core"] is True
    assert_error(learner.get("programmes/999999"), 404)


def test_patch_programme_replaces_the_modules(api, admin, make):
    a, b, c = make.module(), make.module(), make.module()
    programme = make.programme(modules=[a, b])

    response = api(admin).patch(
        f"programmes/{programme.id}",
        json={"version": 1, "module_ids": [c.id, a.id], "core_module_ids": [c.id]},
    )

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["module_ids"] == [c.id, a.id] and body["core_module_ids"] == [c.id]
    assert body["version"] == 2


def test_a_stale_programme_version_is_409_and_changes_nothing(api, admin, make):
    programme = make.programme(title="Before")
    response = api(admin).patch(f"programmes/{programme.id}", json={"version": 7, "title": "After"})
    body = assert_error(response, 409, "version")
    assert body["current"]["title"] == "Before"
    db.session.expire_all()
    assert db.session.get(Programme, programme.id).title == "Before"


def test_programmes_say_what_their_award_credential_is(api, admin, make):
    module = make.module()

    defaults = api(admin).post("programmes", json=new_programme(module.id)).get_json()
    diploma = api(admin).post(
        "programmes",
        json=new_programme(
            module.id,
            code="PGD-DHL",
            award_type="Diploma",
            award_needs_ratification=True,
            credential_valid_months=60,
        ),
    )

    assert (
        defaults["award_type"],
        defaults["award_needs_ratification"],
        defaults["credential_valid_months"],
    ) == ("Certificate", False, None)
    assert diploma.status_code == 201, diploma.get_json()
    body = diploma.get_json()
    assert (body["award_type"], body["award_needs_ratification"]) == ("Diploma", True)
    assert body["credential_valid_months"] == 60
    stored = db.session.get(Programme, body["id"])
    assert (stored.award_type, stored.award_needs_ratification) == ("Diploma", True)


def test_patch_programme_award_settings(api, admin, make):
    programme = make.programme(credential_valid_months=24)
    path = f"programmes/{programme.id}"

    changed = api(admin).patch(
        path, json={"version": 1, "award_type": "Diploma", "award_needs_ratification": True}
    )
    cleared = api(admin).patch(path, json={"version": 2, "credential_valid_months": None})

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["award_type"] == "Diploma"
    assert changed.get_json()["credential_valid_months"] == 24
    assert cleared.get_json()["credential_valid_months"] is None
    assert cleared.get_json()["award_needs_ratification"] is True
    assert_error(api(admin).patch(path, json={"version": 3, "award_type": "PhD"}), 422,
                 "award_type")  # fmt: skip
