"""`flask academy backup DIR` and `flask academy restore DIR`: the database and every stored file,
with a manifest that proves on restore that nothing in the backup has changed.

A backup folder holds:
- `database.dump` (PostgreSQL, `pg_dump -Fc`) or `database.sqlite3` (SQLite's online backup);
- `files/ab/<sha256>`: every blob in storage (local folder or S3 bucket alike);
- `manifest.json`, written last: format, app version, Alembic revision, when, the row count of
  every table, and the SHA-256 and size of every other file in the folder.

Consistency: on PostgreSQL the dump, the row counts and the list of files the rows point at come
from one snapshot (pg_dump `--snapshot`); on SQLite they are all read from the copy. Files are
copied after the database: a row is committed only once its file is stored (academy.core.storage)
and stored bytes never change, so every file the dump needs is there unless something deleted it
in between, which the backup then reports.

Restore checks the manifest before touching anything, refuses a database that holds rows unless
forced, and afterwards checks the restored row counts against the manifest.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from academy.core import blobs
from academy.core.storage import CHUNK, storage
from academy.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
DUMPS = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
#: Enough of the problems to act on, in a message a person reads.
SHOWN = 5


class BackupError(RuntimeError):
    """The backup cannot be made, or this backup cannot (or may not) be restored here."""


@dataclass
class BackupReport:
    directory: Path
    manifest: dict
    #: Blobs the database rows point at that storage no longer held when they were copied.
    missing: list[str] = field(default_factory=list)
    #: Stored blobs whose content no longer matches their name (damaged storage): not copied.
    damaged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        manifest = self.manifest
        rows = sum(manifest["counts"].values())
        blob_files = [name for name in manifest["files"] if name.startswith(f"{FILES}/")]
        lines = [
            f"Backup written to {self.directory}",
            f"  database: {manifest['database']['dialect']}, revision "
            f"{manifest['alembic_revision']}, {rows} rows in {len(manifest['counts'])} tables",
            f"  files: {len(blob_files)} "
            f"({sum(manifest['files'][name]['size'] for name in blob_files)} bytes)",
        ]
        lines += [f"Missing from storage, needed by rows: {sha}" for sha in self.missing]
        lines += [f"Damaged in storage (content does not match its name), skipped: {sha}"
                  for sha in self.damaged]  # fmt: skip
        return lines


@dataclass
class RestoreReport:
    manifest: dict
    files_restored: int
    head_revision: str | None

    @property
    def schema_current(self) -> bool:
        """The restored schema is the one this code expects, so the app can serve it as is."""
        return self.head_revision == self.manifest["alembic_revision"]

    def lines(self) -> list[str]:
        manifest = self.manifest
        lines = [
            f"Restored the backup of {manifest['created_at']}: "
            f"{sum(manifest['counts'].values())} rows in {len(manifest['counts'])} tables "
            "(counts checked), "
            f"{self.files_restored} files",
        ]
        if not self.schema_current:
            lines.append(
                f"The backup's schema is revision {manifest['alembic_revision']}; this code's is "
                f"{self.head_revision}: run `flask --app wsgi db upgrade` before serving."
            )
        return lines


# --- facts about a database, from one connection -------------------------------------------------


def _facts(connection: sa.Connection) -> tuple[str | None, dict[str, int], set[str]]:
    """(Alembic revision, rows per table, blobs the rows point at), read on `connection`."""
    present = set(sa.inspect(connection).get_table_names())
    revision = None
    if "alembic_version" in present:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in db.metadata.sorted_tables
        if table.name in present
    }
    referenced: set[str] = set()
    for reference in blobs.blob_references():
        if reference.table not in present:
            continue
        column = db.metadata.tables[reference.table].c[reference.column]
        for value in connection.execute(sa.select(column).where(column.is_not(None))).scalars():
            if reference.json_list:
                referenced.update(
                    item.get("sha256") for item in value or () if isinstance(item, dict)
                )
            else:
                referenced.add(value)
    referenced.discard(None)
    return revision, counts, referenced


def _has_rows(connection: sa.Connection) -> bool:
    present = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    return any(
        connection.execute(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)).first()
        for name in present
    )


# --- PostgreSQL ----------------------------------------------------------------------------------


def _libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """The libpq connection string for the client tools, and the environment that carries the
    password (kept off the command line, where `ps` would show it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str, connection: sa.Connection) -> str:
    """The client tool of the server's major version when installed side by side (Debian keeps
    each under /usr/lib/postgresql/N/bin), else the one on PATH; pg_dump refuses to dump a
    server newer than itself, so say which version is needed."""
    major = connection.execute(sa.text("SHOW server_version_num")).scalar_one()
    major = int(major) // 10000
    versioned = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if versioned.is_file():
        return str(versioned)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL {major} client tools "
            f"(e.g. apt-get install postgresql-client-{major})"
        )
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def _dump_postgresql(target: Path) -> tuple[str | None, dict[str, int], set[str], str]:
    engine = db.engine
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            tool = _pg_tool("pg_dump", connection)
            version = connection.execute(sa.text("SHOW server_version")).scalar_one()
            # pg_dump reads the same snapshot as this transaction, which stays open meanwhile:
            # the counts and file list below describe exactly what the dump holds.
            snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            conninfo, env = _libpq(engine.url)
            _run(
                [tool, "--format=custom", f"--snapshot={snapshot}", f"--file={target}",
                 f"--dbname={conninfo}"],
                env,
                "pg_dump",
            )  # fmt: skip
            revision, counts, referenced = _facts(connection)
    return revision, counts, referenced, version


