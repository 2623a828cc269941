"""Forgotten passwords, reset links and invitation links."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth import services
from academy.core import clock
from tests.auth.helpers import (
    body,
    error_summary,
    h1,
    inputs,
    labels_for,
    link_in,
    page_without_nonce,
    text,
)
from tests.factories import PASSWORD

NEW_PASSWORD = "a brand new long passphrase"
CONFIRMATION = "If an account exists for"


def ask_for_reset(client, email: str):
    return client.post("/forgot-password", data={"email": email})


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(path, data={"password": password, "confirm": confirm or password})


def can_sign_in(app, email: str, password: str) -> bool:
    # A fresh client, so the answer does not depend on the session of the test's client.
    response = app.test_client().post("/sign-in", data={"email": email, "password": password})
    return response.status_code == 302


def reset_path(client, outbox, user) -> str:
    assert ask_for_reset(client, user.email).status_code == 200
    [message] = outbox
    return urlsplit(link_in(message, "https://academy.test/reset-password/")).path


def test_known_email_gets_one_reset_email_with_a_link(client, make, outbox):
    user = make.user(email="grace@nhs.test", name="Grace Adeyemi")
    response = ask_for_reset(client, "Grace@NHS.test")
    assert response.status_code == 200
    assert h1(response) == "Check your email"
    assert CONFIRMATION in body(response)

    [message] = outbox
    assert message["To"] == user.email
    assert message["Subject"] == "Reset your Digital Academy password"
    link = link_in(message, "https://academy.test/reset-password/")
    assert "Dear Grace Adeyemi" in message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    assert f'href="{link}"' in html_part
    assert "#005eb8" in html_part


def test_unknown_email_gets_the_same_page_and_no_email(client, make, outbox):
    make.user(email="known@nhs.test")
    known = ask_for_reset(client, "known@nhs.test")
    unknown = ask_for_reset(client, "stranger@nhs.test")
    assert unknown.status_code == known.status_code == 200
    assert page_without_nonce(unknown).replace("stranger@nhs.test", "E") == page_without_nonce(
        known
    ).replace("known@nhs.test", "E")
    assert len(outbox) == 1


def test_forgot_password_form_needs_an_email_address(client, outbox):
    response = ask_for_reset(client, "not an address")
    assert response.status_code == 200
    assert error_summary(response) == [
        ("#email", "Enter an email address in the correct format, like name@example.com")
    ]
    assert outbox == []


def test_reset_link_sets_a_new_password_once(app, client, make, outbox, db):
    user = make.user()
    path = reset_path(client, outbox, user)

    page = client.get(path)
    assert page.status_code == 200
    assert h1(page) == "Choose a new password"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    autocomplete = {field["name"]: field.get("autocomplete") for field in inputs(page)}
    assert autocomplete["password"] == autocomplete["confirm"] == "new-password"
    assert {"password", "confirm"} <= labels_for(page)

    done = choose(client, path)
    assert done.status_code == 302
    assert urlsplit(done.headers["Location"]).path == "/sign-in"
    assert "Your password has been reset" in body(client.get("/sign-in"))
    assert can_sign_in(app, user.email, NEW_PASSWORD)
    assert not can_sign_in(app, user.email, PASSWORD)
    assert db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "user.password_set", AuditEvent.object_id == str(user.id)
        )
    ).after == {"reason": "reset"}

    # The link is bound to the old password, so it is dead now.
    reused = client.get(path)
    assert reused.status_code == 400
    assert h1(reused) == "This link cannot be used"
    assert "already been used" in body(reused)
    assert 'href="/forgot-password"' in body(reused)
    assert choose(client, path, "yet another long password").status_code == 400
    assert can_sign_in(app, user.email, NEW_PASSWORD)


def test_passwords_that_do_not_match_or_break_the_rules_are_form_errors(app, client, make, outbox):
    user = make.user()
    path = reset_path(client, outbox, user)

    mismatch = choose(client, path, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 200
    assert error_summary(mismatch) == [("#confirm", "Passwords do not match")]

    short = choose(client, path, "too short")
    assert short.status_code == 200
    assert error_summary(short) == [("#password", "Password must be at least 12 characters")]

    assert can_sign_in(app, user.email, PASSWORD)
    assert choose(client, path).status_code == 302, "the link still works after a mistake"


def test_an_expired_reset_link_is_refused(app, client, make, outbox):
    user = make.user()
    path = reset_path(client, outbox, user)
    later = clock.now() + timedelta(hours=app.config["PASSWORD_RESET_HOURS"], minutes=1)
    with clock.frozen_at(later):
        page = client.get(path)
        assert page.status_code == 400
        assert "expired" in body(page)
        assert choose(client, path).status_code == 400
    assert can_sign_in(app, user.email, PASSWORD)


def test_a_tampered_or_wrong_kind_of_link_is_refused(client, make, outbox):
    user = make.user()
    path = reset_path(client, outbox, user)
    assert client.get(path[:-3] + "abc").status_code == 400
    token = path.rsplit("/", 1)[1]
    # A reset token is not an invitation token.
    assert client.get(f"/set-password/{token}").status_code == 400


def test_an_invitation_link_lets_a_new_user_set_their_password(app, client, ctx, db, outbox):
    user = services.create_user(
        actor=None, email="new.starter@nhs.test", name="Owen Price", password=None
    )
    db.session.commit()
    assert not can_sign_in(app, "new.starter@nhs.test", "")

    [message] = outbox
    assert message["To"] == "new.starter@nhs.test"
    assert "expires in 14 days" in message.get_body(("plain",)).get_content()
    path = urlsplit(link_in(message, "https://academy.test/set-password/")).path

    page = client.get(path)
    assert page.status_code == 200
    assert h1(page) == "Set your password"
    assert "Set your password to finish creating your account" in text(body(page))

    done = choose(client, path)
    assert done.status_code == 302
    assert urlsplit(done.headers["Location"]).path == "/sign-in"
    assert can_sign_in(app, user.email, NEW_PASSWORD)
    assert client.get(path).status_code == 400


def test_an_expired_invitation_explains_how_to_get_a_new_link(app, client, ctx, db, outbox):
    services.create_user(actor=None, email="late@nhs.test", name="Late Starter", password=None)
    db.session.commit()
    path = urlsplit(link_in(outbox[0], "https://academy.test/set-password/")).path
    with clock.frozen_at(clock.now() + timedelta(days=app.config["INVITATION_DAYS"] + 1)):
        page = client.get(path)
    assert page.status_code == 400
    assert "expired" in body(page)
    assert 'href="/forgot-password"' in body(page)
