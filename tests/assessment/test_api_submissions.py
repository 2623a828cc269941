"""/api/v1 submissions: uploads checked by content, deadlines, submit with receipts, downloads,
file IDOR, reopen, and what each audience may see."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment import services
from academy.assessment.models import Extension, Submission, SubmissionFile, SubmissionReceipt
from academy.core import clock
from academy.extensions import db
from academy.organisations.models import Organisation

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


def docx(extra: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document>An essay on EPR go-lives</document>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def course(make, api):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Dr Ada Quill", email="ada.quill@nhs.test")
    other = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    return SimpleNamespace(
        cohort=cohort,
        assignment=assignment,
        learner=learner,
        other=other,
        tutor=make.user("tutor", scope=cohort),
        admin=make.user("admin"),
        as_learner=api(learner),
        as_other=api(other),
    )


def multipart(fields: dict) -> dict:
    """A multipart body built in memory: the test client would spool a large one to a temporary
    file that nothing closes."""
    boundary, body = encode_multipart(fields)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(client, assignment, data=PDF, name="essay.pdf"):
    return client.post(
        f"assignments/{assignment.id}/submission/files",
        **multipart({"file": FileStorage(io.BytesIO(data), filename=name)}),
    )


def submit(client, submission_id, declaration=True):
    return client.post(f"submissions/{submission_id}/submit", json={"declaration": declaration})


def download(client, submission_id, file_id):
    """GET a file and close the response, as a WSGI server would, so the stored file is closed."""
    response = client.get(f"submissions/{submission_id}/files/{file_id}")
    response.get_data()
    response.close()
    return response


def drafted(course, client=None, *files) -> int:
    """Upload `files` (default one PDF) as the learner; the submission id."""
    client = client or course.as_learner
    response = None
    for data, name in files or [(PDF, "essay.pdf")]:
        response = upload(client, course.assignment, data, name)
        assert response.status_code == 201, response.get_json()
    return response.get_json()["submission_id"]


# --- uploads -----------------------------------------------------------------------------------


def test_uploading_creates_a_draft_and_describes_the_file(course):
    response = upload(course.as_learner, course.assignment)

    assert response.status_code == 201
    body = response.get_json()
    submission = db.session.get(Submission, body["submission_id"])
    assert submission.user_id == course.learner.id and submission.status == "draft"
    assert body["file"]["name"] == "essay.pdf"
    assert body["file"]["size"] == len(PDF)
    assert len(body["file"]["sha256"]) == 64
    assert {"id", "name", "size", "sha256"} <= set(body["file"])
    mine = course.as_learner.get(f"assignments/{course.assignment.id}").get_json()
    assert mine["submission"] == {"id": submission.id, "status": "draft"}


@pytest.mark.parametrize(
    ("data", "name"),
    [(PDF, "essay.pdf"), (docx(), "essay.docx"), ("Plain words, ünïcode.\n".encode(), "n.txt")],
)
def test_real_documents_are_accepted(course, data, name):
    response = upload(course.as_learner, course.assignment, data, name)

    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (EXE, "essay.pdf", 415),  # an executable renamed
        (b"<html><script>alert(1)</script></html>\x00", "essay.pdf", 415),
        (docx({"word/bomb.xml": "0" * (30 * 1024 * 1024)}), "essay.docx", 415),  # zip bomb
        (b"", "essay.pdf", 422),
        (b"%PDF-1.7\n" + b"x" * (6 * 1024 * 1024), "big.pdf", 413),  # limit is 5 MB
        (PDF, "essay.docx", 415),  # named as another type
    ],
)
def test_bad_files_are_refused_with_a_clear_error_and_nothing_is_kept(course, data, name, status):
    response = upload(course.as_learner, course.assignment, data, name)

    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and body["message"]
    assert "file" in body["errors"]
    assert count(Submission) == 0 and count(SubmissionFile) == 0


def test_a_type_the_assignment_does_not_allow_is_refused(course, make):
    pdf_only = make.assignment(course.cohort, allowed_types=["pdf"])

    response = upload(course.as_learner, pdf_only, docx(), "essay.docx")

    assert response.status_code == 415
    assert "PDF" in response.get_json()["message"]


def test_an_upload_without_a_file_part_is_a_validation_error(course):
    response = course.as_learner.post(
        f"assignments/{course.assignment.id}/submission/files",
        data={"not_the_file": "text"},
        content_type="multipart/form-data",
    )
    as_json = course.as_learner.post(
        f"assignments/{course.assignment.id}/submission/files", json={"file": "essay"}
    )

    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]
    assert as_json.status_code == 422


def test_file_names_lose_paths_and_control_characters(course):
    response = upload(course.as_learner, course.assignment, PDF, "..\\../etc/\x07pass\x1bwd.pdf")
    # A raw line break cannot even travel in a multipart header: the part is lost, so 422.
    broken = upload(course.as_learner, course.assignment, PDF, "pass\nwd.pdf")

    name = response.get_json()["file"]["name"]
    assert response.status_code == 201
    assert name == "passwd.pdf"
    assert broken.status_code == 422


def test_only_the_assignments_active_learners_can_upload(course, make, api):
    outsider = make.learner_in(make.cohort())
    deferred = make.user("learner")
    make.enrolment(deferred, course.cohort, status="deferred")

    for caller in (course.tutor, course.admin, outsider, deferred):
        response = upload(api(caller), course.assignment)
        assert response.status_code == 404, caller
    assert count(Submission) == 0


def test_a_second_upload_of_the_same_name_replaces_the_first(course):
    first = drafted(course)
    second = drafted(course, None, (PDF + b"% revised\n", "essay.pdf"))

    assert first == second
    assert len(db.session.get(Submission, first).files) == 1


# --- deadlines on every path -------------------------------------------------------------------


@pytest.fixture
def past_cutoff(course, make):
    now = clock.now()
    return make.assignment(
        course.cohort,
        opens_at=now - timedelta(days=20),
        due_at=now - timedelta(days=10),
        cutoff_at=now - timedelta(days=3),
    )


def test_uploads_after_the_cut_off_are_refused_without_an_extension(course, past_cutoff):
    response = upload(course.as_learner, past_cutoff)

    assert response.status_code == 409
    assert "cut-off" in response.get_json()["message"]
    assert count(Submission) == 0


def test_an_extension_reopens_the_window_for_that_learner_only(course, past_cutoff):
    db.session.add(
        Extension(
            assignment_id=past_cutoff.id,
            user_id=course.learner.id,
            reason="Sick leave",
            requested_due_at=clock.now() + timedelta(days=2),
            status="approved",
            granted_due_at=clock.now() + timedelta(days=2),
            granted_cutoff_at=clock.now() + timedelta(days=4),
        )
    )
    db.session.commit()

    assert upload(course.as_learner, past_cutoff).status_code == 201
    assert upload(course.as_other, past_cutoff).status_code == 409


def test_submitting_after_the_cut_off_is_refused(course):
    submission_id = drafted(course)
    after = course.assignment.cutoff_at + timedelta(minutes=1)

    with clock.frozen_at(after):
        response = submit(course.as_learner, submission_id)

    assert response.status_code == 409
    assert db.session.get(Submission, submission_id).status == "draft"
    assert count(SubmissionReceipt) == 0


def test_removing_a_file_after_the_cut_off_is_refused(course):
    submission_id = drafted(course)
    file_id = db.session.get(Submission, submission_id).files[0].id

    with clock.frozen_at(course.assignment.cutoff_at + timedelta(hours=1)):
        response = course.as_learner.delete(f"submissions/{submission_id}/files/{file_id}")

    assert response.status_code == 409


def test_nothing_is_accepted_before_the_assignment_opens(course, make):
    later = make.assignment(
        course.cohort,
        opens_at=clock.now() + timedelta(days=1),
        due_at=clock.now() + timedelta(days=8),
    )

    response = upload(course.as_learner, later)

    assert response.status_code == 409


def test_the_cut_off_holds_on_every_path_html_and_api(course, login_as):
    """One rule in the services, so neither the pages nor the API can forget it (Moodle's
    CVE-2016-2159 was one path that did)."""
    submission_id = drafted(course)
    browser = login_as(course.learner)
    form = {"file": FileStorage(io.BytesIO(PDF + b"% late"), filename="late.pdf")}

    with clock.frozen_at(course.assignment.cutoff_at + timedelta(minutes=1)):
        api_upload = upload(course.as_learner, course.assignment, PDF + b"% late", "late.pdf")
        html_upload = browser.post(f"/assignments/{course.assignment.id}/files", **multipart(form))
        api_submit = submit(course.as_learner, submission_id)
        html_submit = browser.post(
            f"/assignments/{course.assignment.id}/submit", data={"declaration": "y"}
        )

    assert [api_upload.status_code, html_upload.status_code] == [409, 409]
    assert [api_submit.status_code, html_submit.status_code] == [409, 409]
    submission = db.session.get(Submission, submission_id)
    assert submission.status == "draft" and [f.name for f in submission.files] == ["essay.pdf"]
    assert count(SubmissionReceipt) == 0


def test_late_work_is_counted_in_working_days_across_a_bank_holiday(make, api):
    cohort = make.cohort(nation="england")
    learner = make.learner_in(cohort)
    due = datetime(2027, 3, 25, 12, tzinfo=UTC)  # Thursday before Easter
    assignment = make.assignment(
        cohort, opens_at=due - timedelta(days=20), due_at=due, cutoff_at=due + timedelta(days=14)
    )
    with clock.frozen_at(datetime(2027, 3, 30, 9, tzinfo=UTC)):  # Tuesday after Easter Monday
        client = api(learner)
        submission_id = upload(client, assignment).get_json()["submission_id"]
        response = submit(client, submission_id)

    assert response.status_code == 200
    assert response.get_json()["late_working_days"] == 1
    assert response.get_json()["receipt"]["late_working_days"] == 1


# --- submitting --------------------------------------------------------------------------------


def test_submitting_locks_the_work_keeps_a_receipt_and_emails_it(course, outbox):
    submission_id = drafted(course, None, (PDF, "essay.pdf"), (docx(), "appendix.docx"))

    response = submit(course.as_learner, submission_id)

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "submitted"
    assert body["late_working_days"] == 0
    assert body["submitted_at"].endswith("+00:00")
    receipt = body["receipt"]
    assert receipt["submitted_at"] == body["submitted_at"]
    assert [f["name"] for f in receipt["files"]] == ["essay.pdf", "appendix.docx"]
    assert receipt["sha256"] == services.receipt_hash(receipt["files"])
    assert count(SubmissionReceipt) == 1
    (message,) = outbox
    assert message["To"] == course.learner.email
    text = message.get_body(("plain",)).get_content()
    assert receipt["sha256"] in text and "appendix.docx" in text
    # Locked: no more uploads, removals or second submits.
    assert upload(course.as_learner, course.assignment).status_code == 409
    file_id = db.session.get(Submission, submission_id).files[0].id
    assert (
        course.as_learner.delete(f"submissions/{submission_id}/files/{file_id}").status_code == 409
    )
    assert submit(course.as_learner, submission_id).status_code == 409
    assert count(SubmissionReceipt) == 1


@pytest.mark.parametrize("body", [{}, {"declaration": False}, {"declaration": "true"},
                                  {"declaration": 1}, {"declaration": None}])  # fmt: skip
def test_submitting_needs_the_declaration(course, outbox, body):
    submission_id = drafted(course)

    response = course.as_learner.post(f"submissions/{submission_id}/submit", json=body)

    assert response.status_code == 422
    assert "declaration" in response.get_json()["errors"]
    assert db.session.get(Submission, submission_id).status == "draft"
    assert outbox == []


def test_submitting_an_empty_draft_is_refused(course):
    submission_id = drafted(course)
    file_id = db.session.get(Submission, submission_id).files[0].id
    assert (
        course.as_learner.delete(f"submissions/{submission_id}/files/{file_id}").status_code == 204
    )

    response = submit(course.as_learner, submission_id)

    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]


def test_only_the_owner_submits_or_removes_files(course, api):
    submission_id = drafted(course)
    file_id = db.session.get(Submission, submission_id).files[0].id

    assert submit(course.as_other, submission_id).status_code == 404
    assert submit(api(course.tutor), submission_id).status_code == 403
    assert course.as_other.delete(f"submissions/{submission_id}/files/{file_id}").status_code == 404
    assert (
        api(course.tutor).delete(f"submissions/{submission_id}/files/{file_id}").status_code == 403
    )
    assert db.session.get(Submission, submission_id).status == "draft"


def test_a_file_of_another_submission_cannot_be_removed_through_this_one(course):
    mine = drafted(course)
    theirs = drafted(course, course.as_other)
    their_file = db.session.get(Submission, theirs).files[0].id

    response = course.as_learner.delete(f"submissions/{mine}/files/{their_file}")

    assert response.status_code == 404
    assert len(db.session.get(Submission, theirs).files) == 1


# --- reading submissions -----------------------------------------------------------------------


def test_the_learner_reads_their_own_work_without_any_mark(course):
    submission_id = drafted(course)
    submit(course.as_learner, submission_id)

    body = course.as_learner.get(f"submissions/{submission_id}").get_json()

    assert body["id"] == submission_id
    assert body["assignment_id"] == course.assignment.id
    assert body["status"] == "submitted" and body["late_working_days"] == 0
    assert [set(f) >= {"id", "name", "size", "sha256"} for f in body["files"]] == [True]
    assert len(body["receipts"]) == 1
    assert "mark" not in body


def test_staff_read_the_work_with_an_empty_mark(course, api):
    submission_id = drafted(course)

    for caller in (course.tutor, course.admin):
        response = api(caller).get(f"submissions/{submission_id}")
        assert response.status_code == 200
        body = response.get_json()
        contract = ("mark", "feedback", "rubric_scores", "status", "version")
        assert {key: body["mark"][key] for key in contract} == {
            "mark": None,
            "feedback": None,
            "rubric_scores": None,
            "status": None,
            "version": 0,
        }
        assert body["user"]["name"] == "Dr Ada Quill"


def test_others_cannot_read_a_submission(course, make, api):
    submission_id = drafted(course)
    employer = db.session.get(Organisation, course.learner.organisation_id)
    sponsor = make.user("sponsor", scope=employer)
    other_tutor = make.user("tutor", scope=make.cohort())
    examiner = make.user("examiner", scope=course.cohort.programme)

    for caller in (course.other, sponsor, other_tutor):
        assert api(caller).get(f"submissions/{submission_id}").status_code == 404
    # An examiner sees the programme's work in scope, but not drafts: 403.
    assert api(examiner).get(f"submissions/{submission_id}").status_code == 403


# --- downloads ---------------------------------------------------------------------------------


def test_a_download_is_the_stored_bytes_as_an_attachment(course, api):
    submission_id = drafted(course, None, (PDF, "Évaluation finale.pdf"))
    file_id = db.session.get(Submission, submission_id).files[0].id

    for caller in (course.learner, course.tutor, course.admin):
        response = download(api(caller), submission_id, file_id)
        assert response.status_code == 200
        assert response.data == PDF
        assert response.mimetype == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%C3%89valuation%20finale.pdf" in disposition


def test_plain_text_is_downloaded_as_an_attachment_too(course):
    html_like = b"Looks like <b>html</b> but is text\n"
    submission_id = drafted(course, None, (html_like, "notes.txt"))
    file_id = db.session.get(Submission, submission_id).files[0].id

    response = download(course.as_learner, submission_id, file_id)

    assert response.data == html_like
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"] == "attachment; filename=notes.txt"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_file_ids_cannot_be_used_across_submissions_or_learners(course):
    mine = drafted(course)
    theirs = drafted(course, course.as_other)
    my_file = db.session.get(Submission, mine).files[0].id
    their_file = db.session.get(Submission, theirs).files[0].id

    # Their submission id and file id: not mine to see.
    assert download(course.as_learner, theirs, their_file).status_code == 404
    # Their file id under my submission's URL.
    assert download(course.as_learner, mine, their_file).status_code == 404
    # My file id under their submission's URL.
    assert download(course.as_learner, theirs, my_file).status_code == 404
    # Huge and nonsense ids are simply not found.
    assert download(course.as_learner, mine, 2**40).status_code == 404
    assert download(course.as_learner, 2**40, my_file).status_code == 404
    assert download(course.as_learner, mine, "abc").status_code == 404
    assert download(course.as_learner, mine, my_file).status_code == 200


# --- reopening ---------------------------------------------------------------------------------


def test_a_tutor_reopens_work_and_the_learner_can_change_it(course, api):
    submission_id = drafted(course)
    submit(course.as_learner, submission_id)

    assert course.as_learner.post(
        f"submissions/{submission_id}/reopen", json={"reason": "mine"}
    ).status_code == 403  # fmt: skip
    assert api(course.tutor).post(
        f"submissions/{submission_id}/reopen", json={"reason": "  "}
    ).status_code == 422  # fmt: skip
    response = api(course.tutor).post(
        f"submissions/{submission_id}/reopen", json={"reason": "Wrong file attached"}
    )

    assert response.status_code == 200
    assert response.get_json()["status"] == "draft"
    assert len(response.get_json()["receipts"]) == 1
    assert upload(course.as_learner, course.assignment, docx(), "right.docx").status_code == 201
    assert submit(course.as_learner, submission_id).status_code == 200
    assert count(SubmissionReceipt) == 2
    again = api(course.admin).post(f"submissions/{submission_id}/reopen", json={"reason": "x"})
    assert again.status_code == 200
    assert (
        api(course.admin).post(f"submissions/{submission_id}/reopen", json={"reason": "x"})
    ).status_code == 409


# --- the list for staff ------------------------------------------------------------------------


def test_staff_list_every_submission_with_who_it_is(course, api):
    drafted(course)
    submit(course.as_other, drafted(course, course.as_other))

    response = api(course.tutor).get(f"assignments/{course.assignment.id}/submissions")

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert 'rel="first"' in response.headers["Link"]
    body = response.get_json()
    assert {s["user_id"] for s in body} == {course.learner.id, course.other.id}
    assert {s["status"] for s in body} == {"draft", "submitted"}
    assert all("mark" in s for s in body)


def test_an_anonymous_assignment_lists_candidate_numbers_and_nothing_of_who(course, make, api):
    anonymous = make.assignment(course.cohort, anonymous=True)
    for client in (course.as_learner, course.as_other):
        upload(client, anonymous, PDF, "essay.pdf")

    for caller in (course.tutor, course.admin):
        response = api(caller).get(f"assignments/{anonymous.id}/submissions")
        raw = response.get_data(as_text=True)
        body = json.loads(raw)
        assert response.status_code == 200 and len(body) == 2
        assert {s["candidate_number"] for s in body} == {
            services.candidate_number(anonymous.id, course.learner.id),
            services.candidate_number(anonymous.id, course.other.id),
        }
        for submission in body:
            assert "user_id" not in submission and "user" not in submission
        for learner in (course.learner, course.other):
            assert learner.name not in raw and learner.email not in raw
            assert f'"user_id": {learner.id}' not in raw.replace('":', '": ')
        # One submission read alone tells no more.
        single = api(caller).get(f"submissions/{body[0]['id']}").get_data(as_text=True)
        assert course.learner.name not in single and "user_id" not in single


def test_only_the_cohorts_staff_list_submissions(course, make, api):
    other_tutor = make.user("tutor", scope=make.cohort())

    assert course.as_learner.get(
        f"assignments/{course.assignment.id}/submissions"
    ).status_code == 403  # fmt: skip
    assert api(other_tutor).get(
        f"assignments/{course.assignment.id}/submissions"
    ).status_code == 404  # fmt: skip
