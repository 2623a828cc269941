"""Writes the API makes on the side: token use, sign-in times, and races on unique values."""

import sqlalchemy as sa

from academy.auth import services as auth_services
from academy.auth.models import ApiToken, User
from academy.extensions import db
from tests.api import assert_error
from tests.factories import PASSWORD


def test_a_read_only_request_records_when_its_token_was_last_used(api, make):
    user = make.user("learner")
    client = api(user)
    assert client.get("me").status_code == 200
    db.session.expire_all()
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.last_used_at is not None


def test_a_refused_request_does_not_record_token_use(api, make):
    user = make.user("learner")
    client = api(user)
    assert client.get("users").status_code == 403
    db.session.expire_all()
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.last_used_at is None


def test_signing_in_does_not_make_an_admins_edit_stale(api, make):
    admin = api(make.user("admin"))
    person = make.user("learner", name="Before")
    version = admin.get(f"users/{person.id}").get_json()["version"]

    assert (
        api().post("auth/tokens", json={"email": person.email, "password": PASSWORD}).status_code
        == 201
    )

    response = admin.patch(f"users/{person.id}", json={"name": "After", "version": version})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "After"


def test_two_creations_racing_for_one_email_end_in_a_conflict_not_a_500(api, make, monkeypatch):
    admin = api(make.user("admin"))
    make.user(email="taken@trust.example")
    # The other request passed the duplicate check at the same moment: only the database knows.
    monkeypatch.setattr(auth_services, "user_by_email", lambda email: None)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    response = admin.post("users", json={"email": "taken@trust.example", "name": "Second"})
    assert_error(response, 409)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before
