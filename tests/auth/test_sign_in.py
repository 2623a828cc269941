"""Signing in and out through the HTML pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth.views import SIGN_IN_FAILED
from tests.auth.helpers import (
    body,
    error_summary,
    h1,
    inputs,
    labels_for,
    page_without_nonce,
    title,
)
from tests.factories import PASSWORD


def audits(db, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def sign_in(client, email: str, password: str, path: str = "/sign-in"):
    return client.post(path, data={"email": email, "password": password})


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_sign_in_page_labels_every_field_and_tells_password_managers_what_to_fill(client):
    response = client.get("/sign-in")
    assert response.status_code == 200
    assert h1(response) == "Sign in"
    assert title(response).startswith("Sign in")
    fields = {field["name"]: field for field in inputs(response)}
    assert fields["email"]["autocomplete"] == "email"
    assert fields["password"]["autocomplete"] == "current-password"
    assert fields["password"]["type"] == "password"
    assert {"email", "password"} <= labels_for(response)
    assert 'href="/forgot-password"' in body(response)


def test_correct_password_signs_in_and_is_audited(client, make, db):
    user = make.user(email="priya.shah@nhs.test")
    response = sign_in(client, "Priya.Shah@NHS.test ", PASSWORD)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert is_signed_in(client)
    [event] = audits(db, "auth.login")
    assert event.actor_id == user.id
    assert event.after == {"channel": "web"}


def test_wrong_password_and_unknown_email_get_the_same_answer_and_are_audited(client, make, db):
    known = make.user(email="known@nhs.test")
    wrong_password = sign_in(client, "known@nhs.test", "not the password at all")
    unknown_email = sign_in(client, "nobody@nhs.test", "not the password at all")

    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert error_summary(response) == [("#password", SIGN_IN_FAILED)]
        assert title(response).startswith("Error: Sign in")
    # Apart from the address typed and the script nonce, the pages are byte-for-byte the same.
    assert page_without_nonce(wrong_password).replace(
        "known@nhs.test", "EMAIL"
    ) == page_without_nonce(unknown_email).replace("nobody@nhs.test", "EMAIL")
    assert not is_signed_in(client)
    failures = audits(db, "auth.login_failed")
    assert [(f.actor_id, f.after["email"]) for f in failures] == [
        (known.id, "known@nhs.test"),
        (None, "nobody@nhs.test"),
    ]
    assert audits(db, "auth.login") == []


def test_a_deactivated_account_cannot_sign_in(client, make, db):
    make.user(email="left@nhs.test", active=False)
    response = sign_in(client, "left@nhs.test", PASSWORD)
    assert response.status_code == 200
    assert error_summary(response) == [("#password", SIGN_IN_FAILED)]
    assert not is_signed_in(client)
    assert len(audits(db, "auth.login_failed")) == 1


def test_missing_fields_are_form_errors_linked_to_their_fields(client):
    response = client.post("/sign-in", data={"email": "", "password": ""})
    assert response.status_code == 200
    assert error_summary(response) == [
        ("#email", "Enter your email address"),
        ("#password", "Enter your password"),
    ]


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/account",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "account",
    ],
)
def test_next_pointing_off_the_site_falls_back_to_the_account_page(client, make, target):
    user = make.user()
    response = client.post(
        "/sign-in", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) in {
        ("", "", "/account"),
        ("http", "localhost", "/account"),
    }


def test_next_on_this_site_is_followed_after_sign_in(client, make):
    user = make.user()
    redirected = client.get("/account/password")
    assert redirected.status_code == 302
    login_page = redirected.headers["Location"]
    assert urlsplit(login_page).path == "/sign-in"
    # The form posts back to an address that keeps `next`.
    form_action = re.search(r'<form method="post" action="([^"]+)"', body(client.get(login_page)))
    response = client.post(
        form_action.group(1).replace("&amp;", "&"), data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/password")


def test_signing_in_starts_a_fresh_session_with_an_httponly_cookie(client, make):
    user = make.user()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    response = sign_in(client, user.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(user.id)


def test_a_signed_in_person_visiting_sign_in_goes_to_their_account(client, make, login_as):
    login_as(make.user())
    response = client.get("/sign-in")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"


def test_too_many_attempts_get_a_clear_page_with_retry_after(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    user = make.user()
    for _ in range(3):
        assert sign_in(client, user.email, "wrong password here").status_code == 200

    blocked = sign_in(client, user.email, PASSWORD)
    assert blocked.status_code == 429
    assert h1(blocked) == "Too many sign-in attempts"
    assert int(blocked.headers["Retry-After"]) > 0
    assert 'href="/forgot-password"' in body(blocked)
    assert not is_signed_in(client)
    # Looking at the page is not an attempt.
    assert client.get("/sign-in").status_code == 200


def test_sign_in_without_a_csrf_token_is_refused_and_with_one_succeeds(
    app, client, make, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = make.user()

    refused = sign_in(client, user.email, PASSWORD)
    assert refused.status_code == 400
    assert h1(refused) == "Your form was not sent"
    assert 'href="/sign-in"' in body(refused)
    assert not is_signed_in(client)

    page = client.get("/sign-in")
    token = next(field["value"] for field in inputs(page) if field["name"] == "csrf_token")
    accepted = client.post(
        "/sign-in", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302
    assert is_signed_in(client)


def test_sign_out_needs_a_post_and_ends_the_session(client, make, login_as, db):
    user = make.user()
    login_as(user)

    confirm = client.get("/sign-out")
    assert confirm.status_code == 200
    assert h1(confirm) == "Sign out"
    assert is_signed_in(client), "a GET must not sign anyone out"

    response = client.post("/sign-out")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sign-in"
    assert "You have signed out" in body(client.get("/sign-in"))
    assert not is_signed_in(client)
    [event] = audits(db, "auth.logout")
    assert event.actor_id == user.id


def test_sign_out_when_not_signed_in_just_goes_to_sign_in(client):
    assert urlsplit(client.get("/sign-out").headers["Location"]).path == "/sign-in"
    assert urlsplit(client.post("/sign-out").headers["Location"]).path == "/sign-in"
