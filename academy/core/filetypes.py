"""What an uploaded file really is, judged by its bytes, never by its name or the browser's word.

Content files now, and assignment submissions later, accept only a short allow-list of formats.
A file's name and declared type are whatever the uploader typed, so `detect` reads the bytes:
magic numbers for PDF, PNG and JPEG; the parts a real Office Open XML or OpenDocument zip must
hold; strict UTF-8 without NULs for plain text. `check_upload` then applies an allow-list and makes
sure the name does not claim another format (an HTML page renamed `notes.pdf` is refused, not
stored under a name that would mislead whoever downloads it).
"""

from __future__ import annotations

import codecs
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from academy.core.errors import DomainError

CHUNK = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
#: An OpenDocument `mimetype` entry is one short line; anything bigger is not one (or is a bomb).
MAX_ODF_MIMETYPE_SIZE = 128


@dataclass(frozen=True)
class FileType:
    #: The canonical extension, also the key used in allow-lists (`allowed_types: ["pdf"]`).
    ext: str
    mime: str
    label: str
    #: Other extensions a file of this type may be named with.
    aliases: tuple[str, ...] = field(default=())

    @property
    def extensions(self) -> tuple[str, ...]:
        return (self.ext, *self.aliases)


PDF = FileType("pdf", "application/pdf", "PDF")
DOCX = FileType(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "Word document",
)
XLSX = FileType(
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"
)
PPTX = FileType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "PowerPoint presentation",
)
ODT = FileType("odt", "application/vnd.oasis.opendocument.text", "OpenDocument text")
ODS = FileType("ods", "application/vnd.oasis.opendocument.spreadsheet", "OpenDocument spreadsheet")
ODP = FileType(
    "odp", "application/vnd.oasis.opendocument.presentation", "OpenDocument presentation"
)
TXT = FileType("txt", "text/plain", "Plain text", aliases=("text", "md", "csv"))
PNG = FileType("png", "image/png", "PNG image")
JPEG = FileType("jpg", "image/jpeg", "JPEG image", aliases=("jpeg",))

FILE_TYPES: dict[str, FileType] = {
    t.ext: t for t in (PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP, TXT, PNG, JPEG)
}
#: Every type this module can recognise.
ALL_TYPES: tuple[str, ...] = tuple(FILE_TYPES)

#: The part an Office Open XML package of each kind must contain, besides [Content_Types].xml.
OOXML_MAIN_PARTS = {
    "word/document.xml": DOCX,
    "xl/workbook.xml": XLSX,
    "ppt/presentation.xml": PPTX,
}
ODF_TYPES = {t.mime: t for t in (ODT, ODS, ODP)}


class UnsupportedFileType(DomainError):
    status = 415


def by_extension(ext: str) -> FileType | None:
    """The type named by an extension or allow-list entry (`"jpeg"` and `"jpg"` are one type)."""
    ext = ext.lower().lstrip(".")
    return next((t for t in FILE_TYPES.values() if ext in t.extensions), None)


# --- detection ---------------------------------------------------------------------------------


def detect(source: bytes | BinaryIO) -> FileType | None:
    """The type the content of `source` really is, or None if it is none of the known types.

    A stream must be seekable; it is read from its current position, which is restored after.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _detect(io.BytesIO(bytes(source)))
    start = source.tell()
    try:
        return _detect(source)
    finally:
        source.seek(start)


def _detect(stream: BinaryIO) -> FileType | None:
    start = stream.tell()
    head = stream.read(16)
    stream.seek(start)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(ZIP_MAGIC):
        return _detect_zip(stream)
    if _is_plain_text(stream):
        return TXT
    return None


def _detect_zip(stream: BinaryIO) -> FileType | None:
    """An Office Open XML or OpenDocument package, judged by the parts inside it."""
    try:
        with zipfile.ZipFile(_Window(stream)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            if "[Content_Types].xml" in names:
                found = [kind for part, kind in OOXML_MAIN_PARTS.items() if part in names]
                return found[0] if len(found) == 1 else None
            first = entries[0] if entries else None
            if (
                first is not None
                and first.filename == "mimetype"
                and first.file_size <= MAX_ODF_MIMETYPE_SIZE
            ):
                media_type = archive.read(first).decode("ascii", errors="replace").strip()
                return ODF_TYPES.get(media_type)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError, KeyError):  # fmt: skip
        # Corrupt, encrypted or exotic archives are simply not a type we accept.
        return None
    return None


def _is_plain_text(stream: BinaryIO) -> bool:
    """Strict UTF-8 (a BOM is fine) with no NUL and no control characters but tab and line ends."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    seen_any = False
    try:
        while chunk := stream.read(CHUNK):
            seen_any = True
            if not _printable(decoder.decode(chunk)):
                return False
        if not _printable(decoder.decode(b"", final=True)):
            return False
    except UnicodeDecodeError:
        return False
    return seen_any


_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,10}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _printable(text: str) -> bool:
    return _CONTROL.search(text) is None


class _Window(io.RawIOBase):
    """A view of `stream` that starts at its current position, so zipfile sees a whole file even
    when the caller's stream carries something before it."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._origin = stream.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._stream.tell() - self._origin

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._stream.seek(self._origin + offset)
        else:
            self._stream.seek(offset, whence)
        return self.tell()

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- the allow-list ----------------------------------------------------------------------------


def describe(allowed: Iterable[str]) -> str:
    labels = [FILE_TYPES[ext].label for ext in allowed if ext in FILE_TYPES]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def check_upload(
    stream: BinaryIO, file_name: str, allowed: Iterable[str] = ALL_TYPES
) -> tuple[FileType, str]:
    """The real type of an upload and a safe name to store it under; UnsupportedFileType (415)
    when the content is not on the allow-list or the name claims a different format."""
    wanted = {t for ext in allowed if (t := by_extension(ext)) is not None}
    allowed_types = [t for t in FILE_TYPES.values() if t in wanted]
    file_type = detect(stream)
    if file_type is None or file_type not in allowed_types:
        raise UnsupportedFileType(
            "The file must be a " + describe(t.ext for t in allowed_types), field="file"
        )
    name = clean_file_name(file_name)
    ext = _extension(name)
    claimed = by_extension(ext) if ext else None
    if claimed is not None and claimed is not file_type:
        raise UnsupportedFileType(
            f"The file is named as a {claimed.label} but its contents are not one", field="file"
        )
    if claimed is None and ext and file_type is TXT:
        # Web pages, scripts and SVG images are text too; only names that say text are.
        raise UnsupportedFileType(
            f"Files ending .{ext} are not allowed. The file must be a "
            + describe(t.ext for t in allowed_types),
            field="file",
        )
    if claimed is None:
        name = clean_file_name(f"{name}.{file_type.ext}")
    return file_type, name


def _extension(name: str) -> str | None:
    """What follows the last dot, if it looks like an extension (not "Dr. Smith")."""
    stem, dot, ext = name.rpartition(".")
    return ext if dot and stem and _EXTENSION.match(ext) else None


def clean_file_name(file_name: str | None, max_length: int = 255) -> str:
    """The last path segment of a browser-sent name, without control characters, never empty."""
    name = re.split(r"[/\\]", file_name or "")[-1]
    name = "".join(
        c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C"
    )
    name = name.strip().strip(".").strip() or "file"
    if len(name) > max_length:
        stem, ext = os.path.splitext(name)
        name = stem[: max_length - len(ext)] + ext
    return name
