"""What an uploaded file really is, judged by its bytes, never by its name or the browser's word.

Content files now, and assignment submissions later, accept only a short allow-list of formats.
A file's name and declared type are whatever the uploader typed, so `detect` reads the bytes:
magic numbers for PDF, PNG and JPEG; the parts a real Office Open XML or OpenDocument zip must
hold; strict UTF-8 without NULs for plain text. `check_upload` then applies an allow-list and makes
sure the name does not claim another format (an HTML page renamed `notes.pdf` is refused, not
stored under a name that would mislead whoever downloads it), and `refuse_hidden_content` that a
file of an allowed type carries nothing it should not: macros, embedded objects and archives,
decompression bombs, PDF scripts, or a second format hidden where other programs look for one.
Older Office files (OLE2: .doc, .xls, .ppt) are not on any allow-list, since they can carry
macros that cannot be told apart from the document.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import struct
import unicodedata
import zipfile
import zlib
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


# --- what a file of an allowed type must not also carry ----------------------------------------
#
# A file can be a real PDF, picture or Word document and still be dangerous: a document with
# macros or an embedded program, a package that unpacks to gigabytes, or a "polyglot" that is one
# format to our checks and another to a browser or archive tool that guesses by looking inside.
# The limits sit far beyond what word processors, spreadsheets and cameras make.

#: Office Open XML and OpenDocument packages: parts, folder depth and name length.
MAX_PACKAGE_ENTRIES = 10_000
MAX_PACKAGE_DEPTH = 16
MAX_PACKAGE_NAME = 512
#: Unpacked size of a whole package, absolutely and as a multiple of its packed size.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_UNPACK_RATIO = 100
#: One part may compress better than the whole (XML does), but not absurdly: deflate cannot
#: squeeze ordinary content 250 times, only long runs of one byte.
MAX_PART_RATIO = 250
PART_RATIO_FROM = 1024 * 1024
#: Bytes read of the small XML parts that say what a package holds.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: How far into a file browsers and other tools look when they guess its format.
SNIFF_WINDOW = 1024
#: Padding (NULs, 0xFF, white space) some encoders leave after a picture's end marker.
MAX_IMAGE_PADDING = 4096
#: Decompressed PDF object streams read when looking for scripts.
MAX_PDF_OBJECT_STREAM_BYTES = 64 * 1024 * 1024

OFFICE_TYPES = (DOCX, XLSX, PPTX, ODT, ODS, ODP)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Content signatures of archives and programs, at the start of a part.
ARCHIVE_MAGIC = {
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
    b"PK\x07\x08": "zip",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!\x1a\x07": "rar",
    b"\x1f\x8b\x08": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"MSCF": "cab",
    b"!<arch>\n": "ar",
    OLE2_MAGIC: "OLE",
    b"\x7fELF": "program",
    b"\xca\xfe\xba\xbe": "program",
    b"\xcf\xfa\xed\xfe": "program",
}
#: Names no part of a document has a reason to carry.
ARCHIVE_EXTENSIONS = frozenset(
    {"zip", "7z", "rar", "gz", "tgz", "bz2", "xz", "zst", "tar", "jar", "war", "cab", "arj", "lzh",
     "iso", "dmg", "msi", "exe", "dll", "com", "scr", "bat", "cmd", "ps1", "vbs", "vbe", "js",
     "jse", "wsf", "wsh", "hta", "lnk", "sh"}
)  # fmt: skip
#: Parts that only a macro-enabled document holds.
MACRO_PARTS = frozenset({"vbaproject.bin", "vbadata.xml", "vbaprojectsignature.bin"})
MACRO_FOLDERS = frozenset({"macrosheets", "basic", "scripts"})
_MACRO_TYPES = re.compile(rb"macroenabled|vbaproject|vnd\.ms-excel\.(?:intl)?macrosheet", re.I)
_EMBEDDED_TYPES = re.compile(rb"oleobject|activex|/control\"", re.I)
_TAR_MAGIC = b"ustar"

_MARKUP = re.compile(rb"<(?:!doctype\s+html|html|body|script|svg|iframe)[\s>/]", re.I)
_PDF_DANGEROUS_NAMES = frozenset(
    {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA"}
)
_PDF_NAME = re.compile(rb"/([^\s\x00/<>\[\]()%{}]*)")
_PDF_STREAM = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_PDF_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")

SAVE_AGAIN = "Save it again from the program that made it, or as a PDF, and upload that."
MARKUP = "This file also contains web page or script code, so it cannot be accepted. " + SAVE_AGAIN
HIDDEN_ARCHIVE = (
    "This file has another file (an archive) hidden inside it, so it cannot be accepted. "
    + SAVE_AGAIN
)
IMAGE_TRAILER = (
    "This picture has extra data after the end of the image (some phones add a video for "
    "'motion photos'), so it cannot be accepted. Export or save it again as a still image."
)
ALSO_PDF = (
    "This file also looks like a PDF to some programs, so it cannot be accepted. " + SAVE_AGAIN
)
PDF_ACTIVE = (
    "This PDF contains scripts, embedded files or actions that start programs, so it cannot be "
    "accepted. Print it to a new PDF (choose Save as PDF when printing) and upload that."
)
PDF_BOMB = (
    "This PDF unpacks to far more than its size, so it cannot be accepted. Print it to a new PDF "
    "(choose Save as PDF when printing) and upload that."
)
PDF_UNREADABLE = (
    "This PDF could not be checked: it may be password-protected. Remove the password, or print "
    "it to a new PDF (choose Save as PDF when printing), and upload that."
)
BOMB = (
    "This document unpacks to far more than its size, so it cannot be accepted. Save it again "
    "from your word processor, or as a PDF."
)
PACKAGE_UNSAFE = (
    "This document is damaged or built in a way that is not safe to open, so it cannot be "
    "accepted. " + SAVE_AGAIN
)
PACKAGE_ENCRYPTED = (
    "This document is password-protected or encrypted, so it cannot be checked. Remove the "
    "password, or save it as a PDF, and upload that."
)
MACROS = (
    "This document contains macros, so it cannot be accepted. Save it as an ordinary document "
    "(.docx, .xlsx or .pptx, not a macro-enabled one) or as a PDF, and upload that."
)
EMBEDDED_OBJECT = (
    "This document contains an embedded object or ActiveX control, so it cannot be accepted. "
    "Remove it (or paste it as a picture), or save the document as a PDF, and upload that."
)
LEGACY_OFFICE = (
    "This is an older Word, Excel or PowerPoint file (.doc, .xls or .ppt) or a password-"
    "protected document, which may carry macros, so it cannot be accepted. Save it as a .docx "
    "(or .xlsx or .pptx) without a password, or as a PDF, and upload that."
)
PLAIN_TEXT_MARKUP = (
    "This text file is a web page or SVG image, so it cannot be accepted. Save it as plain "
    "text or as a PDF."
)


def _refuse(message: str) -> UnsupportedFileType:
    return UnsupportedFileType(message, field="file")


def refuse_hidden_content(stream: BinaryIO, file_type: FileType) -> None:
    """UnsupportedFileType when a file of `file_type` (as `detect` found it) also carries what no
    such file should: macros, embedded programs or archives, a decompression bomb, scripts, or a
    second format where browsers and archive tools look for one.

    The stream is read from its current position, which is restored after.
    """
    start = stream.tell()
    try:
        if file_type in OFFICE_TYPES:
            _inspect_package(stream, _remaining_size(stream))
            stream.seek(start)
        head = stream.read(SNIFF_WINDOW)
        if _MARKUP.search(head):
            raise _refuse(PLAIN_TEXT_MARKUP if file_type is TXT else MARKUP)
        if file_type is not PDF and b"%PDF-" in head:
            # PDF readers accept a file whose header is anywhere in its first kilobyte.
            raise _refuse(ALSO_PDF)
        if file_type in (PDF, PNG, JPEG):
            data = head + stream.read()
            if _carries_zip(data):
                raise _refuse(HIDDEN_ARCHIVE)
            if file_type is PDF:
                _inspect_pdf(data)
            else:
                _refuse_image_trailer(data, file_type)
    finally:
        stream.seek(start)


def is_legacy_office(source: bytes | BinaryIO) -> bool:
    """An OLE2 compound file: a .doc, .xls or .ppt, or an encrypted Office Open XML document."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:8]) == OLE2_MAGIC
    start = source.tell()
    try:
        return source.read(8) == OLE2_MAGIC
    finally:
        source.seek(start)


