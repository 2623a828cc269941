"""Fixtures: one app per run on a migrated database, and a rolled-back transaction per test.

Set TEST_DATABASE_URL=postgresql+psycopg://user@host/db to run everything on PostgreSQL; the
default is a temporary SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from sqlalchemy import orm

from academy import create_app
from academy.auth import mfa
from academy.auth.models import User
from academy.core import jobs
from academy.extensions import db as _db
from academy.extensions import limiter
from academy.notifications.mail import sent_messages
from tests.dbutil import drop_database, fresh_database_url
from tests.factories import PASSWORD, ApiClient, Factories, totp_code
from tests.signing import TEST_PUBLIC_KEY, TEST_SIGNING_KEY  # noqa: F401 - re-exported


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL")
    return f"database: {'PostgreSQL (' + url.split('@')[-1] + ')' if url else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = fresh_database_url("test", tmp_path_factory.mktemp("db"))
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        {
            "ACADEMY_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-to-use",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "MAIL_BACKEND": "memory",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "STORAGE_DIR": str(tmp_path_factory.mktemp("storage")),
            "ACADEMY_BASE_URL": "https://academy.test",
            "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
            "ACADEMY_KEY_FILE": str(tmp_path_factory.mktemp("keys") / "issuer-keys.json"),
        }
    )
    with app.app_context():
        upgrade()
        _db.engine.dispose()

    def fresh_request_globals():
        # Each test keeps one app context open (for its rolled-back transaction), and Flask reuses
        # an open app context, and its `g`, for every request. In production each request has
        # its own, so clear `g` first: otherwise Flask-Login's cached user from one client's
        # request would answer the next client's.
        for name in list(g):
            g.pop(name)

    app.before_request_funcs.setdefault(None, []).insert(0, fresh_request_globals)
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def db(request, app):
    """Each test runs inside a transaction that is rolled back; the code under test commits to
    savepoints (SQLAlchemy 2's "join a session into an external transaction" recipe)."""
    if "no_db" in request.keywords:
        yield None
        return
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        factory = orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        _db.session = orm.scoped_session(factory, scopefunc=original.registry.scopefunc)
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_limits_and_mail(app):
    limiter.reset()
    sent_messages(app).clear()
    jobs.discard_ready()
    yield
    jobs.discard_ready()


@pytest.fixture
def ctx(app):
    """An app context for calling services directly."""
    with app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(db, app) -> Factories:
    return Factories(app)


class DeliveredMail(Sequence):
    """The messages the memory transport has sent, after running the delivery jobs that
    committed changes have queued (as the request hook or a worker would)."""

    def __init__(self, app):
        self._app = app

    def _messages(self):
        jobs.run_ready()
        return sent_messages(self._app)

    def __getitem__(self, index):
        return self._messages()[index]

    def __len__(self):
        return len(self._messages())

    def clear(self):
        self._messages().clear()

    def __eq__(self, other):
        return list(self) == list(other)


@pytest.fixture
def outbox(app):
    return DeliveredMail(app)


@pytest.fixture
def login_as(app, client):
    """Sign `user` in through the real sign-in form and return the client. Staff whose role
    requires two-factor authentication are enrolled first (with TOTP_SECRET), and the code step
    is answered from their stored secret."""

    def login(user, password: str = PASSWORD, the_client=None):
        the_client = the_client or client
        if mfa.must_enrol(user):
            Factories(app).mfa(user)
        response = the_client.post(
            "/sign-in", data={"email": user.email, "password": password}, follow_redirects=False
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if response.headers["Location"].endswith("/sign-in/verify"):
            # A test may sign the same person in twice within one 30-second step; a code is good
            # once, so forget the last one used (replay refusal has its own tests).
            users = User.__table__
            _db.session.execute(
                sa.update(users).where(users.c.id == user.id).values(totp_last_step=None)
            )
            _db.session.commit()
            response = the_client.post(
                "/sign-in/verify", data={"code": totp_code(user)}, follow_redirects=False
            )
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return the_client

    return login


@pytest.fixture
def api(app, make):
    """`api(user)` is a JSON client authenticated with a fresh token for that user;
    `api()` is one with no token."""

    def build(user=None) -> ApiClient:
        return ApiClient(app.test_client(), make.token_for(user) if user else None)

    return build


def count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))
