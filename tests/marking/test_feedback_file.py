"""A feedback file on a mark: checked and stored with the mark, downloadable by the learner only
once released, by the cohort's tutors and admins, and by nobody else."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from academy.core.filetypes import UnsupportedFileType
from academy.core.storage import FileTooLarge, storage
from academy.extensions import db
from academy.marking import services
from academy.marking.models import Mark

PDF = b"%PDF-1.4\n% annotated script\n%%EOF\n"


@pytest.fixture
def course(make):
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    learner = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    return cohort, tutor, learner, assignment, make.submission(assignment, learner)


@pytest.fixture
def client_for(app, login_as):
    return lambda user: login_as(user, the_client=app.test_client())


def fresh(submission) -> Mark | None:
    return db.session.scalars(
        sa.select(Mark)
        .where(Mark.submission_id == submission.id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def fetch(client, path) -> tuple[int, bytes]:
    """Status and body of a download; closing the response closes the streamed file."""
    response = client.get(path)
    try:
        return response.status_code, response.data
    finally:
        response.close()


def post_mark(client, submission, version, upload, **fields):
    data = {"version": str(version), "action": "complete", "feedback": "", "mark": "60",
            "feedback_file": upload, **fields}  # fmt: skip
    return client.post(f"/marking/submissions/{submission.id}", data=data)


def test_a_file_uploaded_on_the_marking_page_is_stored_with_the_mark(course, client_for):
    _, tutor, _, _, submission = course
    marker = client_for(tutor)
    assert 'enctype="multipart/form-data"' in marker.get(
        f"/marking/submissions/{submission.id}"
    ).get_data(as_text=True)
    response = post_mark(marker, submission, 0, (io.BytesIO(PDF), "Annotated script.pdf"))
    assert response.status_code == 302
    mark = fresh(submission)
    assert mark.feedback_file_name == "Annotated script.pdf"
    with storage().open(mark.feedback_file_sha256) as stored:
        assert stored.read() == PDF
    download = marker.get(f"/marking/marks/{mark.id}/feedback-file")
    download.close()
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert fetch(marker, f"/marking/marks/{mark.id}/feedback-file") == (200, PDF)


def test_the_learner_downloads_it_only_after_release_and_nobody_else_can(course, make, client_for):
    cohort, tutor, learner, assignment, submission = course
    marker, own = client_for(tutor), client_for(learner)
    post_mark(marker, submission, 0, (io.BytesIO(PDF), "feedback.pdf"))
    path = f"/marking/marks/{fresh(submission).id}/feedback-file"
    assert fetch(own, path)[0] == 404
    assert path not in own.get("/my-marks").get_data(as_text=True)

    marker.post(f"/marking/assignments/{assignment.id}/release")
    assert fresh(submission).status == "released"
    assert path in own.get("/my-marks").get_data(as_text=True)
    assert fetch(own, path) == (200, PDF)

    other_learner = make.learner_in(cohort)
    other_tutor = make.user("tutor", scope=make.cohort())
    assert fetch(client_for(other_learner), path)[0] == 404
    assert fetch(client_for(other_tutor), path)[0] == 404
    assert fetch(client_for(make.user("admin")), path) == (200, PDF)


def test_a_wrong_or_empty_file_is_refused_and_nothing_is_saved(course, client_for):
    _, tutor, _, _, submission = course
    marker = client_for(tutor)
    page = post_mark(marker, submission, 0, (io.BytesIO(b"<html><script>x</script>"), "a.html"))
    assert page.status_code == 415 and "The file must be a" in page.get_data(as_text=True)
    assert fresh(submission) is None
    renamed = post_mark(marker, submission, 0, (io.BytesIO(PDF), "notes.docx"))
    assert renamed.status_code == 415 and fresh(submission) is None
    empty = post_mark(marker, submission, 0, (io.BytesIO(b""), "empty.pdf"))
    assert empty.status_code == 422 and "The feedback file is empty" in empty.get_data(as_text=True)
    assert fresh(submission) is None


def test_the_service_refuses_large_files_and_keeps_the_old_one(course, monkeypatch):
    _, tutor, _, _, submission = course
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=50,
                              feedback_file=(io.BytesIO(PDF), "first.pdf"))  # fmt: skip
    db.session.commit()
    monkeypatch.setattr(services, "FEEDBACK_FILE_MAX_MB", 0)
    with pytest.raises(FileTooLarge) as raised:
        services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=55,
                           feedback_file=(io.BytesIO(PDF), "second.pdf"))  # fmt: skip
    assert raised.value.status == 413 and raised.value.field == "feedback_file"
    monkeypatch.undo()
    with pytest.raises(UnsupportedFileType):
        services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=55,
                           feedback_file=(io.BytesIO(b"\x89PNG\r\n\x1a\n"), "x.png"))  # fmt: skip
    db.session.rollback()
    assert fresh(submission).feedback_file_name == "first.pdf"
