"""Fresh, isolated databases for tests: a temporary SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa


def postgres_base_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return url


def fresh_database_url(name: str, tmp_dir: Path) -> str:
    """An empty database for `name`: a new SQLite file, or a dropped-and-recreated PostgreSQL
    schema reached through `search_path`, so runs never see each other's rows."""
    base = postgres_base_url()
    if base is None:
        path = tmp_dir / f"{name}.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    # The process id keeps parallel runs (two developers, or CI beside a developer) apart.
    schema = f"academy_{name}_{os.getpid()}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def drop_database(url: str) -> None:
    """Remove a PostgreSQL schema made by `fresh_database_url` (SQLite files go with tmp_path)."""
    base = postgres_base_url()
    if base is None or "search_path" not in url:
        return
    schema = url.rsplit("search_path%3D", 1)[-1]
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()
