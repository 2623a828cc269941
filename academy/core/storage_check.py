"""`flask academy storage check`: do the stored files and the rows that point at them agree?

Two kinds of orphan: a blob in storage that no row names (a crash between saving a file and
committing its row, or a delete that never ran) only costs space; a row whose blob is missing
from storage is lost data (a restore from mismatched backups, a bucket emptied by hand) and is
reported, never deleted: only a person can tell whether to restore the file or correct the row.

With `clean`, unreferenced blobs older than a grace period are deleted. The grace period covers
an upload whose file is saved and whose row is being committed right now; each blob is checked
again just before it goes, since an identical upload may have committed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from academy.audit import services as audit
from academy.core import blobs, clock
from academy.core.storage import ListedBlob, storage
from academy.extensions import db

DEFAULT_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class MissingFile:
    """A row that names a blob storage does not hold."""

    table: str
    column: str
    row_id: Any
    sha256: str


@dataclass
class StorageReport:
    stored: int = 0
    referenced: int = 0
    unreferenced: list[ListedBlob] = field(default_factory=list)
    missing: list[MissingFile] = field(default_factory=list)
    clean: bool = False
    grace: timedelta = DEFAULT_GRACE
    deleted: list[str] = field(default_factory=list)
    #: Unreferenced, but written within the grace period: left alone.
    too_recent: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"Stored blobs: {self.stored}; blobs that rows point at: {self.referenced}",
            f"Unreferenced blobs (no row points at them): {len(self.unreferenced)}",
        ]
        lines += [
            f"  {blob.sha256} {blob.size} bytes, written {blob.modified.isoformat()}"
            for blob in self.unreferenced
        ]
        lines.append(f"Rows whose file is missing from storage: {len(self.missing)}")
        lines += [
            f"  {row.table}.{row.column} (id {row.row_id}): {row.sha256}" for row in self.missing
        ]
        if self.clean:
            hours = int(self.grace.total_seconds() // 3600)
            lines.append(
                f"Deleted {len(self.deleted)} unreferenced blobs older than {hours} hours; "
                f"kept {len(self.too_recent)} newer ones (their rows may be committing)."
            )
        if self.missing:
            lines.append(
                "Rows with missing files are never deleted: restore the files from a backup, "
                "or correct the rows."
            )
        return lines


def referencing_rows() -> dict[str, list[tuple[str, str, Any]]]:
    """Each blob hash rows name, with the (table, column, id) of every row naming it."""
    found: dict[str, list[tuple[str, str, Any]]] = {}
    for reference in blobs.blob_references():
        table = db.metadata.tables[reference.table]
        column = table.c[reference.column]
        row_id = next(iter(table.primary_key.columns))
        rows = db.session.execute(sa.select(row_id, column).where(column.is_not(None)))
        for identifier, value in rows:
            if reference.json_list:
                hashes = [item.get("sha256") for item in value or () if isinstance(item, dict)]
            else:
                hashes = [value]
            for sha256 in hashes:
                if sha256:
                    found.setdefault(sha256, []).append(
                        (reference.table, reference.column, identifier)
                    )
    return found


def check(*, clean: bool = False, grace: timedelta = DEFAULT_GRACE) -> StorageReport:
    """Compare storage with the rows; with `clean`, delete unreferenced blobs older than
    `grace` (audited). Flushes; the caller commits."""
    store = storage()
    rows = referencing_rows()
    stored = {blob.sha256: blob for blob in store.list_blobs()}
    report = StorageReport(
        stored=len(stored),
        referenced=len(rows),
        unreferenced=sorted(
            (blob for sha256, blob in stored.items() if sha256 not in rows),
            key=lambda blob: blob.sha256,
        ),
        missing=[
            MissingFile(table, column, row_id, sha256)
            for sha256, places in sorted(rows.items())
            if sha256 not in stored
            for table, column, row_id in places
        ],
        clean=clean,
        grace=grace,
    )
    if not clean:
        return report
    cutoff = clock.now() - grace
    for blob in report.unreferenced:
        if blob.modified > cutoff:
            report.too_recent.append(blob.sha256)
        elif not blobs.is_referenced(blob.sha256):
            store.delete(blob.sha256)
            report.deleted.append(blob.sha256)
    if report.deleted:
        audit.record(
            "storage.unreferenced_deleted",
            object_type="storage",
            after={"count": len(report.deleted), "sha256": report.deleted},
        )
    return report
