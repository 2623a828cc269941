"""The JSON error format for every status under /api/, and never a 500 for bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.organisations import services as organisation_services
from tests.api import assert_error
from tests.factories import PASSWORD


def audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


@pytest.fixture
def world(make):
    """An admin, an organisation and a user for the endpoints to act on."""
    organisation = make.organisation(ods_code="RX1")
    admin = make.user("admin", organisation=organisation, email="admin@nhs.test")
    person = make.user("learner", organisation=organisation)
    return admin, organisation, person


def endpoints(admin, organisation, person) -> dict[str, tuple[str, str, dict]]:
    """Every endpoint that takes a body, with a body it would accept."""
    return {
        "create token": (
            "POST",
            "auth/tokens",
            {"email": admin.email, "password": PASSWORD, "label": "script"},
        ),
        "create organisation": (
            "POST",
            "organisations",
            {
                "ods_code": "RX2",
                "name": "Somewhere NHS Trust",
                "sector": "acute",
                "nation": "wales",
                "credential_target": 6,
            },
        ),
        "update organisation": (
            "PATCH",
            f"organisations/{organisation.id}",
            {
                "ods_code": "RX3",
                "name": "Renamed",
                "sector": "icb",
                "nation": "scotland",
                "credential_target": 7,
                "version": organisation.version,
            },
        ),
        "create user": (
            "POST",
            "users",
            {
                "email": "new.person@nhs.test",
                "name": "New Person",
                "password": "a long enough password",
                "organisation_id": organisation.id,
                "professional_registration": "NMC 12A3456B",
                "staff_number": "12345678",
            },
        ),
        "update user": (
            "PATCH",
            f"users/{person.id}",
            {
                "email": "renamed@nhs.test",
                "name": "Renamed",
                "organisation_id": organisation.id,
                "professional_registration": "GMC 7654321",
                "staff_number": "87654321",
                "active": False,
                "version": person.version,
            },
        ),
        "grant role": (
            "POST",
            f"users/{person.id}/roles",
            {
                "role": "sponsor",
                "organisation_id": organisation.id,
                "valid_from": "2030-01-01",
                "valid_to": "2031-01-01",
            },
        ),
    }


ENDPOINT_NAMES = [
    "create token",
    "create organisation",
    "update organisation",
    "create user",
    "update user",
    "grant role",
]
FIELDS = {
    "create token": ["email", "password", "label"],
    "create organisation": ["ods_code", "name", "sector", "nation", "credential_target"],
    "update organisation": ["ods_code", "name", "sector", "nation", "credential_target", "version"],
    "create user": [
        "email",
        "name",
        "password",
        "organisation_id",
        "professional_registration",
        "staff_number",
    ],
    "update user": [
        "email",
        "name",
        "organisation_id",
        "professional_registration",
        "staff_number",
        "active",
        "version",
    ],
    "grant role": [
        "role",
        "organisation_id",
        "cohort_id",
        "programme_id",
        "valid_from",
        "valid_to",
    ],
}
BAD_VALUES = {
    "null": None,
    "huge int": 10**30,
    "negative": -1,
    "zero": 0,
    "float": 1.5,
    "bool": True,
    "empty string": "",
    "numeric string": "12",
    "long string": "x" * 5000,
    "NUL": "a\x00b",
    "list": [1],
    "object": {"a": 1},
    "date far away": "99999-01-01",
}
FIELD_CASES = [
    pytest.param(endpoint, field, value, id=f"{endpoint}-{field}-{label}")
    for endpoint in ENDPOINT_NAMES
    for field in FIELDS[endpoint]
    for label, value in BAD_VALUES.items()
]


def client_for(api, admin, path):
    return api() if path == "auth/tokens" else api(admin)


@pytest.mark.parametrize(("endpoint", "field", "value"), FIELD_CASES)
def test_no_field_value_causes_a_server_error(api, world, endpoint, field, value):
    method, path, body = endpoints(*world)[endpoint]
    response = client_for(api, world[0], path).open(method, path, json={**body, field: value})

    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_error(response, response.status_code)


WHOLE_BODIES = {
    "list": {"json": [{"name": "x"}]},
    "string": {"json": "hello"},
    "number": {"json": 42},
    "json null": {"data": "null", "content_type": "application/json"},
    "empty object": {"json": {}},
    "empty body": {"data": b"", "content_type": "application/json"},
    "no body": {},
    "form encoded": {"data": {"name": "x"}},
    "unknown field": "unknown",
}


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize("case", list(WHOLE_BODIES))
def test_a_body_of_the_wrong_shape_is_422_and_changes_nothing(api, world, endpoint, case):
    method, path, body = endpoints(*world)[endpoint]
    kwargs = WHOLE_BODIES[case]
    if kwargs == "unknown":
        kwargs = {"json": {**body, "surprise": 1}}
    client = client_for(api, world[0], path)
    before = audit_count()

    response = client.open(method, path, **kwargs)

    fields = ("surprise",) if case == "unknown field" else ()
    assert_error(response, 422, *fields)
    assert audit_count() == before


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize("raw", ['{"name": ', "{'single': 'quotes'}", "\xff\xfe"])
def test_malformed_json_is_400(api, world, endpoint, raw):
    method, path, _body = endpoints(*world)[endpoint]
    client = client_for(api, world[0], path)
    response = client.open(method, path, data=raw, content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/users/abc",
        "/api/v1/users/0",
        "/api/v1/users/-1",
        "/api/v1/users/99999999999999999999",
        "/api/v1/organisations/1.5",
        "/api/v1/users/1/roles/abc",
    ],
)
def test_an_unknown_address_is_a_json_404(api, world, path):
    assert_error(api(world[0]).get(path), 404)
    assert_error(api().get(path), 404)


def test_a_wrong_method_is_a_json_405(api, world):
    response = api(world[0]).delete("organisations")
    assert_error(response, 405)
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize("endpoint", ["create token", "create organisation", "create user"])
def test_a_body_over_the_size_limit_is_a_json_413(api, world, app, monkeypatch, endpoint):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 256)
    method, path, body = endpoints(*world)[endpoint]
    client = client_for(api, world[0], path)
    before = audit_count()

    response = client.open(method, path, json={**body, "name": "x" * 1000})

    assert_error(response, 413)
    assert audit_count() == before


ADMIN_ENDPOINTS = [name for name in ENDPOINT_NAMES if name != "create token"]


@pytest.mark.parametrize("endpoint", ADMIN_ENDPOINTS + ["end role"])
@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor", "examiner"])
def test_a_non_admin_on_an_admin_endpoint_is_403_whatever_the_body(
    api, make, world, endpoint, role
):
    """The role gate comes before parsing: the caller learns nothing from validation errors."""
    _admin, organisation, person = world
    caller = make.user(role, organisation=organisation, scope=organisation)
    if endpoint == "end role":
        method, path = "DELETE", f"users/{person.id}/roles/{person.roles[0].id}"
    else:
        method, path, _body = endpoints(*world)[endpoint]
    client = api(caller)
    before = audit_count()

    response = client.open(method, path, json={"surprise": None})

    assert_error(response, 403)
    assert audit_count() == before


def test_an_unexpected_error_is_a_json_500_without_details(api, world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(organisation_services, "create_organisation", broken)
    _method, path, body = endpoints(*world)["create organisation"]

    response = api(world[0]).post(path, json=body)

    assert_error(response, 500)
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
