"""Where uploaded bytes live: content-addressed by SHA-256, written atomically, outside any web
root. The database row that points at a file is written only after `save` has returned, so a
failed write leaves no row, and a temp file that never got renamed is never seen as content.

Only the local-disk backend exists so far; an S3-compatible one will implement the same methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
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
        digest = hashlib.sha256()
        size = 0
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as temp:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_size:
                        raise FileTooLarge(
                            f"The file is larger than {max_size // (1024 * 1024) or 1} MB",
                            field="file",
                        )
                    digest.update(chunk)
                    temp.write(chunk)
                temp.flush()
                os.fsync(temp.fileno())
            sha256 = digest.hexdigest()
            final = self._path(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, final)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return StoredBlob(sha256=sha256, size=size)

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()


def storage() -> LocalStorage:
    return LocalStorage(current_app.config["STORAGE_DIR"])
