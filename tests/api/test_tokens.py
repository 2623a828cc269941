"""POST/DELETE /api/v1/auth/tokens and bearer authentication."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth.models import ApiToken
from academy.core import clock
from academy.extensions import db
from tests.api import assert_error
from tests.factories import PASSWORD


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def get_token(api, user, password=PASSWORD, **extra):
    return api().post("auth/tokens", json={"email": user.email, "password": password, **extra})


def test_the_right_password_gets_a_token_that_authenticates(api, make, app):
    user = make.user("learner")
    response = get_token(api, user, label="HR sync")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "token", "expires_at", "scopes"}
    assert body["scopes"] == ["read", "write"]
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.utcoffset() == timedelta(0)
    days = app.config["API_TOKEN_DAYS"]
    assert abs(expires_at - (clock.now() + timedelta(days=days))) < timedelta(minutes=1)

    stored = db.session.get(ApiToken, body["id"])
    assert stored.user_id == user.id and stored.label == "HR sync"
    assert body["token"] not in (stored.token_hash, stored.label)

    me = api().get("me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["id"] == user.id


def test_sign_in_through_the_api_is_audited(api, make):
    user = make.user("learner")
    token_id = get_token(api, user).get_json()["id"]
    [login] = audit("auth.login")
    assert login.actor_id == user.id and login.after == {"channel": "api"}
    [issued] = audit("token.issue")
    assert issued.actor_id == user.id and issued.object_id == str(token_id)


def test_wrong_password_and_unknown_email_get_the_same_answer(api, make):
    user = make.user("learner")
    wrong_password = get_token(api, user, password="not the password at all")
    unknown_email = api().post(
        "auth/tokens", json={"email": "nobody@nhs.test", "password": "not the password at all"}
    )

    first = assert_error(wrong_password, 401)
    second = assert_error(unknown_email, 401)
    assert first == second
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    failures = audit("auth.login_failed")
    assert [f.after["email"] for f in failures] == [user.email, "nobody@nhs.test"]
    assert all(f.after["channel"] == "api" for f in failures)


def test_a_deactivated_account_gets_no_token(api, make):
    user = make.user("learner", active=False)
    assert_error(get_token(api, user), 401)


def test_the_token_endpoint_is_limited_by_the_sign_in_setting(api, make, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    user = make.user("learner")
    assert get_token(api, user, password="wrong password 1").status_code == 401
    assert get_token(api, user).status_code == 201

    refused = get_token(api, user)

    body = assert_error(refused, 429)
    assert body["message"].startswith("Too many sign-in attempts")
    assert int(refused.headers["Retry-After"]) > 0


def test_the_view_flask_registers_for_token_creation_is_public(app):
    assert getattr(app.view_functions["auth_api.create_token"], "academy_public", False)
    assert not getattr(app.view_functions["auth_api.me"], "academy_public", False)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer acd_not-a-real-token", "Basic dXNlcjpwYXNz", "token"],
)
def test_a_missing_or_bad_token_gets_401(api, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = api().get("me", headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_sent_with_another_scheme_is_refused(api, make):
    client = api(make.user("learner"))
    response = client.get("me", headers={"Authorization": f"Token {client.token}"})
    assert_error(response, 401)


def test_an_expired_token_gets_401(api, make, app):
    client = api(make.user("learner"))
    days = app.config["API_TOKEN_DAYS"]
    with clock.frozen_at(clock.now() + timedelta(days=days) - timedelta(minutes=5)):
        assert client.get("me").status_code == 200
    with clock.frozen_at(clock.now() + timedelta(days=days, minutes=5)):
        assert_error(client.get("me"), 401)


def test_a_deactivated_users_token_stops_working(api, make):
    user = make.user("learner")
    client = api(user)
    user.active = False
    db.session.commit()
    assert_error(client.get("me"), 401)


def test_a_revoked_token_gets_401(api, make):
    user = make.user("learner")
    body = get_token(api, user).get_json()
    headers = {"Authorization": f"Bearer {body['token']}"}

    response = api().delete(f"auth/tokens/{body['id']}", headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(api().get("me", headers=headers), 401)
    [revoked] = audit("token.revoke")
    assert revoked.actor_id == user.id and revoked.object_id == str(body["id"])


def test_only_your_own_tokens_can_be_revoked(api, make):
    owner, other = make.user("learner"), make.user("sponsor", scope=make.organisation())
    token_id = get_token(api, owner).get_json()["id"]

    assert_error(api(other).delete(f"auth/tokens/{token_id}"), 404)
    assert_error(api(other).delete("auth/tokens/999999"), 404)
    assert db.session.get(ApiToken, token_id).revoked_at is None


def test_admins_may_revoke_anyones_token(api, make):
    owner, admin = make.user("learner"), make.user("admin")
    body = get_token(api, owner).get_json()

    assert api(admin).delete(f"auth/tokens/{body['id']}").status_code == 204
    assert_error(api().get("me", headers={"Authorization": f"Bearer {body['token']}"}), 401)


def test_the_api_ignores_the_html_session_cookie(client, make, login_as):
    user = make.user("admin")
    login_as(user)
    assert client.get("/account").status_code == 200  # the session itself is valid

    response = client.get("/api/v1/me")

    assert_error(response, 401)
