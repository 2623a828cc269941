"""Academy: the learning-management backend of the national Digital Academy."""

from __future__ import annotations

from flask import Flask, request
from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, PackageLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine

from academy.config import PROJECT_ROOT, load_config
from academy.extensions import api, csrf, db, limiter, login_manager, migrate


def create_app(overrides: dict | None = None) -> Flask:
    """Build an app from the environment plus `overrides`. Nothing here migrates or writes files."""
    config = load_config(overrides)
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=config["INSTANCE_DIR"],
    )
    app.config.from_mapping(config)
    # The NHS.UK macros rely on chained lookups of optional parameters being undefined, not errors.
    app.jinja_options = {
        **app.jinja_options,
        "undefined": ChainableUndefined,
        "autoescape": _autoescape,
    }
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(str(PROJECT_ROOT / "templates")), PackageLoader("nhsuk_frontend_jinja")]
    )
    _trust_proxy_headers(app)
    # First of all hooks: the request id and the latency timer cover everything after them.
    from academy.core import logs, metrics

    logs.init_app(app)
    metrics.init_app(app)

    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)

    from academy.core.errors import register_error_handlers

    register_error_handlers(app)

    from academy.cli import academy_cli

    app.cli.add_command(academy_cli)
    return app


def _trust_proxy_headers(app: Flask) -> None:
    """Believe X-Forwarded-* only as far as PROXY_FIX_* says proxies in front set them, so the
    client address (rate limits, audit) and https links are right behind a load balancer."""
    hops = {
        name: app.config[f"PROXY_FIX_X_{name.upper()}"]
        for name in ("for", "proto", "host", "prefix")
    }
    if any(hops.values()):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, **{f"x_{name}": n for name, n in hops.items()})


def _autoescape(template_name: str | None) -> bool:
    """Flask escapes only .html-like templates; the NHS.UK macros are .jinja files that print
    `text` and input values as given, so they must escape too (their README asks for it)."""
    return template_name is None or template_name.endswith(
        (".html", ".htm", ".xml", ".xhtml", ".svg", ".jinja")
    )


def _init_extensions(app: Flask) -> None:
    # Import every model module so metadata is complete for Alembic and create_all.
    from academy import models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        from academy.auth.models import User

        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    api.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from academy.assessment.api import blp as assessment_api
    from academy.assessment.views import bp as assessment_views
    from academy.audit.views import bp as audit_views
    from academy.auth.access_views import bp as account_access
    from academy.auth.admin_views import bp as users_admin
    from academy.auth.api import blp as auth_api
    from academy.auth.mfa_views import bp as mfa_views
    from academy.auth.views import bp as auth_views
    from academy.catalogue.api import blp as catalogue_api
    from academy.catalogue.views import bp as catalogue_views
    from academy.cohorts.api import blp as cohorts_api
    from academy.cohorts.views import bp as cohorts_views
    from academy.cohorts.views import learning as learning_views
    from academy.content.views import bp as content_views
    from academy.core.views import bp as core_views
    from academy.cpd.api import blp as cpd_api
    from academy.cpd.views import bp as cpd_views
    from academy.credentials.api import blp as credentials_api
    from academy.credentials.public_views import bp as credentials_public
    from academy.credentials.views import bp as credentials_views
    from academy.marking.api import blp as marking_api
    from academy.marking.views import bp as marking_views
    from academy.notifications.api import blp as notifications_api
    from academy.notifications.views import bp as notifications_views
    from academy.organisations.api import blp as organisations_api
    from academy.organisations.views import bp as organisations_admin
    from academy.privacy.api import blp as privacy_api
    from academy.privacy.views import bp as privacy_views
    from academy.reporting.academy_api import blp as academy_reports_api
    from academy.reporting.academy_views import bp as academy_reports_views
    from academy.reporting.api import blp as reporting_api
    from academy.reporting.export_api import blp as reporting_exports_api
    from academy.reporting.export_views import bp as reporting_exports_views
    from academy.reporting.views import bp as reporting_views

    for blueprint in (
        core_views,
        auth_views,
        mfa_views,
        account_access,
        users_admin,
        organisations_admin,
        cohorts_views,
        learning_views,
        catalogue_views,
        content_views,
        assessment_views,
        marking_views,
        credentials_public,
        credentials_views,
        cpd_views,
        privacy_views,
        academy_reports_views,
        reporting_views,
        reporting_exports_views,
        notifications_views,
        audit_views,
    ):
        app.register_blueprint(blueprint)
    for blueprint in (
        auth_api,
        organisations_api,
        cohorts_api,
        catalogue_api,
        assessment_api,
        marking_api,
        credentials_api,
        cpd_api,
        privacy_api,
        academy_reports_api,
        reporting_api,
        reporting_exports_api,
        notifications_api,
    ):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
        # The API authenticates with bearer tokens, never the session cookie, so CSRF cannot apply.
        csrf.exempt(blueprint)


def _register_hooks(app: Flask) -> None:
    from academy.audit.services import origin_ip
    from academy.auth.api_auth import authenticate_api_request, note_api_token_use
    from academy.core import antivirus, jobs, security

    # Registered first so it runs last: after every other hook, once the request's change has
    # committed, send its emails (when no Redis worker is there to do it).
    @app.after_request
    def run_committed_jobs(response):
        jobs.run_ready()
        return response

    @app.before_request
    def remember_origin():
        origin_ip.set(request.remote_addr)

    app.before_request(authenticate_api_request)
    app.after_request(note_api_token_use)

    # Headers (Content-Security-Policy among them) and the staff session limits.
    security.init_app(app)
    # The audit of a refused virus, kept although its request rolled back.
    antivirus.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite ignores foreign keys unless asked, and pysqlite's own transaction handling breaks
    SAVEPOINT; SQLAlchemy's documented recipe hands transactions to SQLAlchemy instead."""
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """SQLite has one writer at a time, and a transaction that began deferred and has read
    cannot wait for the write lock ("database is locked" at once). Beginning IMMEDIATE makes
    concurrent requests queue on the busy timeout instead: slower, never wrong, and only on the
    embedded database (production is PostgreSQL)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