def _remaining_size(stream: BinaryIO) -> int:
    start = stream.tell()
    try:
        return stream.seek(0, io.SEEK_END) - start
    finally:
        stream.seek(start)


# Office Open XML and OpenDocument packages


def _inspect_package(stream: BinaryIO, size: int, *, nested: bool = False) -> None:
    try:
        with zipfile.ZipFile(_Window(stream)) as archive:
            entries = archive.infolist()
            _check_package_entries(entries, size)
            _check_package_declarations(archive, entries)
            for entry in entries:
                _check_part(archive, entry, nested=nested)
    except UnsupportedFileType:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError, KeyError, zlib.error) as exc:  # fmt: skip
        raise _refuse(PACKAGE_UNSAFE) from exc


def _check_package_entries(entries: list[zipfile.ZipInfo], size: int) -> None:
    if len(entries) > MAX_PACKAGE_ENTRIES:
        raise _refuse(PACKAGE_UNSAFE)
    seen: set[str] = set()
    unpacked = 0
    for entry in entries:
        name = entry.orig_filename
        folded = name.casefold()
        if not _safe_part_name(name) or folded in seen:
            raise _refuse(PACKAGE_UNSAFE)
        seen.add(folded)
        if entry.flag_bits & 0x41:  # encrypted, or "strong" encryption
            raise _refuse(PACKAGE_ENCRYPTED)
        unpacked += entry.file_size
        if entry.file_size > PART_RATIO_FROM and entry.file_size > MAX_PART_RATIO * max(
            entry.compress_size, 1
        ):
            raise _refuse(BOMB)
    if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_UNPACK_RATIO * max(size, 1):
        raise _refuse(BOMB)


