"""Where uploaded bytes live: content-addressed by SHA-256, written atomically, outside any web
root. The database row that points at a file is written only after `save` has returned, so a
failed write leaves no row, and a temp file that never got renamed is never seen as content.

Two backends with the same methods: local disk (the default, under STORAGE_DIR) and any
S3-compatible object store (STORAGE_BACKEND=s3).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from academy.core.errors import DomainError

CHUNK = 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileTooLarge(DomainError):
    status = 413


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


@dataclass(frozen=True)
class ListedBlob:
    """A blob found in storage by `list_blobs`, with when it was written (UTC)."""

    sha256: str
    size: int
    modified: datetime


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(self, stream: BinaryIO, *, max_size: int) -> StoredBlob:
        """Copy `stream` into storage, refusing it once it passes `max_size` bytes."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as temp:
                blob = _copy_within_limit(stream, temp, max_size)
                temp.flush()
                os.fsync(temp.fileno())
            final = self._path(blob.sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, final)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return blob

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Remove the blob; nothing happens if it is already gone. Callers go through
        academy.core.blobs, which checks no row still points at it and waits for the commit."""
        self._path(sha256).unlink(missing_ok=True)

    def list_blobs(self) -> Iterator[ListedBlob]:
        """Every stored blob (temp files of unfinished uploads are not blobs)."""
        for path in self.root.glob("??/??/*"):
            if SHA256.match(path.name) and path == self._path(path.name) and path.is_file():
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield ListedBlob(path.name, stat.st_size, modified)


def stream_size(stream: BinaryIO) -> int:
    """Bytes left in a seekable upload stream, without reading it or moving its position."""
    start = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell() - start
    stream.seek(start)
    return size


def _copy_within_limit(stream: BinaryIO, target: BinaryIO, max_size: int) -> StoredBlob:
    """Copy while hashing, and stop as soon as the limit is passed rather than after reading it
    all."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > max_size:
            raise FileTooLarge(
                f"The file is larger than {max_size // (1024 * 1024) or 1} MB", field="file"
            )
        digest.update(chunk)
        target.write(chunk)
    return StoredBlob(sha256=digest.hexdigest(), size=size)


class S3Storage:
    """An S3-compatible bucket. Objects are written whole by PUT, so a reader never sees part of
    one; the upload is staged in a spooled temp file first to learn its hash (its key)."""

    def __init__(self, bucket: str, client, prefix: str = "blobs/"):
        self.bucket = bucket
        self.client = client
        self.prefix = prefix

    def _key(self, sha256: str) -> str:
        if not SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def save(self, stream: BinaryIO, *, max_size: int) -> StoredBlob:
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as staged:
            blob = _copy_within_limit(stream, staged, max_size)
            if not self.exists(blob.sha256):
                staged.seek(0)
                self.client.upload_fileobj(staged, self.bucket, self._key(blob.sha256))
        return blob

    def open(self, sha256: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, sha256: str) -> None:
        """Remove the object; S3 answers success for a key that is already gone."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))

    def list_blobs(self) -> Iterator[ListedBlob]:
        """Every object under the prefix whose name is a hash, page by page."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                name = item["Key"].rsplit("/", 1)[-1]
                if SHA256.match(name):
                    yield ListedBlob(name, item["Size"], item["LastModified"].astimezone(UTC))


def storage() -> LocalStorage | S3Storage:
    config = current_app.config
    if config["STORAGE_BACKEND"] == "s3":
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=config["S3_ENDPOINT_URL"],
            region_name=config["S3_REGION"],
        )
        return S3Storage(config["S3_BUCKET"], client)
    return LocalStorage(config["STORAGE_DIR"])
