"""Settings, read only from the environment, with defaults that are safe for a laptop.

`ACADEMY_ENV` is `development` (default), `testing` or `production`. Production refuses to start
with a missing or default `SECRET_KEY`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"
#: The key a development install runs with; production refuses it.
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret-change-me"  # noqa: S105 - refused in production


class ConfigurationError(RuntimeError):
    """The environment does not describe a configuration the app can safely run with."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Let operators paste the `postgres://` URLs that hosting platforms print."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(overrides: dict | None = None) -> dict:
    env = os.environ
    academy_env = (overrides or {}).get("ACADEMY_ENV") or env.get("ACADEMY_ENV", "development")
    instance_dir = Path(env.get("ACADEMY_INSTANCE_DIR", DEFAULT_INSTANCE_DIR))
    production = academy_env == "production"
    redis_url = env.get("REDIS_URL") or None

    config: dict = {
        "ACADEMY_ENV": academy_env,
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": env.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            env.get("DATABASE_URL", f"sqlite:///{instance_dir / 'academy.db'}")
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "ACADEMY_BASE_URL": env.get("ACADEMY_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "STORAGE_DIR": env.get("STORAGE_DIR", str(instance_dir / "storage")),
        # `local` (files under STORAGE_DIR) or `s3` (any S3-compatible store; credentials come
        # from the usual AWS_* variables).
        "STORAGE_BACKEND": env.get("STORAGE_BACKEND", "local"),
        "S3_BUCKET": env.get("S3_BUCKET", "academy"),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": env.get("S3_REGION", "eu-west-2"),
        # Running it for real. How many proxies in front of the app set each X-Forwarded-*
        # header (werkzeug's ProxyFix); 0, the default, trusts none, since a client could forge
        # them when nothing in front rewrites them.
        "PROXY_FIX_X_FOR": _int("PROXY_FIX_X_FOR", 0),
        "PROXY_FIX_X_PROTO": _int("PROXY_FIX_X_PROTO", 0),
        "PROXY_FIX_X_HOST": _int("PROXY_FIX_X_HOST", 0),
        "PROXY_FIX_X_PREFIX": _int("PROXY_FIX_X_PREFIX", 0),
        # `json` (one object a line, for a log collector) or `text` (academy.core.logs).
        "LOG_FORMAT": env.get("LOG_FORMAT", "json" if production else "text"),
        # With a token, /metrics asks for it as a bearer token from anywhere; without one it
        # answers only loopback and private addresses (academy.core.metrics).
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # Credentials: the issuer named in every Open Badges credential, and its signing key,
        # either a secretKeyMultibase in ACADEMY_SIGNING_KEY or the key file that
        # `flask academy keys generate` writes (and rotates) under the instance folder.
        "ACADEMY_ISSUER_NAME": env.get("ACADEMY_ISSUER_NAME", "Digital Academy"),
        "ACADEMY_ISSUER_URL": env.get("ACADEMY_ISSUER_URL") or None,
        "ACADEMY_SIGNING_KEY": env.get("ACADEMY_SIGNING_KEY") or None,
        "ACADEMY_KEY_FILE": env.get("ACADEMY_KEY_FILE", str(instance_dir / "issuer-keys.json")),
        #: Shown on the accessibility and privacy pages for people to write to.
        "ACADEMY_CONTACT_EMAIL": env.get("ACADEMY_CONTACT_EMAIL") or None,
        # Mail: `console` prints, `file` writes .eml files under MAIL_FILE_DIR, `smtp` sends,
        # `memory` keeps messages on the app (tests).
        "MAIL_BACKEND": env.get("MAIL_BACKEND", "smtp" if env.get("MAIL_SERVER") else "console"),
        "MAIL_SERVER": env.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), False),
        "MAIL_DEFAULT_SENDER": env.get(
            "MAIL_DEFAULT_SENDER", "Digital Academy <no-reply@academy.example>"
        ),
        "MAIL_FILE_DIR": env.get("MAIL_FILE_DIR", str(instance_dir / "mail")),
        # Sessions and cookies: secure unless explicitly running plain HTTP on a laptop.
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        # "__Host-" makes browsers refuse the cookie unless it is Secure, for this host only and
        # for every path, so a sibling subdomain cannot plant a session (fixation). It needs HTTPS,
        # so a laptop over plain HTTP keeps the ordinary name.
        "SESSION_COOKIE_NAME": "__Host-session"
        if _bool(env.get("SESSION_COOKIE_SECURE"), production)
        else "session",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_LIFETIME_MINUTES", 8 * 60) * 60,
        # Staff sessions end sooner than learners': idle, and at the latest this long after sign-in.
        "STAFF_IDLE_MINUTES": _int("STAFF_IDLE_MINUTES", 30),
        "STAFF_SESSION_HOURS": _int("STAFF_SESSION_HOURS", 12),
        "WTF_CSRF_TIME_LIMIT": None,
        # Rate limits: memory on one process, Redis when there is one to share between nodes
        # (counted once across every node and worker); an explicit RATELIMIT_STORAGE_URI wins.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # "moving-window" counts the last minute exactly, at more cost in Redis than the default.
        "RATELIMIT_STRATEGY": env.get("RATELIMIT_STRATEGY", "fixed-window"),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "60 per minute"),
        # Backoff after repeated failed sign-ins, counted in the database (academy.auth.throttle).
        "LOGIN_FAILURES_BEFORE_BACKOFF": _int("LOGIN_FAILURES_BEFORE_BACKOFF", 5),
        "LOGIN_IP_FAILURES_BEFORE_BACKOFF": _int("LOGIN_IP_FAILURES_BEFORE_BACKOFF", 30),
        "LOGIN_IP_FAILURE_WINDOW_MINUTES": _int("LOGIN_IP_FAILURE_WINDOW_MINUTES", 10),
        "LOGIN_BACKOFF_MAX_MINUTES": _int("LOGIN_BACKOFF_MAX_MINUTES", 15),
        # Roles whose holders must sign in with a second factor (academy.auth.mfa).
        "MFA_REQUIRED_ROLES": tuple(
            role.strip()
            for role in env.get("MFA_REQUIRED_ROLES", "admin,tutor").split(",")
            if role.strip()
        ),
        "API_TOKEN_DAYS": _int("API_TOKEN_DAYS", 30),
        "PASSWORD_RESET_HOURS": _int("PASSWORD_RESET_HOURS", 2),
        "INVITATION_DAYS": _int("INVITATION_DAYS", 14),
        # Privacy (UK GDPR): what `flask academy retention run` deletes and when, and how often
        # one person may download all their data (it reads every file they ever uploaded).
        "RETENTION_SUBMISSION_YEARS": _int("RETENTION_SUBMISSION_YEARS", 5),
        "RETENTION_OUTBOX_DAYS": _int("RETENTION_OUTBOX_DAYS", 90),
        "RETENTION_LOGIN_THROTTLE_DAYS": _int("RETENTION_LOGIN_THROTTLE_DAYS", 30),
        # Accounts not signed in to for this long are listed for review, never deleted; 0: off.
        "RETENTION_INACTIVE_ACCOUNT_YEARS": _int("RETENTION_INACTIVE_ACCOUNT_YEARS", 6),
        "DATA_EXPORT_RATE_LIMIT": env.get("DATA_EXPORT_RATE_LIMIT", "2 per minute;10 per day"),
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 50) * 1024 * 1024,
        # Virus scanning of uploads by clamd (academy.core.antivirus), on a unix socket or
        # host and port; neither set, uploads are not scanned. While it is set but clamd does
        # not answer, uploads are refused unless ANTIVIRUS_REQUIRED=false.
        "CLAMD_SOCKET": env.get("CLAMD_SOCKET") or None,
        "CLAMD_HOST": env.get("CLAMD_HOST") or None,
        "CLAMD_PORT": _int("CLAMD_PORT", 3310),
        "CLAMD_TIMEOUT_SECONDS": _int("CLAMD_TIMEOUT_SECONDS", 30),
        "ANTIVIRUS_REQUIRED": _bool(env.get("ANTIVIRUS_REQUIRED"), True),
        # flask-smorest: the OpenAPI document and a docs page built from the npm copy of Swagger UI.
        "API_TITLE": "Digital Academy API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Integrations for trust HR systems, reporting tools and scripts. "
                "Authenticate with `POST /api/v1/auth/tokens`, then send "
                "`Authorization: Bearer <token>`."
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    }
    if overrides:
        config.update(overrides)
    check_config(config)
    return config


