"""Races tested for real: an app on its own database whose rows are committed (the usual test
transaction would hide one request's writes from another), and a way to fire several calls at
the same instant from threads.

Use in a test marked `no_db` (the usual savepoint fixture does not apply):

    @pytest.mark.no_db
    def test_two_at_once(committed_app):
        with committed_app.app_context():
            ...build data with Factories(committed_app); it commits...
        results = run_together(lambda: client_a.post(...), lambda: client_b.post(...))

On PostgreSQL it is a fresh schema (TEST_DATABASE_URL), on SQLite a fresh file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade

from academy import create_app
from academy.extensions import db
from tests.dbutil import drop_database, fresh_database_url
from tests.signing import TEST_SIGNING_KEY


@contextmanager
def separate_database(tmp_dir: Path, name: str = "concurrency") -> Iterator[Flask]:
    """An app like the test app, on a newly migrated database of its own, dropped afterwards."""
    url = fresh_database_url(name, tmp_dir)
    app = create_app(
        {
            "ACADEMY_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-to-use",
            "SQLALCHEMY_DATABASE_URI": url,
            "MAIL_BACKEND": "memory",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "STORAGE_DIR": str(tmp_dir / f"{name}-storage"),
            "ACADEMY_BASE_URL": "https://academy.test",
            "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
            "ACADEMY_KEY_FILE": str(tmp_dir / f"{name}-keys.json"),
        }
    )
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory) -> Iterator[Flask]:
    """One separate database per test module (import this fixture into the module)."""
    with separate_database(tmp_path_factory.mktemp("committed")) as app:
        yield app


def run_together(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run each call in its own thread, all released at once by a barrier; their results in
    order. An exception in any call is raised here, after every thread has finished."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"a concurrent call did not finish within {timeout} seconds")
    if errors:
        raise errors[0]
    return results
