"""Files in module content: checked by content on upload, always downloaded as attachments."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from academy.content import services
from academy.content.models import Resource
from academy.extensions import db
from tests.conftest import count
from tests.content import files


def stored_files(app) -> set[Path]:
    """Everything under STORAGE_DIR, temp files included."""
    root = Path(app.config["STORAGE_DIR"])
    return {path for path in root.rglob("*") if path.is_file()}


def upload(client, section, data: bytes, name: str, title: str = "Handout"):
    return client.post(
        f"/sections/{section.id}/resources/new/file",
        data={"title": title, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def only_resource() -> Resource:
    return db.session.scalars(sa.select(Resource)).one()


def test_the_upload_form_posts_multipart(course, login_as):
    html = login_as(course.tutor).get(f"/sections/{course.section.id}/resources/new/file")
    page = " ".join(html.get_data(as_text=True).split())
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (files.PDF, "Week 1 slides.pdf", "application/pdf"),
        (
            files.docx(),
            "Reading notes.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_a_tutor_uploads_a_real_file_and_a_learner_downloads_it(
    course, login_as, app, data, name, mime
):
    response = upload(login_as(course.tutor), course.section, data, name)

    assert response.status_code == 302, response.get_data(as_text=True)
    resource = only_resource()
    assert (resource.kind, resource.file_name, resource.file_type, resource.file_size) == (
        "file",
        name,
        mime,
        len(data),
    )

    download = login_as(course.learner, the_client=app.test_client()).get(
        f"/resources/{resource.id}/download"
    )
    body = download.get_data()
    download.close()  # the file is streamed; closing the response closes it
    assert download.status_code == 200
    assert body == data
    assert download.mimetype == mime
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert name.replace(" ", "%20") in disposition or f'"{name}"' in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download.headers["Cache-Control"]


def test_the_module_page_says_what_a_download_is(course, login_as):
    upload(login_as(course.tutor), course.section, files.PDF, "slides.pdf", title="Slides")
    page = login_as(course.learner).get(f"/modules/{course.module.id}/learn")
    html = " ".join(page.get_data(as_text=True).split())
    assert f"PDF, {len(files.PDF)} bytes" in html
    assert f'href="/resources/{only_resource().id}/download" download' in html


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (files.EXE, "slides.pdf"),
        (files.HTML, "slides.pdf"),
        (files.HTML, "page.html"),
        (files.zip_of({"hello.txt": "hi"}), "essay.docx"),
        (files.zip_of({"[Content_Types].xml": files.CONTENT_TYPES}), "essay.docx"),
        (b"", "empty.pdf"),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused_with_415(course, login_as, app, data, name):
    before = stored_files(app)

    response = upload(login_as(course.tutor), course.section, data, name)

    assert response.status_code == 415
    assert "There is a problem" in response.get_data(as_text=True)
    assert count(Resource) == 0
    assert stored_files(app) == before


def test_an_oversized_file_is_refused_with_413_leaving_nothing_behind(
    course, login_as, app, monkeypatch
):
    monkeypatch.setattr(services, "MAX_FILE_SIZE", 1024)
    before = stored_files(app)

    response = upload(login_as(course.tutor), course.section, files.PDF + b"%" * 2048, "big.pdf")

    assert response.status_code == 413
    assert "larger than" in response.get_data(as_text=True)
    assert count(Resource) == 0
    assert stored_files(app) == before  # no temp file left in STORAGE_DIR


def test_a_request_over_the_upload_limit_is_413(course, login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    before = stored_files(app)

    response = upload(login_as(course.tutor), course.section, files.PDF + b"%" * 8192, "big.pdf")

    assert response.status_code == 413
    assert count(Resource) == 0
    assert stored_files(app) == before


def test_a_new_file_resource_needs_a_file(course, login_as):
    response = login_as(course.tutor).post(
        f"/sections/{course.section.id}/resources/new/file",
        data={"title": "Nothing"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Choose a file to upload" in response.get_data(as_text=True)
    assert count(Resource) == 0


def test_replacing_a_file_and_keeping_it(course, login_as):
    client = login_as(course.tutor)
    upload(client, course.section, files.PDF, "v1.pdf")
    resource = only_resource()

    kept = client.post(
        f"/resources/{resource.id}/edit",
        data={"title": "Renamed", "version": "1", "file": (io.BytesIO(b""), "")},
        content_type="multipart/form-data",
    )
    assert kept.status_code == 302
    db.session.refresh(resource)
    assert (resource.title, resource.file_name) == ("Renamed", "v1.pdf")

    replaced = client.post(
        f"/resources/{resource.id}/edit",
        data={"title": "Renamed", "version": "2", "file": (io.BytesIO(files.docx()), "v2.docx")},
        content_type="multipart/form-data",
    )
    assert replaced.status_code == 302
    db.session.refresh(resource)
    assert resource.file_name == "v2.docx" and resource.file_type.endswith("document")

    refused = client.post(
        f"/resources/{resource.id}/edit",
        data={"title": "Renamed", "version": "3", "file": (io.BytesIO(files.EXE), "v3.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 415
    db.session.refresh(resource)
    assert resource.file_name == "v2.docx"


def test_downloads_of_other_kinds_or_missing_bytes_are_404(course, make, login_as):
    page = make.resource(course.section, kind="page")
    lost = make.resource(course.section, kind="file", file_sha256="f" * 64)
    client = login_as(course.learner)
    assert client.get(f"/resources/{page.id}/download").status_code == 404
    assert client.get(f"/resources/{lost.id}/download").status_code == 404
