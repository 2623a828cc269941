"""ASVS 5.0 requirements docs/security.md claims that no other test proved on its own: HSTS and
no debug mode in production, no demo accounts in production, passwords hashed with argon2id and
long ones kept and checked exactly, audit events the application cannot change or delete, a
deactivated person's open session ending, a sign-out button on every signed-in page, CORS only
on the public credential documents, declared character sets, and search text that stays text."""

from __future__ import annotations

import pytest

from academy import create_app
from academy.audit import services as audit
from academy.audit.models import AuditIsAppendOnly
from academy.auth import services
from tests.signing import TEST_SIGNING_KEY

PRODUCTION = {
    "ACADEMY_ENV": "production",
    "SECRET_KEY": "p" * 64,
    "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
    "DATABASE_URL": "postgresql+psycopg://academy@db.internal/academy",
    "ACADEMY_BASE_URL": "https://academy.example.nhs.uk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    # The limiter is shared by every app a test makes; keep a store the fixtures can reset.
    "RATELIMIT_STORAGE_URI": "memory://",
}
#: Every character class and far past 64 characters (ASVS 6.2.9); nothing may be cut or folded.
LONG_PASSPHRASE = "Tangerine lighthouse marmalade QUIETLY juggles 17 violet umbrellas in November!"


@pytest.fixture
def production_app(monkeypatch):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return create_app()


@pytest.mark.no_db
def test_production_sends_hsts_for_a_year_on_every_subdomain(production_app, app):
    response = production_app.test_client().get(
        "/healthz", base_url="https://academy.example.nhs.uk"
    )
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # A laptop on plain HTTP must not pin its browser to HTTPS for a year.
    assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers


@pytest.mark.no_db
def test_production_runs_without_debug_or_testing_modes(production_app):
    assert production_app.debug is False
    assert production_app.testing is False
    assert production_app.config["PROPAGATE_EXCEPTIONS"] is not True


@pytest.mark.no_db
def test_production_refuses_to_load_the_demo_accounts(production_app):
    result = production_app.test_cli_runner().invoke(args=["academy", "demo"])
    assert result.exit_code != 0
    assert "Refusing to load demo data in production" in result.output


def test_a_long_password_is_kept_and_checked_exactly_as_typed(make, ctx):
    assert len(LONG_PASSPHRASE) > 64
    user = make.user()
    services.set_password(user, LONG_PASSPHRASE, actor=user, reason="changed")
    assert services.authenticate(user.email, LONG_PASSPHRASE) == user
    for altered in (
        LONG_PASSPHRASE[:64],
        LONG_PASSPHRASE.lower(),
        LONG_PASSPHRASE + " ",
        " " + LONG_PASSPHRASE,
    ):
        assert services.authenticate(user.email, altered) is None, altered


def test_passwords_are_stored_as_argon2id_hashes(make, ctx):
    user = make.user()
    services.set_password(user, LONG_PASSPHRASE, actor=user, reason="changed")
    assert user.password_hash.startswith("$argon2id$")
    assert LONG_PASSPHRASE not in user.password_hash


@pytest.mark.parametrize("change", ["update", "delete"])
def test_the_application_cannot_change_or_delete_an_audit_event(make, ctx, db, change):
    event = audit.record("user.create", actor=make.user(), object_type="user", object_id=1)
    db.session.flush()
    if change == "update":
        event.action = "user.delete"
    else:
        db.session.delete(event)
    with pytest.raises(AuditIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_every_signed_in_page_offers_sign_out(app, make, login_as):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    pages = {
        learner: ["/account", "/learning", "/my/credentials", "/account/password"],
        make.user("admin"): ["/account", "/users", "/reports/academy", "/account/mfa"],
    }
    for user, paths in pages.items():
        client = login_as(user, the_client=app.test_client())
        for path in paths:
            html = client.get(path).get_data(as_text=True)
            assert 'action="/sign-out"' in html and ">Sign out</button>" in html, path


def test_a_deactivated_persons_open_session_ends_at_their_next_request(client, make, login_as, db):
    user = make.user()
    login_as(user)
    assert client.get("/account").status_code == 200
    user.active = False
    db.session.commit()
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_only_the_public_credential_documents_may_be_read_from_other_sites(client, api, make):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    credential = make.credential(learner, cohort)
    origin = {"Origin": "https://elsewhere.example"}

    public = client.get(f"/credentials/{credential.uuid}.json", headers=origin)
    assert public.status_code == 200
    assert public.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in public.headers

    private = api(learner).get("me", headers=origin)
    assert private.status_code == 200
    assert "Access-Control-Allow-Origin" not in private.headers
    assert "Access-Control-Allow-Origin" not in client.get("/sign-in", headers=origin).headers


def test_responses_declare_their_type_and_character_set(client, api, make):
    page = client.get("/sign-in")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    data = api(make.user()).get("me")
    assert data.headers["Content-Type"] == "application/json"  # JSON is UTF-8 by definition


@pytest.mark.parametrize("text", ["' OR '1'='1", "x'); DROP TABLE audit_event; --", '" OR ""="'])
def test_sql_in_a_search_box_is_only_text(api, make, text):
    admin = make.user("admin")
    make.user(name="Someone Else")
    response = api(admin).get("users", query_string={"q": text})
    assert response.status_code == 200
    assert response.get_json() == []
    assert api(admin).get("users").status_code == 200
