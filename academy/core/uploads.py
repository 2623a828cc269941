"""Taking an uploaded file: size, type and content checks, a virus scan, then storage, in that
order and in one place, so every upload (submissions, feedback files, credential evidence)
refuses the same things and a refused file is never stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from academy.core import antivirus
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
    nothing. `check_upload` refuses wrong types and hidden content (macros, embedded archives,
    bombs, polyglots); `inspect` runs after it for a caller's own refusals; then the virus scan,
    when one is configured. Every refusal names `field`."""
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
        antivirus.refuse_infected(stream, name, field=field)
        blob = storage().save(stream, max_size=max_size)
    except DomainError as error:
        error.field = field
        raise
    return StoredUpload(blob.sha256, blob.size, name, file_type)
