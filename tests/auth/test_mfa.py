"""Two-factor authentication: enrolling, the second sign-in step, recovery codes, staff who must
use it, the API's `otp`, and an admin's reset. Time is the academy clock, pinned per test."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth import mfa
from academy.auth.models import RecoveryCode, User
from academy.core import clock
from tests.api import assert_error
from tests.auth.helpers import body, error_summary, h1, text
from tests.factories import PASSWORD, TOTP_SECRET, totp_code

#: On a 30-second boundary plus a little, so "the next step" is a clear 30 seconds away.
NOW = datetime(2027, 3, 1, 9, 0, 5, tzinfo=UTC)
RECOVERY_CODE = re.compile(r"\b[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}\b")


@pytest.fixture(autouse=True)
def pinned_clock():
    with clock.frozen_at(NOW):
        yield


def later(seconds: float):
    return clock.frozen_at(NOW + timedelta(seconds=seconds))


def audits(db, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def path_of(response) -> str:
    return urlsplit(response.headers["Location"]).path


def sign_in(client, user, password: str = PASSWORD):
    return client.post("/sign-in", data={"email": user.email, "password": password})


def enter_code(client, code: str):
    return client.post("/sign-in/verify", data={"code": code})


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def fresh(db, user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def shown_secret(response) -> str:
    match = re.search(r'<code id="mfa-secret">([^<]+)</code>', body(response))
    assert match, "the set-up page shows the key for typing into an app"
    return match.group(1).replace(" ", "")


# --- enrolling ------------------------------------------------------------------------------------


def test_a_learner_enrols_with_a_qr_code_and_gets_ten_recovery_codes_shown_once(
    client, make, login_as, db
):
    user = make.user()
    login_as(user)

    page = client.get("/account/mfa")
    assert page.status_code == 200
    assert h1(page) == "Set up two-factor authentication"
    assert page.headers["Cache-Control"] == "no-store"
    # The QR code is drawn here, as a data: image; nothing is fetched from elsewhere.
    assert re.search(r'<img src="data:image/svg\+xml[^"]+"[^>]*alt="QR code', body(page))
    secret = shown_secret(page)
    assert client.get("/account/mfa").status_code == 200
    assert shown_secret(client.get("/account/mfa")) == secret, "a reload keeps the scanned key"

    wrong = client.post("/account/mfa", data={"code": "000000"})
    assert error_summary(wrong) == [("#code", mfa.WRONG_CODE)]
    assert not mfa.is_enrolled(fresh(db, user))

    done = client.post("/account/mfa", data={"code": code_at(secret, NOW)})
    assert done.status_code == 200
    assert h1(done) == "Save your recovery codes"
    assert done.headers["Cache-Control"] == "no-store"
    codes = RECOVERY_CODE.findall(body(done))
    assert len(set(codes)) == 10

    stored = fresh(db, user)
    assert stored.totp_enabled_at == NOW
    assert secret not in stored.totp_secret, "the secret is stored encrypted"
    assert mfa.decrypt_secret(stored.totp_secret) == secret
    hashes = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(hashes) == 10 and not any(code.replace("-", "") in hashes for code in codes)
    [event] = audits(db, "mfa.enrol")
    assert (event.actor_id, event.object_id) == (user.id, str(user.id))

    # Shown once: the page now describes the set-up, with no codes on it.
    again = client.get("/account/mfa")
    assert h1(again) == "Two-factor authentication"
    assert RECOVERY_CODE.findall(body(again)) == []
    assert "10 of 10" in text(body(again))


def test_the_secret_cannot_be_read_with_another_secret_key(app, make, db, monkeypatch):
    user = make.user()
    make.mfa(user)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-that-is-long-enough-too")
    assert mfa.decrypt_secret(fresh(db, user).totp_secret) is None


# --- the second step of signing in ----------------------------------------------------------------


def test_an_enrolled_user_needs_a_code_after_the_password(client, make, db):
    user = make.user()
    make.mfa(user)

    response = sign_in(client, user)
    assert path_of(response) == "/sign-in/verify"
    assert not is_signed_in(client)
    with client.session_transaction() as session:
        assert "_user_id" not in session
        assert set(session["mfa_pending"]) == {"user_id", "at", "next"}
    assert audits(db, "auth.login") == [], "not signed in until the second step"
    page = client.get("/sign-in/verify")
    assert h1(page) == "Enter your security code"

    done = enter_code(client, code_at(TOTP_SECRET, NOW))
    assert path_of(done) == "/account"
    assert is_signed_in(client)
    [event] = audits(db, "auth.login")
    assert event.after == {"channel": "web", "second_factor": "totp"}


def test_the_next_address_survives_the_second_step(client, make):
    user = make.user()
    make.mfa(user)
    client.post(
        "/sign-in",
        query_string={"next": "/account/password"},
        data={"email": user.email, "password": PASSWORD},
    )
    done = enter_code(client, code_at(TOTP_SECRET, NOW))
    assert path_of(done) == "/account/password"


def test_a_wrong_code_is_refused_and_audited(client, make, db):
    user = make.user()
    make.mfa(user)
    sign_in(client, user)

    refused = enter_code(client, "123456" if code_at(TOTP_SECRET, NOW) != "123456" else "654321")
    assert refused.status_code == 200
    assert error_summary(refused) == [("#code", mfa.WRONG_CODE)]
    assert not is_signed_in(client)
    assert [e.actor_id for e in audits(db, "auth.mfa_failed")] == [user.id]
    # A code from two steps ago is outside the window of one step either side.
    assert enter_code(client, code_at(TOTP_SECRET, NOW - timedelta(seconds=60))).status_code == 200
    assert not is_signed_in(client)


def test_codes_one_step_either_side_are_accepted_for_clock_drift(app, make):
    user = make.user()
    make.mfa(user)
    behind = app.test_client()
    sign_in(behind, user)
    assert path_of(enter_code(behind, code_at(TOTP_SECRET, NOW - timedelta(seconds=30)))) == (
        "/account"
    )
    with later(60):
        ahead = app.test_client()
        sign_in(ahead, user)
        moment = NOW + timedelta(seconds=90)
        assert path_of(enter_code(ahead, code_at(TOTP_SECRET, moment))) == "/account"


def test_a_code_is_good_once(app, make, db):
    user = make.user()
    make.mfa(user)
    code = code_at(TOTP_SECRET, NOW)
    first, second = app.test_client(), app.test_client()
    sign_in(first, user)
    assert path_of(enter_code(first, code)) == "/account"

    sign_in(second, user)
    replayed = enter_code(second, code)
    assert replayed.status_code == 200
    assert error_summary(replayed) == [("#code", mfa.WRONG_CODE)]
    assert not is_signed_in(second)
    # Nor is the previous step's code, still inside the window, once a later one was used.
    assert enter_code(second, code_at(TOTP_SECRET, NOW - timedelta(seconds=30))).status_code == 200

    with later(30):
        assert (
            path_of(enter_code(second, code_at(TOTP_SECRET, NOW + timedelta(seconds=30))))
            == "/account"
        )


def test_a_recovery_code_works_once(app, make, db):
    user = make.user()
    codes = make.mfa(user)

    first = app.test_client()
    sign_in(first, user)
    # However it was copied: capitals, spaces.
    done = enter_code(first, " " + codes[0].upper().replace("-", " - ") + " ")
    assert path_of(done) == "/account"
    assert "You have 9 left" in text(body(first.get("/account")))
    [used] = audits(db, "auth.recovery_code_used")
    assert used.after == {"channel": "web", "left": 9}
    assert audits(db, "auth.login")[-1].after["second_factor"] == "recovery"

    second = app.test_client()
    sign_in(second, user)
    assert error_summary(enter_code(second, codes[0])) == [("#code", mfa.WRONG_CODE)]
    assert path_of(enter_code(second, codes[1])) == "/account"


def test_the_pending_sign_in_expires_after_five_minutes(client, make, db):
    user = make.user()
    make.mfa(user)
    sign_in(client, user)

    with later(5 * 60 + 1):
        late = enter_code(client, code_at(TOTP_SECRET, NOW + timedelta(seconds=301)))
        assert path_of(late) == "/sign-in"
        assert not is_signed_in(client)
        assert "You took too long" in text(body(client.get("/sign-in")))
        assert path_of(client.get("/sign-in/verify")) == "/sign-in"
    assert audits(db, "auth.login") == []


def test_the_pending_sign_in_reaches_no_other_page(client, make):
    user = make.user("learner")
    make.mfa(user)
    sign_in(client, user)
    for path in ("/account", "/account/mfa", "/", "/accessibility"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert path_of(response) == "/sign-in/verify", path


def test_a_user_without_two_factor_signs_in_with_the_password_alone(client, make, db):
    response = sign_in(client, make.user("sponsor", scope=make.organisation()))
    assert path_of(response) == "/account"
    assert is_signed_in(client)


# --- staff who must use it -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "tutor"])
def test_staff_must_enrol_before_reaching_any_page(client, make, db, role):
    user = make.user(role)

    response = sign_in(client, user)
    assert path_of(response) == "/sign-in/set-up"
    with client.session_transaction() as session:
        assert "_user_id" not in session
    for path in ("/account", "/users", "/admin/audit", "/sign-in/verify", "/account/mfa"):
        refused = client.get(path)
        assert refused.status_code == 302 and path_of(refused) == "/sign-in/set-up", path
    assert not is_signed_in(client)

    page = client.get("/sign-in/set-up")
    assert h1(page) == "Set up two-factor authentication"
    assert "Your role in the academy" in text(body(page))
    secret = shown_secret(page)
    assert error_summary(client.post("/sign-in/set-up", data={"code": "000000"})) == [
        ("#code", mfa.WRONG_CODE)
    ]

    done = client.post("/sign-in/set-up", data={"code": code_at(secret, NOW)})
    assert h1(done) == "Save your recovery codes"
    assert len(RECOVERY_CODE.findall(body(done))) == 10
    assert is_signed_in(client)
    assert mfa.is_enrolled(fresh(db, user))
    assert audits(db, "auth.login")[-1].after == {"channel": "web", "second_factor": "totp"}


def test_forced_enrolment_also_expires(client, make):
    sign_in(client, make.user("admin"))
    with later(301):
        assert path_of(client.get("/sign-in/set-up")) == "/sign-in"
        assert path_of(client.get("/account")) == "/sign-in"


def test_staff_cannot_turn_it_off_but_a_learner_can(client, make, login_as, db):
    admin = make.user("admin")
    login_as(admin)
    assert client.get("/account/mfa/turn-off").status_code == 403
    with later(30):
        code = totp_code(admin)
        assert client.post("/account/mfa/turn-off", data={"code": code}).status_code == 403
    assert mfa.is_enrolled(fresh(db, admin))

    learner = make.user()
    make.mfa(learner)
    with later(60):
        login_as(learner)
    with later(90):
        refused = client.post("/account/mfa/turn-off", data={"code": "000000"})
        assert error_summary(refused) == [("#code", mfa.WRONG_CODE)]
        done = client.post("/account/mfa/turn-off", data={"code": totp_code(learner)})
    assert path_of(done) == "/account"
    stored = fresh(db, learner)
    assert not mfa.is_enrolled(stored) and stored.totp_secret is None
    assert db.session.scalar(sa.select(sa.func.count(RecoveryCode.id))) == 10, "the admin's only"
    assert [e.object_id for e in audits(db, "mfa.disable")] == [str(learner.id)]
    browser = client.application.test_client()
    assert path_of(sign_in(browser, learner)) == "/account"
    assert is_signed_in(browser)


def test_new_recovery_codes_need_a_current_code_and_replace_the_old(client, make, login_as, db):
    user = make.user()
    old = make.mfa(user)
    login_as(user)

    with later(30):
        refused = client.post("/account/mfa/recovery-codes", data={"code": "000000"})
        assert error_summary(refused) == [("#code", mfa.WRONG_CODE)]
        assert audits(db, "mfa.recovery_regenerated") == []
        done = client.post("/account/mfa/recovery-codes", data={"code": totp_code(user)})
    new = RECOVERY_CODE.findall(body(done))
    assert len(new) == 10 and not set(new) & set(old)
    assert len(audits(db, "mfa.recovery_regenerated")) == 1

    other = client.application.test_client()
    sign_in(other, user)
    assert error_summary(enter_code(other, old[0])) == [("#code", mfa.WRONG_CODE)]
    assert path_of(enter_code(other, new[0])) == "/account"


# --- an admin's reset ---------------------------------------------------------------------------


def test_an_admin_resets_a_lost_authenticator_and_the_tutor_enrols_again(
    app, client, make, login_as, db
):
    tutor = make.user("tutor")
    make.mfa(tutor)
    tutor_browser = app.test_client()
    login_as(tutor, the_client=tutor_browser)
    admin = make.user("admin")
    login_as(admin)

    page = client.get(f"/users/{tutor.id}")
    assert "Two-factor authentication Set up (required by their role)" in text(body(page))
    done = client.post(f"/users/{tutor.id}/mfa/reset")
    assert path_of(done) == f"/users/{tutor.id}"
    assert "set it up again when they next sign in" in text(body(client.get(f"/users/{tutor.id}")))

    stored = fresh(db, tutor)
    assert not mfa.is_enrolled(stored) and stored.totp_secret is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(RecoveryCode.id)).where(RecoveryCode.user_id == tutor.id)
        )
        == 0
    )
    [event] = audits(db, "mfa.reset")
    assert (event.actor_id, event.object_id) == (admin.id, str(tutor.id))
    # Whoever has the lost phone may hold a signed-in browser too: it is signed out.
    assert not is_signed_in(tutor_browser)
    assert path_of(sign_in(app.test_client(), tutor)) == "/sign-in/set-up"


def test_an_operator_resets_from_the_command_line_when_no_admin_can_sign_in(app, make, db):
    admin = make.user("admin")
    make.mfa(admin)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["academy", "mfa-reset", admin.email.upper()])
    assert result.exit_code == 0, result.output
    assert f"Two-factor authentication of {admin.email} has been reset" in result.output
    assert not mfa.is_enrolled(fresh(db, admin))
    [event] = audits(db, "mfa.reset")
    assert (event.actor_id, event.object_id) == (None, str(admin.id))
    assert path_of(sign_in(app.test_client(), admin)) == "/sign-in/set-up"

    again = runner.invoke(args=["academy", "mfa-reset", admin.email])
    assert again.exit_code == 1 and "has not set up two-factor authentication" in again.output
    unknown = runner.invoke(args=["academy", "mfa-reset", "nobody@nhs.test"])
    assert unknown.exit_code == 1 and "No account" in unknown.output


def test_only_admins_can_reset(client, make, login_as, db):
    organisation = make.organisation()
    learner = make.user(organisation=organisation)
    make.mfa(learner)
    login_as(make.user("sponsor", scope=organisation))
    assert client.post(f"/users/{learner.id}/mfa/reset").status_code in (403, 404)
    assert mfa.is_enrolled(fresh(db, learner))


# --- the API ------------------------------------------------------------------------------------


def ask_for_token(api, user, **extra):
    return api().post("auth/tokens", json={"email": user.email, "password": PASSWORD, **extra})


def test_token_creation_needs_otp_for_an_enrolled_user(api, make, db):
    user = make.user()
    codes = make.mfa(user)

    missing = assert_error(ask_for_token(api, user), 401)
    assert "`otp`" in missing["message"] and "two-factor" in missing["message"]
    wrong = assert_error(ask_for_token(api, user, otp="000000"), 401)
    assert wrong["message"] == "The `otp` code is not right, or it has been used already."
    assert [e.after["channel"] for e in audits(db, "auth.mfa_failed")] == ["api"]

    made = ask_for_token(api, user, otp=code_at(TOTP_SECRET, NOW))
    assert made.status_code == 201, made.get_json()
    assert assert_error(ask_for_token(api, user, otp=code_at(TOTP_SECRET, NOW)), 401)
    assert ask_for_token(api, user, otp=codes[0]).status_code == 201
    assert assert_error(ask_for_token(api, user, otp=codes[0]), 401)
    logins = [e.after for e in audits(db, "auth.login")]
    assert logins == [
        {"channel": "api", "second_factor": "totp"},
        {"channel": "api", "second_factor": "recovery"},
    ]


def test_staff_without_two_factor_cannot_make_tokens_by_password(api, make, db):
    admin = make.user("admin")
    refused = assert_error(ask_for_token(api, admin), 403)
    assert "Sign in on the website to set it up" in refused["message"]
    assert audits(db, "auth.login") == []


def test_a_learner_without_two_factor_needs_no_otp(api, make):
    assert ask_for_token(api, make.user()).status_code == 201


# --- the demo -------------------------------------------------------------------------------------


def test_the_demo_staff_are_enrolled_with_the_secrets_it_prints(app, db):
    from academy.demo import DEMO_TOTP_SECRETS

    result = app.test_cli_runner().invoke(args=["academy", "demo"])
    assert result.exit_code == 0, result.output
    for email, secret in DEMO_TOTP_SECRETS.items():
        assert secret in result.output
        user = db.session.scalar(sa.select(User).where(User.email == email))
        assert mfa.required_for(user)
        assert mfa.decrypt_secret(user.totp_secret) == secret
    assert len(set(DEMO_TOTP_SECRETS.values())) == len(DEMO_TOTP_SECRETS)
