"""academy.core.filetypes: a file's type comes from its bytes; names cannot smuggle another."""

from __future__ import annotations

import io

import pytest

from academy.core import filetypes
from academy.core.filetypes import UnsupportedFileType, check_upload, clean_file_name, detect
from tests.content import files

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(
    ("data", "ext"),
    [
        (files.PDF, "pdf"),
        (files.PNG, "png"),
        (files.JPEG, "jpg"),
        (files.docx(), "docx"),
        (files.office("xl/workbook.xml"), "xlsx"),
        (files.office("ppt/presentation.xml"), "pptx"),
        (files.opendocument("application/vnd.oasis.opendocument.text"), "odt"),
        (files.opendocument("application/vnd.oasis.opendocument.spreadsheet"), "ods"),
        (files.opendocument("application/vnd.oasis.opendocument.presentation"), "odp"),
        ("Reading list\n\tWachter 2016 — Making IT work\r\n".encode(), "txt"),
        (b"\xef\xbb\xbfemail,name\n", "txt"),
    ],
)
def test_real_files_are_recognised_by_content(data, ext):
    found = detect(data)
    assert found is not None and found.ext == ext
    assert detect(io.BytesIO(data)) == found


@pytest.mark.parametrize(
    "data",
    [
        b"",
        files.EXE,
        files.EXE + files.docx(),  # a zip appended to a program is still a program
        files.zip_of({"hello.txt": "hi"}),
        files.zip_of({"[Content_Types].xml": files.CONTENT_TYPES, "other.xml": "<x/>"}),
        files.zip_of({"word/document.xml": "<x/>"}),  # the part without [Content_Types].xml
        files.zip_of(
            {"content.xml": "<x/>", "mimetype": "application/vnd.oasis.opendocument.text"}
        ),
        files.opendocument("application/x-shockwave-flash"),
        b"PK\x03\x04 this is not really a zip at all",
        b"caf\xe9 latin-1 is not UTF-8",
        b"text with a NUL\x00 inside",
        b"\x1b[31m terminal escapes \x1b[0m",
        b"GIF89a\x01\x00\x01\x00",
    ],
)
def test_anything_else_is_not_recognised(data):
    assert detect(data) is None


def test_a_package_claiming_two_kinds_is_refused():
    both = files.zip_of(
        {
            "[Content_Types].xml": files.CONTENT_TYPES,
            "word/document.xml": "<x/>",
            "xl/workbook.xml": "<x/>",
        }
    )
    assert detect(both) is None


def test_detecting_a_stream_leaves_it_where_it_was():
    stream = io.BytesIO(b"prefix" + files.docx())
    stream.seek(6)

    assert detect(stream) is filetypes.DOCX
    assert stream.tell() == 6
    assert stream.read(4) == b"PK\x03\x04"


def test_a_long_text_file_is_read_to_the_end():
    text = ("é" * 40_000 + "\n").encode() * 3 + b"\x00"
    assert detect(text) is None
    assert detect(text[:-1]) is filetypes.TXT


def test_check_upload_keeps_a_matching_name():
    file_type, name = check_upload(io.BytesIO(files.PDF), "C:\\Users\\me\\Week 1 slides.PDF")
    assert (file_type.ext, file_type.mime, name) == ("pdf", "application/pdf", "Week 1 slides.PDF")


def test_text_is_accepted_under_a_text_name_or_none():
    assert check_upload(io.BytesIO(b"# Notes"), "notes.md")[1] == "notes.md"
    assert check_upload(io.BytesIO(b"Notes"), "README")[1] == "README.txt"


def test_check_upload_accepts_either_jpeg_extension():
    assert check_upload(io.BytesIO(files.JPEG), "ward.jpeg")[1] == "ward.jpeg"
    assert check_upload(io.BytesIO(files.JPEG), "ward.jpg")[1] == "ward.jpg"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("notes", "notes.pdf"),
        ("notes.v2", "notes.v2.pdf"),
        ("Report by Dr. Smith", "Report by Dr. Smith.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
    ],
)
def test_a_name_without_a_known_extension_gets_the_real_one(sent, stored):
    assert check_upload(io.BytesIO(files.PDF), sent)[1] == stored


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (files.EXE, "setup.pdf"),
        (files.HTML, "notes.pdf"),  # recognised as text, but named as a PDF
        (files.PDF, "notes.docx"),
        (files.HTML, "page.html"),  # text, but not named as text
        (b"<svg onload='alert(1)'/>", "logo.svg"),
        (files.zip_of({"hello.txt": "hi"}), "essay.docx"),
    ],
)
def test_check_upload_refuses_wrong_content_with_415(data, name):
    with pytest.raises(UnsupportedFileType) as raised:
        check_upload(io.BytesIO(data), name)
    assert raised.value.status == 415
    assert raised.value.field == "file"


def test_check_upload_applies_the_allow_list():
    assert check_upload(io.BytesIO(files.docx()), "essay.docx", ["pdf", "docx"])[0].ext == "docx"
    with pytest.raises(UnsupportedFileType, match="PDF or Word document"):
        check_upload(io.BytesIO(files.PNG), "essay.png", ["docx", "pdf"])


def test_file_names_are_cleaned():
    assert clean_file_name("a\x00b\u202ec.pdf") == "abc.pdf"
    assert clean_file_name("   ") == "file"
    assert clean_file_name("..") == "file"
    long_name = clean_file_name("x" * 400 + ".pdf")
    assert len(long_name) == 255 and long_name.endswith(".pdf")