def _making_keys() -> bool:
    """Whether this process is `flask academy keys ...`: the command that makes the first signing
    key has to start without one. Every other process, web or worker, still refuses."""
    return any(pair == ("academy", "keys") for pair in zip(sys.argv, sys.argv[1:], strict=False))


def check_config(config: dict) -> None:
    if config["ACADEMY_ENV"] == "production":
        key = config.get("SECRET_KEY") or ""
        if key in ("", DEVELOPMENT_SECRET_KEY) or len(key) < 32:
            raise ConfigurationError(
                "ACADEMY_ENV=production needs SECRET_KEY set to a random value of at least 32 "
                "characters (for example: "
                'python -c "import secrets; print(secrets.token_hex(32))")'
            )
        # Several app nodes share one database, one rate-limit and job store, and links in
        # emails must not send people to plain HTTP.
        if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            raise ConfigurationError(
                "ACADEMY_ENV=production needs DATABASE_URL to be a PostgreSQL database (for "
                "example postgresql+psycopg://user:password@host/academy); SQLite is for one "
                "process on a laptop"
            )
        if not config["ACADEMY_BASE_URL"].startswith("https://"):
            raise ConfigurationError(
                "ACADEMY_ENV=production needs ACADEMY_BASE_URL to be the site's public https:// "
                "address (emailed links and credential identifiers use it)"
            )
        if not config.get("REDIS_URL"):
            raise ConfigurationError(
                "ACADEMY_ENV=production needs REDIS_URL (for example redis://host:6379/0): rate "
                "limits and background jobs are shared between app nodes through Redis"
            )
        if (
            not config.get("ACADEMY_SIGNING_KEY")
            and not Path(config["ACADEMY_KEY_FILE"]).exists()
            and not _making_keys()
        ):
            raise ConfigurationError(
                "ACADEMY_ENV=production needs a credential signing key: set ACADEMY_SIGNING_KEY "
                "or run `flask academy keys generate` (it writes ACADEMY_KEY_FILE)"
            )