def _safe_part_name(name: str) -> bool:
    """A relative path inside the package: no way out of it, nothing a program would read as a
    drive, device or absolute path."""
    if not name or len(name) > MAX_PACKAGE_NAME or "\\" in name or _CONTROL.search(name):
        return False
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    segments = name.rstrip("/").split("/")
    return len(segments) <= MAX_PACKAGE_DEPTH and not any(s in ("", ".", "..") for s in segments)


def _check_package_declarations(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> None:
    """What the package says it holds: its content types, relationships and ODF manifest."""
    for entry in entries:
        name = entry.filename.casefold()
        if name == "[content_types].xml" or name.endswith(".rels"):
            text = _read_small(archive, entry)
            if _MACRO_TYPES.search(text):
                raise _refuse(MACROS)
            if _EMBEDDED_TYPES.search(text):
                raise _refuse(EMBEDDED_OBJECT)
        elif name == "meta-inf/manifest.xml":
            text = _read_small(archive, entry)
            if b"encryption-data" in text:
                raise _refuse(PACKAGE_ENCRYPTED)


def _read_small(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    if entry.file_size > MAX_MANIFEST_BYTES:
        raise _refuse(PACKAGE_UNSAFE)
    with archive.open(entry) as part:
        return part.read(MAX_MANIFEST_BYTES)


def _check_part(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, *, nested: bool) -> None:
    if entry.is_dir():
        return
    segments = entry.filename.casefold().split("/")
    base = segments[-1]
    folders = set(segments[:-1])
    if base in MACRO_PARTS or folders & MACRO_FOLDERS:
        raise _refuse(MACROS)
    if "activex" in folders or base.startswith(("oleobject", "activex")):
        raise _refuse(EMBEDDED_OBJECT)
    with archive.open(entry) as part:
        head = part.read(512)
    kind = _archive_kind(head)
    extension = base.rpartition(".")[2] if "." in base else ""
    if kind is None and extension not in ARCHIVE_EXTENSIONS:
        return
    if kind == "zip" and "embeddings" in folders and not nested:
        # A chart in Word or PowerPoint keeps its data as a whole workbook in embeddings/: allowed
        # when it is itself a clean Office package holding nothing further.
        _inspect_embedded_package(archive, entry)
        return
    if kind == "OLE":
        raise _refuse(EMBEDDED_OBJECT)
    raise _refuse(
        "This document contains another archive or program file "
        f"({_printable_name(entry.filename)}), so it cannot be accepted. Remove it, or save the "
        "document as a PDF, and upload that."
    )


def _inspect_embedded_package(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    if entry.file_size > MAX_UNPACKED_BYTES:
        raise _refuse(BOMB)
    with archive.open(entry) as part:
        data = part.read(MAX_UNPACKED_BYTES + 1)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            is_package = "[Content_Types].xml" in inner.namelist()
    except zipfile.BadZipFile as exc:
        raise _refuse(PACKAGE_UNSAFE) from exc
    if not is_package:
        raise _refuse(
            "This document contains another archive "
            f"({_printable_name(entry.filename)}), so it cannot be accepted. Remove it, or save "
            "the document as a PDF, and upload that."
        )
    _inspect_package(io.BytesIO(data), len(data), nested=True)


def _archive_kind(head: bytes) -> str | None:
    found = next((kind for magic, kind in ARCHIVE_MAGIC.items() if head.startswith(magic)), None)
    if found is None and head[257:262] == _TAR_MAGIC:
        return "tar"
    if found is None and head.startswith(b"MZ") and len(head) >= 64:
        # Two bytes alone would match one part in 65,536 by chance: a Windows program's header
        # also points at its "PE" signature.
        pe_at = int.from_bytes(head[60:64], "little")
        if head[pe_at : pe_at + 4] == b"PE\0\0":
            return "program"
    return found


def _printable_name(name: str) -> str:
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return name if len(name) <= 80 else "…" + name[-79:]


# Pictures and PDFs


def _carries_zip(data: bytes) -> bool:
    """A zip archive's directory at the end, where zip tools look for one whatever the file
    starts with: a real end record points back at a real central directory."""
    floor = max(0, len(data) - (0xFFFF + 22 + SNIFF_WINDOW))
    end = len(data)
    while (found := data.rfind(b"PK\x05\x06", floor, end)) >= 0:
        end = found
        if data[found - 20 : found - 16] == b"PK\x06\x07":  # a Zip64 locator just before
            return True
        if found + 22 > len(data):
            continue
        entries, directory_size = struct.unpack("<HI", data[found + 10 : found + 16])
        directory = found - directory_size
        if entries and directory >= 0 and data.startswith(b"PK\x01\x02", directory):
            return True
    return False


def _refuse_image_trailer(data: bytes, file_type: FileType) -> None:
    end = _png_end(data) if file_type is PNG else _jpeg_end(data)
    if end is None:
        return  # cut short: nothing follows the picture
    trailer = data[end:]
    if len(trailer) > MAX_IMAGE_PADDING or trailer.strip(b"\x00\xff \t\r\n"):
        raise _refuse(IMAGE_TRAILER)


def _png_end(data: bytes) -> int | None:
    """Where the IEND chunk ends, walking the chunks so no picture data is mistaken for it."""
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if kind == b"IEND":
            return end if end <= len(data) else None
        position = end
    return None


def _jpeg_end(data: bytes) -> int | None:
    """Where the EOI marker ends, walking the segments (a thumbnail inside EXIF has its own)."""
    size = len(data)
    position = 2
    while position + 1 < size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return position + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        if position + 4 > size:
            return None
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == 0xDA:
            # Entropy-coded data runs to the next marker that is not a stuffed 0xFF or a restart.
            while (position := data.find(b"\xff", position)) >= 0 and position + 1 < size:
                following = data[position + 1]
                if following == 0x00 or following == 0xFF or 0xD0 <= following <= 0xD7:
                    position += 1
                    continue
                break
            else:
                return None
    return None


def _inspect_pdf(data: bytes) -> None:
    """Names of actions and attachments outside stream data, and inside the compressed object
    streams where PDF 1.5 and later keep most dictionaries."""
    budget = MAX_PDF_OBJECT_STREAM_BYTES
    position = 0
    while (found := _PDF_STREAM.search(data, position)) is not None:
        _refuse_pdf_names(data[position : found.start() + 2])
        end = data.find(b"endstream", found.end())
        end = len(data) if end < 0 else end
        header = _pdf_stream_dictionary(data, found.start() + 2)
        if _pdf_names(header) & {b"ObjStm"}:
            budget -= _inspect_pdf_object_stream(header, data[found.end() : end], budget)
        position = end + len(b"endstream")
    _refuse_pdf_names(data[position:])


def _pdf_stream_dictionary(data: bytes, end: int) -> bytes:
    """The dictionary before a `stream` keyword: back to its object's `obj`."""
    floor = max(0, end - 4096)
    start = data.rfind(b"obj", floor, end)
    return data[start if start >= 0 else floor : end]


def _pdf_names(text: bytes) -> set[bytes]:
    """The names in `text` with #xx escapes decoded (`/J#61vaScript` is `/JavaScript`)."""
    names = _PDF_NAME.findall(text)
    return {_PDF_HEX.sub(lambda m: bytes([int(m[1], 16)]), name) for name in names}


def _refuse_pdf_names(text: bytes) -> None:
    if _pdf_names(text) & _PDF_DANGEROUS_NAMES or b"javascript:" in text.lower():
        raise _refuse(PDF_ACTIVE)


def _inspect_pdf_object_stream(header: bytes, body: bytes, budget: int) -> int:
    """Scan one object stream; the bytes it unpacked to."""
    names = _pdf_names(header)
    filters = names & {b"FlateDecode", b"Fl", b"LZWDecode", b"ASCIIHexDecode", b"ASCII85Decode",
                       b"RunLengthDecode", b"Crypt", b"AHx", b"A85", b"LZW", b"RL"}  # fmt: skip
    if not filters:
        _refuse_pdf_names(body)
        return len(body)
    if filters - {b"FlateDecode", b"Fl"} or budget <= 0:
        raise _refuse(PDF_UNREADABLE)
    inflater = zlib.decompressobj()
    try:
        unpacked = inflater.decompress(body, budget)
    except zlib.error as exc:
        raise _refuse(PDF_UNREADABLE) from exc
    if inflater.unconsumed_tail:
        raise _refuse(PDF_BOMB)
    _refuse_pdf_names(unpacked)
    return len(unpacked)


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
    when the content is not on the allow-list, the name claims a different format, or the file
    carries what its type should not (`refuse_hidden_content`)."""
    wanted = {t for ext in allowed if (t := by_extension(ext)) is not None}
    allowed_types = [t for t in FILE_TYPES.values() if t in wanted]
    file_type = detect(stream)
    if file_type is None or file_type not in allowed_types:
        must_be = "The file must be a " + describe(t.ext for t in allowed_types)
        if file_type is None and is_legacy_office(stream):
            raise UnsupportedFileType(f"{LEGACY_OFFICE} {must_be}.", field="file")
        raise UnsupportedFileType(must_be, field="file")
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
    refuse_hidden_content(stream, file_type)
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
