"""Staff sessions end after STAFF_IDLE_MINUTES without a request and STAFF_SESSION_HOURS after
sign-in whatever the activity; learners' sessions do not; signing in starts a fresh session."""

from datetime import timedelta

import pytest

from academy.core import clock

EXPIRED = "Your session has expired"


@pytest.fixture
def base():
    return clock.now()


def account_at(client, moment):
    with clock.frozen_at(moment):
        return client.get("/account")


def assert_signed_out(response, client):
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/account")
    assert EXPIRED in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/account").headers["Location"].startswith("/sign-in")


def test_the_staff_limits_are_configured(app):
    assert app.config["STAFF_IDLE_MINUTES"] == 30
    assert app.config["STAFF_SESSION_HOURS"] == 12


@pytest.mark.parametrize("role", ["admin", "tutor", "sponsor", "examiner"])
def test_staff_are_signed_out_after_30_idle_minutes(client, login_as, make, base, role):
    scope = {"tutor": make.cohort, "sponsor": make.organisation, "examiner": make.programme}
    staff = make.user(role, scope=scope[role]() if role in scope else None)
    login_as(staff)
    assert account_at(client, base + timedelta(minutes=29)).status_code == 200
    # That request counted as activity, so the idle clock restarted from it.
    assert account_at(client, base + timedelta(minutes=58)).status_code == 200
    assert_signed_out(account_at(client, base + timedelta(minutes=89)), client)


def test_staff_are_signed_out_12_hours_after_signing_in_however_active(
    client, login_as, make, base
):
    login_as(make.user("admin"))
    for step in range(1, 29):  # every 25 minutes up to 11 hours 40
        assert account_at(client, base + timedelta(minutes=25 * step)).status_code == 200
    assert_signed_out(account_at(client, base + timedelta(hours=12, minutes=1)), client)


def test_learners_keep_their_session_when_idle(client, login_as, make, base):
    login_as(make.user("learner"))
    assert account_at(client, base + timedelta(hours=3)).status_code == 200
    assert account_at(client, base + timedelta(hours=13)).status_code == 200


def test_signing_in_starts_a_fresh_session(client, login_as, make, base):
    with client.session_transaction() as planted:
        planted["_id"] = "fixated-identifier"
        planted["carried_over"] = "from before sign-in"
    login_as(make.user("tutor", scope=make.cohort()))
    with client.session_transaction() as session:
        assert "carried_over" not in session
        assert session["_id"] != "fixated-identifier"
        assert session["signed_in_at"] == pytest.approx(base.timestamp(), abs=60)
        assert session["last_seen"] == session["signed_in_at"]


def test_an_old_last_seen_signs_staff_out(client, login_as, make, base):
    login_as(make.user("admin"))
    with client.session_transaction() as session:
        session["last_seen"] = int((base - timedelta(minutes=31)).timestamp())
    assert_signed_out(client.get("/account"), client)
