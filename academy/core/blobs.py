"""Which rows point at stored files, and deleting a file once none does.

Storage is content-addressed (academy.core.storage): the same bytes uploaded twice, by two
learners or as a submission and as evidence, are one blob that several rows share. So a file is
deleted only when no row anywhere still names its SHA-256, and only after the transaction that
removed the last reference has committed: a rolled-back change must find its files still there.

Hashes kept as a record of what existed are not references: a submission receipt's `sha256`
(over the files' names and hashes) and its `files` list prove what was handed in even after the
files themselves have gone, and must not keep them alive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from academy.core import jobs
from academy.core.storage import SHA256, storage
from academy.extensions import db

log = logging.getLogger(__name__)

DELETE_JOB = "blobs.delete_if_unreferenced"


@dataclass(frozen=True)
class BlobReference:
    table: str
    column: str
    #: A JSON list of objects, each with a "sha256" key, rather than a plain hash column.
    json_list: bool = False


def blob_references() -> tuple[BlobReference, ...]:
    """Every (table, column) whose value names a stored blob. A new column that stores a file
    must be added here, or the retention job and erasure may delete bytes it still needs
    (tests/privacy checks every `*sha256*` column is listed here or in RECORD_ONLY)."""
    return (
        BlobReference("submission_file", "sha256"),
        BlobReference("mark", "feedback_file_sha256"),
        BlobReference("credential", "evidence_sha256"),
        BlobReference("resource", "file_sha256"),
        BlobReference("outbox_message", "attachments", json_list=True),
    )


#: Columns that hold hashes of files as a record, never as a pointer to bytes to keep.
RECORD_ONLY = (("submission_receipt", "sha256"), ("submission_receipt", "files"))


def _referenced_by(reference: BlobReference, sha256: str) -> sa.Select:
    column = db.metadata.tables[reference.table].c[reference.column]
    if reference.json_list:
        # Hex digests cannot occur inside other JSON text by accident, so a text match on the
        # serialised list is exact enough, and works the same on SQLite and PostgreSQL.
        condition = sa.cast(column, sa.Text).contains(sha256, autoescape=True)
    else:
        condition = column == sha256
    return sa.select(sa.literal(1)).select_from(column.table).where(condition).limit(1)


def is_referenced(sha256: str) -> bool:
    """Whether any row still names `sha256`."""
    return any(
        db.session.scalar(_referenced_by(reference, sha256)) is not None
        for reference in blob_references()
    )


def delete_if_unreferenced(sha256: str) -> None:
    """Delete the blob after the current transaction commits, if by then no row names it.
    Nothing happens when the transaction (or the savepoint this is called in) rolls back."""
    if sha256 and SHA256.match(sha256):
        jobs.enqueue(DELETE_JOB, sha256)


@jobs.job(DELETE_JOB)
def delete_now_if_unreferenced(sha256: str) -> bool:
    """The job: check again in its own transaction (another upload of the same bytes may have
    committed since), then delete. Idempotent: a blob already gone is not an error."""
    if is_referenced(sha256):
        log.info("blob %s is still referenced: kept", sha256)
        return False
    storage().delete(sha256)
    log.info("blob %s deleted", sha256)
    return True
