"""Guessable passwords refused, "sign out everywhere", and scoped, revocable API tokens."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth import services
from academy.auth.models import ApiToken
from academy.core.errors import DomainError
from academy.extensions import db
from tests.auth.helpers import body, error_summary, text
from tests.factories import PASSWORD, ApiClient

NEW_PASSWORD = "another long and memorable passphrase"


def audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def signed_in(client) -> bool:
    response = client.get("/account")
    return response.status_code == 200


# --- passwords anyone would guess ------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["password1234", "Password12345", "qwertyuiopasdf", "aaaaaaaaaaaaaaa", "123456789012"],
)
def test_common_and_patterned_passwords_are_refused(make, ctx, password):
    user = make.user()
    with pytest.raises(DomainError) as refused:
        services.set_password(user, password, actor=user, reason="changed")
    assert refused.value.field == "password"
    assert refused.value.message.startswith("Choose a harder password to guess.")


def test_a_password_made_of_the_persons_own_name_is_refused(make, ctx):
    user = make.user(name="Priya Shah", email="priya.shah@nhs.test")
    with pytest.raises(DomainError, match="harder password"):
        services.set_password(user, "Priya Shah 1990", actor=user, reason="changed")
    services.set_password(user, NEW_PASSWORD, actor=user, reason="changed")


def test_the_change_password_form_explains_why_a_password_is_too_easy(client, make, login_as):
    user = make.user()
    login_as(user)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "password1234", "confirm": "password1234"},
    )
    assert response.status_code == 200
    [(target, message)] = error_summary(response)
    assert target == "#password"
    assert "This is a very common password." in message


def test_an_api_created_user_with_a_guessable_password_is_refused(api, make):
    admin = make.user("admin")
    response = api(admin).post(
        "users", json={"email": "new@nhs.test", "name": "New Person", "password": "password1234"}
    )
    assert response.status_code == 422
    assert "harder password" in response.get_json()["message"]


# --- sign out everywhere -----------------------------------------------------------------------


def test_sign_out_everywhere_ends_every_session_of_the_user(app, client, make, login_as):
    user = make.user()
    laptop = login_as(user)
    phone = login_as(user, the_client=app.test_client())
    someone_else = login_as(make.user(), the_client=app.test_client())

    response = laptop.post("/account/sign-out-everywhere", data={})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sign-in"

    assert not signed_in(laptop)
    answer = phone.get("/account")
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/sign-in"
    assert "signed out on this device" in text(body(phone.get("/sign-in")))
    assert signed_in(someone_else)
    [event] = audit("auth.sign_out_everywhere")
    assert event.actor_id == user.id and event.after == {"tokens_revoked": 0}

    # Signing in again works, and the new session is not ended by the old epoch.
    login_as(user, the_client=phone)
    assert signed_in(phone)


def test_sign_out_everywhere_can_revoke_api_tokens_too(client, make, login_as, api):
    user = make.user()
    token = make.token_for(user)
    login_as(user)
    client.post("/account/sign-out-everywhere", data={"revoke_tokens": "y"})
    assert ApiClient(api().client, token).get("me").status_code == 401
    [event] = audit("auth.sign_out_everywhere")
    assert event.after == {"tokens_revoked": 1}


def test_changing_the_password_signs_out_other_devices_but_not_this_one(app, make, login_as):
    user = make.user()
    here = login_as(user, the_client=app.test_client())
    elsewhere = login_as(user, the_client=app.test_client())
    response = here.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert signed_in(here)
    assert not signed_in(elsewhere)


def test_a_password_reset_ends_every_session(app, make, login_as, ctx):
    user = make.user()
    browser = login_as(user, the_client=app.test_client())
    services.complete_password_token(
        services.make_password_token(user, "reset"), "reset", NEW_PASSWORD
    )
    db.session.commit()
    assert not signed_in(browser)


def test_an_admin_signs_a_user_out_everywhere_and_revokes_their_tokens(
    app, client, make, login_as, api
):
    admin = make.user("admin")
    user = make.user()
    token = make.token_for(user)
    victim_browser = login_as(user, the_client=app.test_client())

    login_as(admin)
    response = client.post(f"/users/{user.id}/sign-out-everywhere")
    assert response.status_code == 302
    assert "1 API token revoked" in text(body(client.get(response.headers["Location"])))
    assert not signed_in(victim_browser)
    assert ApiClient(api().client, token).get("me").status_code == 401
    [event] = audit("auth.sign_out_everywhere")
    assert event.actor_id == admin.id and event.object_id == str(user.id)


def test_only_admins_can_sign_someone_else_out(app, client, make, login_as):
    user = make.user()
    login_as(make.user("learner"))
    response = client.post(f"/users/{user.id}/sign-out-everywhere")
    assert response.status_code in (403, 404)
    assert audit("auth.sign_out_everywhere") == []


def test_the_api_signs_out_everywhere(api, make, login_as, app):
    user = make.user()
    browser = login_as(user, the_client=app.test_client())
    client = api(user)
    response = client.post("me/sign-out-everywhere", json={"revoke_tokens": False})
    assert response.status_code == 200 and response.get_json() == {"tokens_revoked": 0}
    assert not signed_in(browser)
    assert client.get("me").status_code == 200  # the token was kept

    response = client.post("me/sign-out-everywhere", json={"revoke_tokens": True})
    assert response.get_json() == {"tokens_revoked": 1}
    assert client.get("me").status_code == 401


# --- scoped and revocable tokens ---------------------------------------------------------------


def test_a_read_only_token_reads_but_cannot_change_anything(api, make):
    learner = make.user("learner")
    response = api().post(
        "auth/tokens", json={"email": learner.email, "password": PASSWORD, "scopes": ["read"]}
    )
    assert response.status_code == 201 and response.get_json()["scopes"] == ["read"]
    reader = ApiClient(api().client, response.get_json()["token"])
    assert reader.get("me/marks-sharing").status_code == 200
    refused = reader.put("me/marks-sharing", json={"shares_marks_with_sponsor": True})
    assert refused.status_code == 403
    assert "only read" in refused.get_json()["message"]
    db.session.refresh(learner)
    assert learner.shares_marks_with_sponsor is False
    # The same request with a token that may write goes through.
    writer = api(learner)
    assert (
        writer.put("me/marks-sharing", json={"shares_marks_with_sponsor": True}).status_code == 200
    )


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"scopes": []}, "scopes"), ({"scopes": ["admin"]}, "scopes"), ({"days": 0}, "days")],
)
def test_token_requests_with_bad_scopes_or_lifetimes_are_refused(api, make, extra, field):
    user = make.user()
    response = api().post("auth/tokens", json={"email": user.email, "password": PASSWORD, **extra})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_tokens_are_listed_without_their_secrets(api, make):
    user = make.user()
    client = api(user)
    other = make.user()
    make.token_for(other)
    [listed] = client.get("auth/tokens").get_json()
    assert set(listed) == {"id", "label", "scopes", "created_at", "expires_at", "last_used_at"}
    assert listed["scopes"] == ["read", "write"]


def test_the_tokens_page_makes_a_token_shown_once_and_revokes_it(client, make, login_as, api):
    user = make.user()
    login_as(user)
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "You have no tokens that still work." in text(body(page))

    made = client.post("/account/tokens", data={"label": "Board report", "days": "30"})
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    [stored] = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert stored.scopes == ["read"] and stored.label == "Board report"
    secret = re.search(r"acd_[A-Za-z0-9_-]+", body(made)).group(0)
    reader = ApiClient(api().client, secret)
    assert reader.get("me").status_code == 200
    assert secret not in body(client.get("/account/tokens"))  # shown once only
    assert "Read only" in text(body(client.get("/account/tokens")))

    revoked = client.post(f"/account/tokens/{stored.id}/revoke")
    assert revoked.status_code == 302
    assert reader.get("me").status_code == 401
    [event] = audit("token.revoke")
    assert event.actor_id == user.id


def test_the_tokens_page_refuses_a_missing_name(client, make, login_as):
    login_as(make.user())
    response = client.post("/account/tokens", data={"label": "", "days": "30"})
    assert response.status_code == 422
    assert error_summary(response) == [("#label", "Enter a name for the token")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_nobody_revokes_another_persons_token_from_the_page(client, make, login_as):
    owner = make.user()
    make.token_for(owner)
    [token] = db.session.scalars(sa.select(ApiToken)).all()
    login_as(make.user())
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    db.session.refresh(token)
    assert token.revoked_at is None
