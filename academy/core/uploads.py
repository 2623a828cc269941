"""Taking an uploaded file: size, type by content, then storage, in that order and in one place,
so every upload (submissions, feedback files, credential evidence) refuses the same things."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from academy.core.errors import DomainError
from academy.core.filetypes import FileType, check_upload
from academy.core.storage import FileTooLarge, storage, stream_size


@dataclass(frozen=True)
class StoredUpload:
    sha256: str
    size: int
    name: str
    file_type: FileType


def store_upload(
    stream: BinaryIO,
    file_name: str,
    *,
    allowed_types,
    max_mb: int,
    field: str = "file",
    what: str = "The file",
    inspect: Callable[[BinaryIO, FileType, int], None] | None = None,
) -> StoredUpload:
    """Check and store an upload before any row changes, so a refused or failed upload changes
    nothing. `inspect` runs after the type check for content-specific refusals (zip bombs).
    Every refusal names `field`."""
    max_size = max_mb * 1024 * 1024
    try:
        size = stream_size(stream)
        if size == 0:
            raise DomainError(f"{what} is empty")
        if size > max_size:
            raise FileTooLarge(f"{what} must be {max_mb} MB or smaller")
        file_type, name = check_upload(stream, file_name or "", allowed_types)
        if inspect is not None:
            inspect(stream, file_type, size)
        blob = storage().save(stream, max_size=max_size)
    except DomainError as error:
        error.field = field
        raise
    return StoredUpload(blob.sha256, blob.size, name, file_type)