def _restore_postgresql(dump: Path, *, replace: bool) -> None:
    engine = db.engine
    with engine.connect() as connection:
        tool = _pg_tool("pg_restore", connection)
    engine.dispose()  # no pooled connection may hold locks on the tables being replaced
    conninfo, env = _libpq(engine.url)
    command = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, f"--dbname={conninfo}", str(dump)], env, "pg_restore")


# --- SQLite --------------------------------------------------------------------------------------


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while the app writes."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


def _dump_sqlite(target: Path) -> tuple[str | None, dict[str, int], set[str], str]:
    source = _sqlite_path(db.engine.url)
    if not source.is_file():
        raise BackupError(f"There is no SQLite database at {source}")
    _copy_sqlite(source, target)
    copy = sa.create_engine(f"sqlite:///{target}")
    try:
        with copy.connect() as connection:
            revision, counts, referenced = _facts(connection)
    finally:
        copy.dispose()
    return revision, counts, referenced, sqlite3.sqlite_version


def _restore_sqlite(dump: Path) -> None:
    target = _sqlite_path(db.engine.url)
    db.engine.dispose()
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(dump, target)


# --- files ---------------------------------------------------------------------------------------


def _blob_path(directory: Path, sha256: str) -> Path:
    return directory / FILES / sha256[:2] / sha256


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_blob(store, sha256: str, target: Path) -> bool:
    """Copy one blob out of storage, hashing on the way; False (and nothing left behind) when
    its content no longer matches its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with store.open(sha256) as source, target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        target.unlink()
        return False
    return True


def _walk(directory: Path) -> Iterator[str]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            yield path.relative_to(directory).as_posix()


# --- backup --------------------------------------------------------------------------------------


def _app_version() -> str:
    try:
        return importlib.metadata.version("academy")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def backup(directory: str | os.PathLike) -> BackupReport:
    """Write a backup of the database and of every stored file to `directory` (new or empty)."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} is not an empty folder: choose a new one for each backup")
    dialect = db.engine.dialect.name
    if dialect not in DUMPS:
        raise BackupError(f"Backing up a {dialect} database is not supported")
    directory.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(UTC)
    dump = directory / DUMPS[dialect]
    if dialect == "postgresql":
        revision, counts, referenced, version = _dump_postgresql(dump)
    else:
        revision, counts, referenced, version = _dump_sqlite(dump)

    store = storage()
    report = BackupReport(directory, {})
    copied: set[str] = set()
    for blob in store.list_blobs():
        if _copy_blob(store, blob.sha256, _blob_path(directory, blob.sha256)):
            copied.add(blob.sha256)
        else:
            report.damaged.append(blob.sha256)
    report.missing = sorted(referenced - copied)

    files = {}
    for name in _walk(directory):
        sha256, size = _hash_file(directory / name)
        files[name] = {"sha256": sha256, "size": size}
    report.manifest = {
        "format": FORMAT,
        "app": "academy",
        "app_version": _app_version(),
        "alembic_revision": revision,
        "created_at": created_at.isoformat(timespec="seconds"),
        "database": {"dialect": dialect, "file": dump.name, "server_version": version},
        "storage": {"backend": current_app.config["STORAGE_BACKEND"], "blobs": len(copied)},
        "counts": counts,
        "files": files,
    }
    # Last, through a rename: a folder without a manifest is visibly an unfinished backup.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(report.manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, directory / MANIFEST)
    return report


