"""/api/v1/me, /users and /users/{id}/roles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth.models import RoleAssignment, User
from academy.core import clock
from academy.extensions import db
from tests.api import assert_error

API_USER_FIELDS = {
    "id",
    "email",
    "name",
    "organisation_id",
    "professional_registration",
    "staff_number",
    "active",
}
ROLE_FIELDS = {
    "id",
    "role",
    "organisation_id",
    "cohort_id",
    "programme_id",
    "valid_from",
    "valid_to",
}


def users_named(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [user["email"] for user in response.get_json()]


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


# --- /me ---------------------------------------------------------------------------------------


def test_me_shows_the_caller_and_the_roles_they_hold_today(api, make):
    organisation = make.organisation()
    user = make.user("sponsor", organisation=organisation, scope=organisation)
    make.role(user, "learner", valid_from=date(2020, 1, 1), valid_to=date(2021, 1, 1))
    make.role(user, "tutor", valid_from=clock.today() + timedelta(days=7))

    body = api(user).get("me").get_json()

    assert set(body) >= API_USER_FIELDS
    assert body["id"] == user.id and body["organisation_id"] == organisation.id
    [role] = body["roles"]
    assert set(role) >= ROLE_FIELDS
    assert role["role"] == "sponsor" and role["organisation_id"] == organisation.id
    assert role["valid_from"] == "2020-01-01" and role["valid_to"] is None
    assert role["current"] is True
    assert "version" not in body and "last_login_at" not in body


# --- creating users ----------------------------------------------------------------------------


def test_an_admin_creates_a_user_with_a_password(api, make, outbox):
    organisation = make.organisation()
    response = api(make.user("admin")).post(
        "users",
        json={
            "email": "Ada.Lovelace@NHS.test",
            "name": "Ada Lovelace",
            "password": "a long enough password",
            "organisation_id": organisation.id,
            "professional_registration": "GMC 1234567",
            "staff_number": "ESR-1",
        },
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "ada.lovelace@nhs.test"
    assert body["organisation_id"] == organisation.id and body["active"] is True
    assert body["professional_registration"] == "GMC 1234567" and body["staff_number"] == "ESR-1"
    assert body["version"] == 1 and body["roles"] == []
    assert outbox == []
    [created] = audit("user.create")
    assert created.object_id == str(body["id"])
    signed_in = api().post(
        "auth/tokens", json={"email": "ada.lovelace@nhs.test", "password": "a long enough password"}
    )
    assert signed_in.status_code == 201


def test_a_user_created_without_a_password_is_invited_by_email(api, make, outbox):
    response = api(make.user("admin")).post(
        "users", json={"email": "grace@nhs.test", "name": "Grace Hopper"}
    )

    assert response.status_code == 201
    [message] = outbox
    assert message["To"] == "grace@nhs.test"
    assert db.session.get(User, response.get_json()["id"]).password_hash is None


@pytest.mark.parametrize("email", ["taken@nhs.test", "TAKEN@nhs.test", " Taken@NHS.test "])
def test_an_email_already_in_use_in_any_case_is_a_conflict(api, make, email):
    make.user(email="taken@nhs.test")
    response = api(make.user("admin")).post("users", json={"email": email.strip(), "name": "X"})
    assert_error(response, 409, "email")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_a_too_short_password_is_refused_and_nothing_is_created(api, make, outbox):
    response = api(make.user("admin")).post(
        "users", json={"email": "new@nhs.test", "name": "New", "password": "short"}
    )
    body = assert_error(response, 422, "password")
    assert "12 characters" in body["errors"]["password"][0]
    assert db.session.scalar(sa.select(User).where(User.email == "new@nhs.test")) is None
    assert outbox == []


def test_an_unknown_organisation_is_refused(api, make):
    response = api(make.user("admin")).post(
        "users", json={"email": "new@nhs.test", "name": "New", "organisation_id": 424242}
    )
    assert_error(response, 422, "organisation_id")


@pytest.mark.parametrize("role", ["sponsor", "tutor", "learner", "examiner"])
def test_only_admins_create_users(api, make, role):
    organisation = make.organisation()
    caller = make.user(role, organisation=organisation, scope=organisation)
    response = api(caller).post("users", json={"email": "new@nhs.test", "name": "New"})
    assert_error(response, 403)
    assert db.session.scalar(sa.select(User).where(User.email == "new@nhs.test")) is None


# --- listing and reading users -----------------------------------------------------------------


@pytest.fixture
def two_trusts(make):
    north, south = make.organisation(name="North"), make.organisation(name="South")
    staff = {
        "north": [make.user(organisation=north, email=f"n{i}@nhs.test") for i in range(3)],
        "south": [make.user(organisation=south, email=f"s{i}@nhs.test") for i in range(2)],
    }
    sponsor = make.user("sponsor", organisation=north, scope=north, email="sponsor@nhs.test")
    return north, south, staff, sponsor


def test_an_admin_lists_everyone(api, make, two_trusts):
    admin = make.user("admin", email="admin@nhs.test")
    emails = users_named(api(admin).get("users?per_page=200"))
    assert len(emails) == 7 and "admin@nhs.test" in emails


def test_a_sponsor_lists_only_the_staff_of_their_organisations(api, two_trusts):
    north, south, staff, sponsor = two_trusts
    response = api(sponsor).get("users")
    assert sorted(users_named(response)) == [
        "n0@nhs.test",
        "n1@nhs.test",
        "n2@nhs.test",
        "sponsor@nhs.test",
    ]
    assert response.headers["X-Total-Count"] == "4"


def test_a_sponsor_receives_only_the_contract_fields(api, two_trusts):
    *_, staff, sponsor = two_trusts
    client = api(sponsor)
    for body in client.get("users").get_json():
        assert set(body) == API_USER_FIELDS
    assert set(client.get(f"users/{staff['north'][0].id}").get_json()) == API_USER_FIELDS


def test_a_sponsor_whose_role_has_ended_sees_nobody(api, make):
    organisation = make.organisation()
    make.user(organisation=organisation)
    sponsor = make.user(organisation=organisation)
    make.role(sponsor, "sponsor", scope=organisation, valid_to=clock.today() - timedelta(days=1))
    assert_error(api(sponsor).get("users"), 403)


def test_a_tutor_has_no_learners_until_cohorts_exist(api, make, two_trusts):
    assert users_named(api(make.user("tutor")).get("users")) == []


def test_a_learner_may_not_list_users(api, make):
    assert_error(api(make.user("learner")).get("users"), 403)


def test_another_organisations_user_is_not_found_for_a_sponsor(api, two_trusts):
    *_, staff, sponsor = two_trusts
    assert_error(api(sponsor).get(f"users/{staff['south'][0].id}"), 404)
    assert_error(api(sponsor).get("users/999999"), 404)


def test_a_learner_can_read_only_themself(api, make, two_trusts):
    *_, staff, _sponsor = two_trusts
    learner = make.user("learner")
    client = api(learner)
    own = client.get(f"users/{learner.id}").get_json()
    assert set(own) == API_USER_FIELDS | {"roles", "shares_marks_with_sponsor"}
    assert_error(client.get(f"users/{staff['north'][0].id}"), 404)


def test_admins_see_version_and_every_role_assignment(api, make):
    admin = make.user("admin")
    person = make.user("learner")
    make.role(person, "tutor", valid_from=date(2020, 1, 1), valid_to=date(2020, 12, 31))
    body = api(admin).get(f"users/{person.id}").get_json()
    assert body["version"] == person.version
    assert [(r["role"], r["current"]) for r in body["roles"]] == [
        ("learner", True),
        ("tutor", False),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=N1", ["n1@nhs.test"]),
        ("q=sponsor@", ["sponsor@nhs.test"]),
        ("q=%25", []),  # a literal %, not a wildcard
        ("role=sponsor", ["sponsor@nhs.test"]),
        ("role=admin", ["admin@nhs.test"]),
    ],
)
def test_admins_filter_users(api, make, two_trusts, query, expected):
    admin = make.user("admin", email="admin@nhs.test")
    assert sorted(users_named(api(admin).get(f"users?{query}"))) == expected


def test_filtering_by_organisation(api, make, two_trusts):
    _north, south, *_ = two_trusts
    admin = make.user("admin")
    emails = users_named(api(admin).get(f"users?organisation_id={south.id}"))
    assert sorted(emails) == ["s0@nhs.test", "s1@nhs.test"]


def test_a_sponsors_filter_never_widens_their_scope(api, two_trusts):
    _north, south, _staff, sponsor = two_trusts
    assert users_named(api(sponsor).get(f"users?organisation_id={south.id}")) == []


@pytest.mark.parametrize(
    "query",
    [
        "role=wizard",
        "organisation_id=abc",
        "organisation_id=99999999999999999999",
        "q=a%00b",
        "q=" + "x" * 300,
    ],
)
def test_bad_filters_are_422(api, make, query):
    assert_error(api(make.user("admin")).get(f"users?{query}"), 422, query.split("=")[0])


# --- changing users ----------------------------------------------------------------------------


def test_an_admin_updates_a_user_with_the_version_read(api, make):
    admin, person = make.user("admin"), make.user("learner", name="Old Name")
    client = api(admin)
    version = client.get(f"users/{person.id}").get_json()["version"]

    response = client.patch(
        f"users/{person.id}", json={"name": "New Name", "staff_number": "E2", "version": version}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "New Name" and body["staff_number"] == "E2"
    assert body["version"] == version + 1
    [updated] = audit("user.update")
    assert updated.actor_id == admin.id and updated.after == {
        "name": "New Name",
        "staff_number": "E2",
    }


def test_a_stale_version_is_a_conflict_with_the_current_state(api, make):
    admin, person = make.user("admin"), make.user("learner", name="Current Name")
    client = api(admin)
    version = client.get(f"users/{person.id}").get_json()["version"]
    first = client.patch(f"users/{person.id}", json={"name": "First", "version": version})
    assert first.status_code == 200

    response = client.patch(f"users/{person.id}", json={"name": "Second", "version": version})

    body = assert_error(response, 409, "version")
    assert body["current"]["name"] == "First"
    assert body["current"]["version"] == version + 1
    db.session.expire_all()
    assert db.session.get(User, person.id).name == "First"


def test_a_patch_without_a_version_is_refused(api, make):
    admin, person = make.user("admin"), make.user("learner")
    assert_error(api(admin).patch(f"users/{person.id}", json={"name": "X"}), 422, "version")


def test_changing_to_an_email_in_use_is_a_conflict(api, make):
    admin = make.user("admin")
    make.user(email="taken@nhs.test")
    person = make.user()
    response = api(admin).patch(
        f"users/{person.id}", json={"email": "TAKEN@nhs.test", "version": person.version}
    )
    body = assert_error(response, 409, "email")
    assert "current" not in body


def test_a_sponsor_may_not_change_their_staff(api, two_trusts):
    *_, staff, sponsor = two_trusts
    person = staff["north"][0]
    response = api(sponsor).patch(f"users/{person.id}", json={"name": "X", "version": 1})
    assert_error(response, 403)
    db.session.expire_all()
    assert db.session.get(User, person.id).name != "X"


# --- roles -------------------------------------------------------------------------------------


def test_an_admin_grants_a_scoped_role(api, make):
    admin, person, organisation = make.user("admin"), make.user(), make.organisation()

    response = api(admin).post(
        f"users/{person.id}/roles",
        json={"role": "sponsor", "organisation_id": organisation.id, "valid_to": "2099-12-31"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["role"] == "sponsor" and body["organisation_id"] == organisation.id
    assert body["valid_from"] == clock.today().isoformat() and body["valid_to"] == "2099-12-31"
    [granted] = audit("role.grant")
    assert granted.actor_id == admin.id and granted.object_id == str(body["id"])
    assert [r["role"] for r in api(person).get("me").get_json()["roles"]] == ["sponsor"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "sponsor"}, "organisation_id"),
        ({"role": "sponsor", "organisation_id": 999999}, "organisation_id"),
        ({"role": "admin", "cohort_id": 1}, "cohort_id"),
        ({"role": "tutor", "cohort_id": 1}, "cohort_id"),  # no cohorts exist yet
        ({"role": "learner", "valid_from": "2030-01-02", "valid_to": "2030-01-01"}, "valid_to"),
        ({"role": "wizard"}, "role"),
        ({"role": "learner", "valid_from": "yesterday"}, "valid_from"),
    ],
)
def test_a_role_the_rules_refuse_is_422_naming_the_field(api, make, body, field):
    person = make.user()
    assert_error(api(make.user("admin")).post(f"users/{person.id}/roles", json=body), 422, field)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(RoleAssignment)
            .where(RoleAssignment.user_id == person.id)
        )
        == 0
    )


def test_granting_a_role_already_held_is_a_conflict(api, make):
    person = make.user("learner")
    response = api(make.user("admin")).post(f"users/{person.id}/roles", json={"role": "learner"})
    assert_error(response, 409)


def test_only_admins_grant_roles(api, two_trusts):
    north, _south, staff, sponsor = two_trusts
    response = api(sponsor).post(
        f"users/{staff['north'][0].id}/roles",
        json={"role": "sponsor", "organisation_id": north.id},
    )
    assert_error(response, 403)


def test_ending_a_role_keeps_it_as_history(api, make):
    admin, person = make.user("admin"), make.user()
    organisation = make.organisation()
    assignment = make.role(person, "sponsor", scope=organisation)
    client = api(admin)

    response = client.delete(f"users/{person.id}/roles/{assignment.id}")

    assert response.status_code == 204
    assert api(person).get("me").get_json()["roles"] == []
    [kept] = client.get(f"users/{person.id}").get_json()["roles"]
    assert kept["id"] == assignment.id and kept["current"] is False and kept["ended_at"]
    assert len(audit("role.end")) == 1
    assert_error(api(person).get("users"), 403)
    assert_error(client.delete(f"users/{person.id}/roles/{assignment.id}"), 409)


def test_a_role_of_another_user_is_not_found(api, make):
    admin, person, other = make.user("admin"), make.user(), make.user("learner")
    [role] = other.roles
    assert_error(api(admin).delete(f"users/{person.id}/roles/{role.id}"), 404)
    assert_error(api(admin).delete(f"users/{person.id}/roles/999999"), 404)


def test_an_admin_cannot_end_their_own_admin_role(api, make):
    admin = make.user("admin")
    [role] = admin.roles
    assert_error(api(admin).delete(f"users/{admin.id}/roles/{role.id}"), 422)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, role.id).ended_at is None
