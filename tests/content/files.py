"""Small but real files of each type, built the way the programs that make them do."""

from __future__ import annotations

import io
import zipfile

PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
    b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
HTML = b"<!doctype html><html><body><script>alert('owned')</script></body></html>"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)


def zip_of(entries: dict[str, str | bytes], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries.items()):
            compression = zipfile.ZIP_STORED if stored_first and index == 0 else None
            archive.writestr(name, data, compress_type=compression)
    return buffer.getvalue()


def office(main_part: str) -> bytes:
    """An Office Open XML package: content types, relationships and the main part."""
    return zip_of(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": '<?xml version="1.0"?><Relationships/>',
            main_part: '<?xml version="1.0"?><root/>',
        }
    )


def docx() -> bytes:
    return office("word/document.xml")


def opendocument(media_type: str) -> bytes:
    return zip_of(
        {"mimetype": media_type, "content.xml": '<?xml version="1.0"?><office:document/>'},
        stored_first=True,
    )