# --- restore -------------------------------------------------------------------------------------


def _problems_summary(problems: list[str]) -> str:
    shown = "; ".join(problems[:SHOWN])
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    return shown + more


def read_manifest(directory: str | os.PathLike) -> dict:
    """The backup's manifest, once every file in the folder has been checked against it."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BackupError(
            f"{directory} has no {MANIFEST}: it is not a backup, or one that never finished"
        ) from error
    except (OSError, ValueError) as error:
        raise BackupError(f"{directory / MANIFEST} cannot be read: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not a backup manifest this version reads")
    listed: dict[str, Any] = manifest.get("files") or {}
    problems = []
    found = set(_walk(directory))
    for name in sorted(set(listed) - found):
        problems.append(f"{name} is missing")
    for name in sorted(found - set(listed)):
        problems.append(f"{name} is not in the manifest")
    for name in sorted(set(listed) & found):
        sha256, size = _hash_file(directory / name)
        expected = listed[name]
        if (sha256, size) != (expected.get("sha256"), expected.get("size")):
            problems.append(f"{name} has changed (SHA-256 or size differs from the manifest)")
        elif name.startswith(f"{FILES}/") and not (
            re.fullmatch(rf"{FILES}/[0-9a-f]{{2}}/[0-9a-f]{{64}}", name)
            and name.rsplit("/", 1)[-1] == sha256
            and name.split("/")[1] == sha256[:2]
        ):
            problems.append(f"{name} is not named by its SHA-256")
    database = manifest.get("database") or {}
    if database.get("file") not in listed:
        problems.append("the database dump is not in the manifest")
    if problems:
        raise BackupError(
            f"Refusing to restore {directory}: it does not match its manifest: "
            f"{_problems_summary(problems)}"
        )
    return manifest


def _revisions() -> tuple[set[str], set[str]]:
    """(every revision this code's migrations know, the heads among them)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {item.revision for item in script.walk_revisions()}, set(script.get_heads())


def restore(directory: str | os.PathLike, *, force: bool = False) -> RestoreReport:
    """Restore the backup in `directory` into this app's database and storage. The database
    must hold no rows unless `force`; its tables are then replaced by the backup's."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    dialect = db.engine.dialect.name
    if manifest["database"]["dialect"] != dialect:
        raise BackupError(
            f"This backup is of a {manifest['database']['dialect']} database; DATABASE_URL is "
            f"{dialect}: restore into the same kind of database"
        )
    known, heads = _revisions()
    if manifest.get("alembic_revision") not in known | {None}:
        raise BackupError(
            f"The backup's schema (revision {manifest['alembic_revision']}) is newer than this "
            "code knows: restore it with the version of Academy that made it, or a later one"
        )
    with db.engine.connect() as connection:
        present = set(sa.inspect(connection).get_table_names())
        occupied = _has_rows(connection)
    db.session.remove()
    if occupied and not force:
        raise BackupError(
            "The database already holds data: restoring would replace it. Restore into a new, "
            "empty database, or pass --force to replace its tables with the backup's"
        )

    dump = directory / manifest["database"]["file"]
    if dialect == "postgresql":
        _restore_postgresql(dump, replace=bool(present))
    else:
        _restore_sqlite(dump)

    store = storage()
    restored = 0
    for name in manifest["files"]:
        if not name.startswith(f"{FILES}/"):
            continue
        sha256 = name.rsplit("/", 1)[-1]
        if store.exists(sha256):
            continue
        with (directory / name).open("rb") as source:
            saved = store.save(source, max_size=sys.maxsize)
        if saved.sha256 != sha256:  # read_manifest checked it; the disk may have changed since
            store.delete(saved.sha256)
            raise BackupError(f"{name} changed while it was being restored")
        restored += 1

    db.engine.dispose()
    with db.engine.connect() as connection:
        revision, counts, _ = _facts(connection)
    differences = [
        f"{table}: {counts.get(table)} rows, the backup had {expected}"
        for table, expected in manifest["counts"].items()
        if counts.get(table) != expected
    ]
    if revision != manifest.get("alembic_revision"):
        differences.insert(0, f"revision {revision}, the backup had {manifest['alembic_revision']}")
    if differences:
        raise BackupError(
            f"The restored database does not match the backup: {_problems_summary(differences)}"
        )
    return RestoreReport(manifest, restored, next(iter(heads)) if len(heads) == 1 else None)
