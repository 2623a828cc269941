"""Whole databases of their own for the deployment tests, outside the suite's rolled-back
transaction: a backup, a restore or a second server process must see committed rows.

On PostgreSQL (TEST_DATABASE_URL) each is a real database (pg_dump and pg_restore work on whole
databases, and a schema reached through search_path would not keep them apart); on SQLite, a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.dbutil import postgres_base_url


def _admin_engine(base: str) -> sa.Engine:
    return sa.create_engine(base, isolation_level="AUTOCOMMIT")


def _drop(base: str, name: str) -> None:
    engine = _admin_engine(base)
    with engine.connect() as connection:
        # FORCE: a server process killed mid-request may leave a connection behind.
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


class WholeDatabases:
    """`make(name)`: the URL of a new, empty database called after `name`; `drop()` removes
    every one made."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.base = postgres_base_url()
        self.made: list[str] = []

    def make(self, name: str) -> str:
        if self.base is None:
            path = self.tmp_dir / f"{name}.db"
            path.unlink(missing_ok=True)
            return f"sqlite:///{path}"
        # The process id keeps two runs (a developer's and CI's) on one server apart.
        database = f"academy_{name}_{os.getpid()}"
        _drop(self.base, database)
        engine = _admin_engine(self.base)
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
        engine.dispose()
        self.made.append(database)
        return sa.make_url(self.base).set(database=database).render_as_string(hide_password=False)

    def drop(self) -> None:
        for database in self.made:
            _drop(self.base, database)
        self.made.clear()


@pytest.fixture
def whole_database(tmp_path) -> Iterator[Callable[[str], str]]:
    """`whole_database(name)`: a new, empty database for this test alone."""
    databases = WholeDatabases(tmp_path)
    yield databases.make
    databases.drop()


@pytest.fixture(scope="module")
def module_databases(tmp_path_factory) -> Iterator[WholeDatabases]:
    """Databases a test module builds once and shares (they are slow to fill)."""
    databases = WholeDatabases(tmp_path_factory.mktemp("databases"))
    yield databases
    databases.drop()


def sqlite_path(url: str) -> Path | None:
    return Path(sa.make_url(url).database) if url.startswith("sqlite") else None
