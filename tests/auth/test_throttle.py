"""Backing off repeated failed sign-ins, per email address typed and per client address, in the
database, on the HTML form, the API and the second-factor step."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth import throttle
from academy.auth.models import LoginThrottle
from academy.auth.views import SIGN_IN_FAILED
from academy.core import clock
from academy.extensions import db as _db
from tests.api import assert_error
from tests.auth.helpers import body, error_summary, page_without_nonce, text
from tests.concurrency import committed_app, run_together  # noqa: F401 - a fixture
from tests.factories import PASSWORD, TOTP_SECRET

NOW = datetime(2027, 3, 1, 9, 0, 5, tzinfo=UTC)
WRONG = "not the password at all"
HOME = "198.51.100.10"


@pytest.fixture(autouse=True)
def pinned_clock():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture(autouse=True)
def no_rate_limit(app, monkeypatch):
    # flask-limiter's per-minute budget (its own tests) would answer 429 before the backoff does.
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")


def later(seconds: float):
    return clock.frozen_at(NOW + timedelta(seconds=seconds))


def sign_in(client, email: str, password: str, address: str = HOME):
    return client.post(
        "/sign-in",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def fail(client, email: str, times: int, address: str = HOME) -> None:
    for _ in range(times):
        response = sign_in(client, email, WRONG, address)
        assert error_summary(response) == [("#password", SIGN_IN_FAILED)]


def locked_message(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many attempts. Try again in {minutes} {unit}."


def waits(response) -> int:
    """Retry-After in whole seconds. flask-limiter rewrites the header on its routes from the
    wall clock (truncating), so allow the second it may lose."""
    seconds = int(response.headers["Retry-After"])
    return seconds + 1 if seconds % 60 == 59 else seconds


def audits(db, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# --- an account ---------------------------------------------------------------------------------


def test_five_failures_lock_an_account_and_each_further_failure_doubles_the_wait(client, make, db):
    user = make.user(email="priya@nhs.test")
    fail(client, user.email, 4)
    assert sign_in(client, user.email, PASSWORD).status_code == 302, "four is not enough"
    client.post("/sign-out")
    fail(client, user.email, 5)

    # Locked: even the right password is refused, unchecked, with a 429 and the form.
    refused = sign_in(client, user.email, PASSWORD)
    assert refused.status_code == 429
    assert waits(refused) == 60
    assert error_summary(refused) == []  # not on a field: nothing there is wrong
    assert locked_message(1) in text(body(refused))
    assert 'name="password"' in body(refused), "the form is still there to try again later"
    assert not is_signed_in(client)
    [throttled] = audits(db, "auth.login_throttled")
    assert throttled.after == {"email": "priya@nhs.test", "channel": "web", "retry_after": 60}
    assert len(audits(db, "auth.login_failed")) == 9, "the refused attempt was not checked"

    seen = []
    moment = 0
    for _ in range(6):
        moment += 15 * 60  # past any lock
        with later(moment):
            fail(client, user.email, 1)
            seen.append(waits(sign_in(client, user.email, PASSWORD)))
    assert seen == [120, 240, 480, 900, 900, 900], "doubling, up to 15 minutes"

    with later(moment + 899):
        assert sign_in(client, user.email, PASSWORD).status_code == 429
    with later(moment + 900):
        assert sign_in(client, user.email, PASSWORD).status_code == 302


def test_a_locked_known_and_unknown_address_look_the_same(client, make):
    make.user(email="known@nhs.test")
    pages = []
    for email in ("known@nhs.test", "nobody@nhs.test"):
        fail(client, email, 5)
        refused = sign_in(client, email, WRONG)
        assert refused.status_code == 429
        assert waits(refused) == 60
        pages.append(page_without_nonce(refused).replace(email, "EMAIL"))
    assert pages[0] == pages[1]
    assert locked_message(1) in text(pages[0])


def test_a_success_clears_the_account_but_not_the_address(client, make, db):
    user = make.user()
    fail(client, user.email, 4)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    client.post("/sign-out")
    fail(client, user.email, 4)
    assert sign_in(client, user.email, PASSWORD).status_code == 302

    counts = dict(db.session.execute(sa.select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert throttle.account_key(user.email) not in counts
    assert counts[throttle.address_key(HOME)] == 8


def test_failures_are_forgotten_after_a_quiet_day(client, make):
    user = make.user()
    fail(client, user.email, 4)
    with later(24 * 3600 + 1):
        fail(client, user.email, 4)
        assert sign_in(client, user.email, PASSWORD).status_code == 302


def test_the_keys_are_hashes_not_addresses(client, make, db):
    fail(client, "Someone@NHS.test ", 1)
    keys = set(db.session.scalars(sa.select(LoginThrottle.key)))
    assert keys == {throttle.account_key("someone@nhs.test"), throttle.address_key(HOME)}
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)


# --- a client address ---------------------------------------------------------------------------


def test_thirty_quick_failures_from_one_address_lock_it_for_every_account(client, make):
    user = make.user()
    for n in range(30):
        fail(client, f"guess{n}@nhs.test", 1)
    refused = sign_in(client, user.email, PASSWORD)
    assert refused.status_code == 429
    assert locked_message(1) in text(body(refused))
    # Another address is not held up, nor is this account there.
    assert sign_in(client, user.email, PASSWORD, address="203.0.113.9").status_code == 302


def test_an_address_forgets_failures_spread_over_the_day(client, make):
    """A trust's staff share one NAT address: their occasional typing mistakes must never add up
    to a lock-out, while the same number in a burst does (above)."""
    user = make.user()
    for n in range(60):
        with later(n * 11 * 60):
            fail(client, f"typo{n}@nhs.test", 1)
    with later(60 * 11 * 60):
        assert sign_in(client, user.email, PASSWORD).status_code == 302


def test_the_limits_come_from_config(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURES_BEFORE_BACKOFF", 2)
    monkeypatch.setitem(app.config, "LOGIN_BACKOFF_MAX_MINUTES", 3)
    user = make.user()
    fail(client, user.email, 2)
    assert waits(sign_in(client, user.email, PASSWORD)) == 60
    with later(60):
        fail(client, user.email, 1)
        assert waits(sign_in(client, user.email, PASSWORD)) == 120
    with later(180):
        fail(client, user.email, 1)
        assert waits(sign_in(client, user.email, PASSWORD)) == 180


# --- the second factor --------------------------------------------------------------------------


def test_wrong_codes_count_and_a_locked_code_step_is_refused_unchecked(client, make, db):
    user = make.user()
    make.mfa(user)
    sign_in(client, user.email, PASSWORD)
    for _ in range(5):
        assert client.post("/sign-in/verify", data={"code": "000000"}).status_code == 200
    refused = client.post("/sign-in/verify", data={"code": pyotp.TOTP(TOTP_SECRET).at(NOW)})
    assert refused.status_code == 429
    assert waits(refused) == 60
    assert locked_message(1) in text(body(refused))
    assert not is_signed_in(client)
    # The password step is locked for the account too.
    assert sign_in(client, user.email, PASSWORD).status_code == 429


def test_a_correct_password_does_not_clear_failures_before_the_code(client, make):
    """Else a guesser who knows the password could try codes forever, four at a time."""
    user = make.user()
    make.mfa(user)
    for _ in range(5):
        assert sign_in(client, user.email, PASSWORD).status_code == 302
        client.post("/sign-in/verify", data={"code": "000000"})
    assert sign_in(client, user.email, PASSWORD).status_code == 429


# --- the API ------------------------------------------------------------------------------------


def test_the_api_answers_429_with_retry_after_while_locked(api, make, db):
    user = make.user()
    for _ in range(5):
        wrong = api().post("auth/tokens", json={"email": user.email, "password": WRONG})
        assert wrong.status_code == 401
    refused = api().post("auth/tokens", json={"email": user.email, "password": PASSWORD})
    body = assert_error(refused, 429)
    assert body["message"] == locked_message(1)
    assert waits(refused) == 60
    [event] = audits(db, "auth.login_throttled")
    assert event.after["channel"] == "api"
    with later(60):
        made = api().post("auth/tokens", json={"email": user.email, "password": PASSWORD})
        assert made.status_code == 201


def test_the_api_and_the_form_share_the_count(client, api, make):
    user = make.user()
    for _ in range(3):
        api().post("auth/tokens", json={"email": user.email, "password": WRONG})
    fail(client, user.email, 2, address="127.0.0.1")
    assert sign_in(client, user.email, PASSWORD, address="127.0.0.1").status_code == 429


# --- housekeeping -------------------------------------------------------------------------------


def test_purge_stale_removes_quiet_unlocked_keys_only(app, make, db):
    with app.test_request_context():
        with later(-3 * 24 * 3600):
            throttle.record_failure("old@nhs.test", "192.0.2.1")
        with later(-3 * 24 * 3600):
            for _ in range(9):
                throttle.record_failure("long-locked@nhs.test", "192.0.2.2")
        db.session.execute(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key == throttle.account_key("long-locked@nhs.test"))
            .values(locked_until=NOW + timedelta(minutes=5))
        )
        throttle.record_failure("recent@nhs.test", "192.0.2.3")

        assert throttle.purge_stale(timedelta(days=1)) == 3
        left = set(db.session.scalars(sa.select(LoginThrottle.key)))
        assert left == {
            throttle.account_key("long-locked@nhs.test"),
            throttle.account_key("recent@nhs.test"),
            throttle.address_key("192.0.2.3"),
        }
        assert throttle.purge_stale(timedelta(days=1)) == 0


# --- at the same instant ------------------------------------------------------------------------


@pytest.mark.no_db
def test_concurrent_failures_each_count(committed_app):  # noqa: F811 - the imported fixture
    app = committed_app
    calls = 6

    def one_failure():
        with app.app_context():
            throttle.record_failure("raced@nhs.test", "192.0.2.50")
            _db.session.commit()
            _db.session.remove()

    with clock.frozen_at(NOW):
        run_together(*([one_failure] * calls))
    with app.app_context():
        counts = dict(
            _db.session.execute(sa.select(LoginThrottle.key, LoginThrottle.failures)).all()
        )
        locked = _db.session.get(LoginThrottle, throttle.account_key("raced@nhs.test"))
        _db.session.remove()
    assert counts == {
        throttle.account_key("raced@nhs.test"): calls,
        throttle.address_key("192.0.2.50"): calls,
    }
    # The sixth failure's lock (2 minutes) stands, whichever order the locks were written in.
    assert locked.locked_until == NOW + timedelta(minutes=2)
