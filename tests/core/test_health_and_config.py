import pytest

from academy import create_app
from academy.config import ConfigurationError

#: What production needs besides the secrets (tests/core/test_production.py checks each).
PRODUCTION_SERVICES = {
    "DATABASE_URL": "postgresql+psycopg://academy@db.internal/academy",
    "ACADEMY_BASE_URL": "https://academy.example.nhs.uk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    # The limiter is shared by every app a test makes: keep one the test fixtures can reset.
    "RATELIMIT_STORAGE_URI": "memory://",
}


def test_healthz_answers_without_a_database(client, monkeypatch):
    from academy.extensions import db

    def refuse(*args, **kwargs):
        raise AssertionError("healthz touched the database")

    monkeypatch.setattr(db.session, "execute", refuse)
    monkeypatch.setattr(db.session, "scalar", refuse)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.no_db
@pytest.mark.parametrize("key", [None, "", "dev-only-not-secret-change-me", "short"])
def test_production_refuses_a_missing_or_default_secret_key(monkeypatch, key):
    monkeypatch.setenv("ACADEMY_ENV", "production")
    if key is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


@pytest.mark.no_db
def test_production_starts_with_a_real_secret_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("ACADEMY_ENV", "production")
    for name, value in PRODUCTION_SERVICES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("ACADEMY_SIGNING_KEY", "z3u2RDpgFe6Voz19gxWsBkueKj6XiuC9w1bSBT4FTowsWk6A")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    # The cookie the browser gets: "__Host-" prefixed, so it must be Secure, host-only, path /.
    from flask import session

    with app.test_request_context("https://academy.example/"):
        session["probe"] = 1
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes


@pytest.mark.no_db
def test_production_refuses_to_start_without_a_signing_key(monkeypatch, tmp_path):
    monkeypatch.setenv("ACADEMY_ENV", "production")
    for name, value in PRODUCTION_SERVICES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.delenv("ACADEMY_SIGNING_KEY", raising=False)
    monkeypatch.setenv("ACADEMY_KEY_FILE", str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError, match="signing key"):
        create_app()


@pytest.mark.no_db
def test_default_database_is_a_sqlite_file_under_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"ACADEMY_ENV": "development"})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/academy.db")


@pytest.mark.no_db
def test_postgres_urls_from_hosting_platforms_use_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example/academy")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example/academy"


@pytest.mark.no_db
def test_the_first_signing_key_can_be_made_in_production_and_nothing_else_starts_without(tmp_path):
    """`flask academy keys generate` is how a production install gets its key, so it must start
    without one; any other command (and the web app) still refuses."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    key_file = tmp_path / "signing-keys.json"
    env = {
        **os.environ,
        **PRODUCTION_SERVICES,
        "ACADEMY_ENV": "production",
        "SECRET_KEY": "x" * 64,
        "ACADEMY_KEY_FILE": str(key_file),
    }
    env.pop("ACADEMY_SIGNING_KEY", None)
    root = Path(__file__).resolve().parents[2]

    def flask(*args):
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = flask("routes")
    assert refused.returncode != 0
    assert "needs a credential signing key" in refused.stderr
    made = flask("academy", "keys", "generate")
    assert made.returncode == 0, made.stderr
    assert "New signing key z" in made.stdout and key_file.exists()
    assert flask("routes").returncode == 0
