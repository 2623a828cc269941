"""The assessment pages, through the test client: a learner's journey from upload to receipt,
the refusals on the way, who may see what, and the tutor's tracking, extensions and reopening."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment import services
from academy.assessment.models import (
    Assignment,
    Extension,
    Submission,
    SubmissionFile,
    SubmissionReceipt,
)
from academy.audit.models import AuditEvent
from academy.core import clock
from academy.core.storage import storage
from academy.extensions import db
from tests.conftest import count

LEARNER_NAME = "Amelia Hartley-Brown"


def pdf(note: str = "essay") -> bytes:
    """A small PDF whose bytes (and so SHA-256) differ by `note`."""
    return f"%PDF-1.7\n% {note}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".encode()


def docx(note: str = "appendix") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f"<document>{note}</document>")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(client, assignment, data: bytes, name: str):
    # Encoded here, in memory: the test client spools a large body to a temp file it never
    # closes, which filterwarnings=error would turn into a failure of some later test.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name)})
    return client.post(
        f"/assignments/{assignment.id}/files",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def html(response) -> str:
    return response.get_data(as_text=True)


def fresh(model, row_id):
    return db.session.scalars(
        sa.select(model).where(model.id == row_id).execution_options(populate_existing=True)
    ).one()


@pytest.fixture
def cohort(make):
    return make.cohort()


@pytest.fixture
def learner(make, cohort):
    return make.learner_in(cohort, name=LEARNER_NAME)


@pytest.fixture
def assignment(make, cohort):
    return make.assignment(cohort)


@pytest.fixture
def tutor(make, cohort):
    return make.user("tutor", scope=cohort, name="Tomasz Tutor")


# --- the learner's journey ---------------------------------------------------------------------


def test_learner_uploads_two_files_submits_and_gets_a_receipt_on_screen_and_by_email(
    learner, assignment, login_as, outbox
):
    client = login_as(learner)
    essay, appendix = pdf("journey"), docx("journey")

    assert upload(client, assignment, essay, "essay.pdf").status_code == 302
    assert upload(client, assignment, appendix, "appendix.docx").status_code == 302
    page = html(client.get(f"/assignments/{assignment.id}"))
    assert "essay.pdf" in page and "appendix.docx" in page
    assert sha(essay) in page and sha(appendix) in page
    assert "working days left" in page

    confirm = client.get(f"/assignments/{assignment.id}/submit")
    assert confirm.status_code == 200
    assert "I confirm that this is my own work" in html(confirm)
    response = client.post(f"/assignments/{assignment.id}/submit", data={"declaration": "y"})

    receipt = db.session.scalar(sa.select(SubmissionReceipt))
    assert response.status_code == 302
    assert response.location.endswith(f"/receipts/{receipt.id}")
    submission = fresh(Submission, receipt.submission_id)
    assert submission.status == "submitted" and submission.late_working_days == 0
    shown = html(client.get(response.location))
    assert sha(essay) in shown and sha(appendix) in shown and receipt.sha256 in shown
    assert "Work submitted" in shown and "On time" in shown

    [message] = outbox
    assert message["To"] == learner.email
    assert message["Subject"] == f"Receipt: {assignment.title}"
    text = message.get_body(("plain",)).get_content()
    assert receipt.sha256 in text and sha(essay) in text and sha(appendix) in text
    assert f"https://academy.test/receipts/{receipt.id}" in text
    assert receipt.sha256 in message.get_body(("html",)).get_content()

    # Locked now: the page offers no upload, and a forged upload is refused.
    again = html(client.get(f"/assignments/{assignment.id}"))
    assert "Upload file" not in again and "View your receipt" in again
    refused = upload(client, assignment, pdf("after"), "after.pdf")
    assert refused.status_code == 409
    assert count(SubmissionFile) == 2


def test_submitting_without_the_declaration_shows_an_error_and_stays_a_draft(
    learner, assignment, login_as, outbox
):
    client = login_as(learner)
    upload(client, assignment, pdf("undeclared"), "essay.pdf")

    response = client.post(f"/assignments/{assignment.id}/submit", data={})

    assert response.status_code == 422
    page = html(response)
    assert "There is a problem" in page
    assert "Confirm that this is your own work" in page
    assert 'href="#declaration"' in page
    assert page.count("<title>Error:") == 1
    assert db.session.scalar(sa.select(Submission.status)) == "draft"
    assert count(SubmissionReceipt) == 0
    assert outbox == []


def test_submit_page_sends_a_learner_with_no_files_back_to_upload(learner, assignment, login_as):
    client = login_as(learner)
    response = client.get(f"/assignments/{assignment.id}/submit")
    assert response.status_code == 302
    assert response.location.endswith(f"/assignments/{assignment.id}")
    assert count(Submission) == 0


def test_a_learner_removes_a_draft_file(learner, assignment, login_as):
    client = login_as(learner)
    upload(client, assignment, pdf("keep"), "keep.pdf")
    upload(client, assignment, pdf("drop"), "drop.pdf")
    dropped = db.session.scalar(sa.select(SubmissionFile).where(SubmissionFile.name == "drop.pdf"))

    response = client.post(f"/assignments/{assignment.id}/files/{dropped.id}/remove")

    assert response.status_code == 302
    names = db.session.scalars(sa.select(SubmissionFile.name)).all()
    assert names == ["keep.pdf"]
    assert "drop.pdf has been removed" in html(client.get(response.location))


def test_the_assignment_page_shows_times_in_uk_time_and_the_brief_made_safe(
    make, cohort, learner, login_as
):
    with clock.frozen_at(datetime(2027, 5, 20, 9, tzinfo=UTC)):
        assignment = make.assignment(
            cohort,
            brief="Write **2,000 words**.<script>alert(1)</script>",
            opens_at=datetime(2027, 5, 1, 8, tzinfo=UTC),
            due_at=datetime(2027, 6, 4, 11, tzinfo=UTC),  # noon in London (BST)
            cutoff_at=datetime(2027, 6, 11, 16, 30, tzinfo=UTC),
        )
        page = html(login_as(learner).get(f"/assignments/{assignment.id}"))

    assert "Friday 4 June 2027 at 12pm" in page
    assert "Friday 11 June 2027 at 5:30pm" in page
    assert "Saturday 1 May 2027 at 9am" in page
    assert "<strong>2,000 words</strong>" in page
    assert "<script>alert(1)" not in page
    # After Thursday 20 May, up to Friday 4 June 2027: 11 weekdays, less the late May bank
    # holiday (Monday 31 May).
    assert "10 working days left" in page
    assert 'enctype="multipart/form-data"' in page
    assert "Accepted: PDF, Word document or Plain text, up to 5 MB" in page


def test_my_assignments_lists_each_assignment_with_the_learners_status(
    make, cohort, learner, login_as
):
    not_started = make.assignment(cohort, title="Reflective log")
    drafted = make.assignment(cohort, title="Case study")
    submitted = make.assignment(cohort, title="Business case")
    other_cohort = make.assignment(make.cohort(), title="Someone else's essay")
    client = login_as(learner)
    upload(client, drafted, pdf("draft"), "draft.pdf")
    upload(client, submitted, pdf("done"), "done.pdf")
    client.post(f"/assignments/{submitted.id}/submit", data={"declaration": "y"})

    page = html(client.get("/assignments/mine"))

    assert "My assignments" in page
    rows = {title: page.index(title) for title in ("Reflective log", "Case study", "Business case")}
    assert all(position > 0 for position in rows.values())
    assert "Not started" in page and "Draft" in page and "Submitted on time" in page
    assert other_cohort.title not in page
    assert f'href="/assignments/{not_started.id}"' in page
    assert "My assignments" in html(client.get(f"/assignments/{drafted.id}"))  # menu item


# --- refusals: nothing stored ------------------------------------------------------------------


def test_an_upload_after_the_cut_off_is_refused_with_a_clear_page_and_nothing_stored(
    make, cohort, learner, login_as, app
):
    now = clock.now()
    closed = make.assignment(
        cohort,
        opens_at=now - timedelta(days=20),
        due_at=now - timedelta(days=10),
        cutoff_at=now - timedelta(days=1),
    )
    data = pdf("too late")

    response = upload(login_as(learner), closed, data, "late.pdf")

    assert response.status_code == 409
    page = html(response)
    assert "The cut-off for this assignment has passed" in page
    assert "Upload file" not in page
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    with app.app_context():
        assert not storage().exists(sha(data))


@pytest.mark.parametrize(
    ("data", "name", "status", "message"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200 + b"unique-exe", "essay.pdf", 415, "The file must be a"),
        (pdf("claims docx"), "essay.docx", 415, "named as a Word document"),
        (b"%PDF-1.7\n" + b"x" * (5 * 1024 * 1024 + 1), "huge.pdf", 413, "5 MB or smaller"),
        (b"", "empty.pdf", 422, "The file is empty"),
    ],
    ids=["exe-renamed-pdf", "pdf-renamed-docx", "over-size", "empty"],
)
def test_a_bad_file_is_refused_on_the_page_and_nothing_is_stored(
    learner, assignment, login_as, app, data, name, status, message
):
    response = upload(login_as(learner), assignment, data, name)

    assert response.status_code == status
    page = html(response)
    assert message in page
    assert 'href="#file"' in page  # the error summary links to the upload
    assert "<title>Error: " in page
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    with app.app_context():
        assert not storage().exists(sha(data))


def test_an_upload_with_no_file_chosen_asks_for_one(learner, assignment, login_as):
    response = login_as(learner).post(
        f"/assignments/{assignment.id}/files", data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert "Choose a file to upload" in html(response)
    assert count(Submission) == 0


# --- who may see what --------------------------------------------------------------------------


@pytest.fixture
def submitted_work(make, cohort, learner, assignment, app):
    """The learner's submitted work, made through the services."""
    with app.test_request_context():
        services.add_file(assignment, learner, io.BytesIO(pdf("owned")), "owned.pdf")
        submission = services.submission_for(assignment, learner.id)
        receipt = services.submit(submission, declaration=True, actor=learner)
        db.session.commit()
        return submission, submission.files[0], receipt


def test_the_learner_downloads_their_own_file_as_an_attachment(learner, submitted_work, login_as):
    submission, file, _ = submitted_work
    response = login_as(learner).get(f"/submissions/{submission.id}/files/{file.id}", buffered=True)
    assert response.status_code == 200
    assert response.data == pdf("owned")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "owned.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]


def test_the_cohorts_tutor_and_an_admin_can_download_and_read_the_receipt(
    make, tutor, submitted_work, login_as, app
):
    submission, file, receipt = submitted_work
    for person in (tutor, make.user("admin")):
        client = app.test_client()
        login_as(person, the_client=client)
        download = client.get(f"/submissions/{submission.id}/files/{file.id}", buffered=True)
        assert download.status_code == 200
        assert client.get(f"/receipts/{receipt.id}").status_code == 200


def test_another_learners_submission_receipt_and_file_ids_answer_404(
    make, cohort, assignment, submitted_work, login_as
):
    submission, file, receipt = submitted_work
    classmate = make.learner_in(cohort)
    client = login_as(classmate)
    upload(client, assignment, pdf("classmate"), "mine.pdf")
    own = services.submission_for(assignment, classmate.id)

    assert client.get(f"/submissions/{submission.id}/files/{file.id}").status_code == 404
    # Their own submission id with someone else's file id: still nothing.
    assert client.get(f"/submissions/{own.id}/files/{file.id}").status_code == 404
    assert client.get(f"/receipts/{receipt.id}").status_code == 404
    assert client.post(f"/assignments/{assignment.id}/files/{file.id}/remove").status_code == 404
    assert client.get(f"/submissions/{submission.id}/reopen").status_code == 404
    assert count(SubmissionFile) == 2


def test_a_tutor_of_another_cohort_gets_404_for_the_work(make, submitted_work, login_as):
    submission, file, receipt = submitted_work
    outsider = make.user("tutor", scope=make.cohort())
    client = login_as(outsider)
    assert client.get(f"/submissions/{submission.id}/files/{file.id}").status_code == 404
    assert client.get(f"/receipts/{receipt.id}").status_code == 404
    assert client.get(f"/assignments/{submission.assignment_id}/tracking").status_code == 404


def _every_page(assignment, submission, file, receipt, extension) -> list[tuple[str, str]]:
    a = assignment.id
    return [
        ("GET", f"/assignments/{a}"),
        ("POST", f"/assignments/{a}/files"),
        ("POST", f"/assignments/{a}/files/{file.id}/remove"),
        ("GET", f"/assignments/{a}/submit"),
        ("POST", f"/assignments/{a}/submit"),
        ("GET", f"/assignments/{a}/extension"),
        ("GET", f"/receipts/{receipt.id}"),
        ("GET", f"/submissions/{submission.id}/files/{file.id}"),
        ("GET", f"/assignments/{a}/tracking"),
        ("GET", f"/assignments/{a}/edit"),
        ("GET", f"/submissions/{submission.id}/reopen"),
        ("POST", f"/submissions/{submission.id}/reopen"),
        ("GET", f"/extensions/{extension.id}"),
        ("POST", f"/extensions/{extension.id}"),
        ("GET", "/assignments/teaching"),
        ("GET", "/assignments/new"),
        ("GET", "/extensions"),
    ]


def test_a_sponsor_of_the_learner_is_refused_everything(
    make, learner, assignment, submitted_work, login_as
):
    submission, file, receipt = submitted_work
    extension = Extension(
        assignment_id=assignment.id,
        user_id=learner.id,
        reason="Illness",
        requested_due_at=assignment.due_at + timedelta(days=30),
    )
    db.session.add(extension)
    db.session.commit()
    sponsor = make.user("sponsor", scope=db.session.get(type(learner), learner.id).organisation)
    client = login_as(sponsor)

    for method, path in _every_page(assignment, submission, file, receipt, extension):
        response = client.open(path, method=method, data={})
        assert response.status_code in (403, 404), (method, path, response.status_code)
        assert LEARNER_NAME not in html(response)
    assert "My assignments" not in html(client.get("/account"))
    assert fresh(Submission, submission.id).status == "submitted"
    assert fresh(Extension, extension.id).status == "pending"


def test_signed_out_visitors_are_sent_to_sign_in(client, assignment):
    response = client.get(f"/assignments/{assignment.id}")
    assert response.status_code == 302
    assert "/sign-in" in response.location


def test_a_tutor_cannot_hand_in_work(tutor, assignment, login_as):
    client = login_as(tutor)
    assert client.get(f"/assignments/{assignment.id}").status_code == 200
    assert upload(client, assignment, pdf("tutor"), "tutor.pdf").status_code == 403
    assert client.get(f"/assignments/{assignment.id}/submit").status_code == 403
    assert count(Submission) == 0


# --- the tutor's tracking page -----------------------------------------------------------------


@pytest.fixture
def class_of_four(make, cohort, assignment, app):
    """Four learners: one not started, one with a draft, one submitted on time, one late with an
    extension approved by a tutor."""
    names = ["Nia Notstarted", "Dev Drafting", "Olu Ontime", "Lara Late"]
    people = {name: make.learner_in(cohort, name=name) for name in names}
    make.enrolment(make.user("learner", name="Wanda Withdrawn"), cohort, status="withdrawn")
    with app.test_request_context():
        services.add_file(assignment, people["Dev Drafting"], io.BytesIO(pdf("dev")), "dev.pdf")
        services.add_file(assignment, people["Olu Ontime"], io.BytesIO(pdf("olu")), "olu.pdf")
        services.submit(
            services.submission_for(assignment, people["Olu Ontime"].id),
            declaration=True,
            actor=people["Olu Ontime"],
        )
        services.add_file(assignment, people["Lara Late"], io.BytesIO(pdf("lara")), "lara.pdf")
        lara = services.submission_for(assignment, people["Lara Late"].id)
        db.session.commit()
    # Lara asked for more time and was granted it; she then handed in after her new date.
    lara_deadline = assignment.due_at + timedelta(days=14)
    db.session.add(
        Extension(
            assignment_id=assignment.id,
            user_id=people["Lara Late"].id,
            reason="On call",
            requested_due_at=lara_deadline,
            status="approved",
            granted_due_at=lara_deadline,
            granted_cutoff_at=lara_deadline + timedelta(days=7),
        )
    )
    db.session.commit()
    with app.test_request_context(), clock.frozen_at(lara_deadline + timedelta(days=3)):
        services.submit(lara, declaration=True, actor=people["Lara Late"])
        db.session.commit()
    return people


def test_tracking_lists_every_active_learner_with_their_status(
    tutor, assignment, class_of_four, login_as
):
    response = login_as(tutor).get(f"/assignments/{assignment.id}/tracking")

    assert response.status_code == 200
    page = html(response)
    for name in class_of_four:
        assert name in page
    assert "Wanda Withdrawn" not in page
    assert "Not started" in page and "Draft" in page and "Submitted on time" in page
    late = fresh(Submission, services.submission_for(assignment, class_of_four["Lara Late"].id).id)
    assert late.late_working_days >= 1
    assert re.search(r"Submitted \d+ working days? late", page)
    assert "Extension to " in page


def test_tracking_hides_names_while_the_assignment_is_anonymous(
    tutor, assignment, class_of_four, login_as
):
    assignment.anonymous = True
    db.session.commit()

    page = html(login_as(tutor).get(f"/assignments/{assignment.id}/tracking"))

    for name, person in class_of_four.items():
        assert name not in page
        assert services.candidate_number(assignment.id, person.id) in page
    # File names can name their authors too, on the page and in downloads.
    assert "dev.pdf" not in page and "olu.pdf" not in page
    assert "Submitted on time" in page
    olu = services.submission_for(assignment, class_of_four["Olu Ontime"].id)
    number = services.candidate_number(assignment.id, class_of_four["Olu Ontime"].id)
    download = login_as(tutor).get(f"/submissions/{olu.id}/files/{olu.files[0].id}", buffered=True)
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert f"{number}-file-1.pdf" in disposition and "olu" not in disposition


def test_tracking_takes_the_same_number_of_queries_however_many_learners(
    make, cohort, tutor, assignment, login_as, app
):
    client = login_as(tutor)

    def queries_for_page() -> int:
        statements = []

        def note(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert client.get(f"/assignments/{assignment.id}/tracking").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", note)
        return len(statements)

    def add_learner_with_work(n: int) -> None:
        person = make.learner_in(cohort)
        with app.test_request_context():
            services.add_file(assignment, person, io.BytesIO(pdf(f"n{n}")), f"w{n}.pdf")
            db.session.commit()
        db.session.add(
            Extension(
                assignment_id=assignment.id,
                user_id=person.id,
                reason="Busy",
                requested_due_at=assignment.due_at + timedelta(days=30),
            )
        )
        db.session.commit()

    add_learner_with_work(0)
    few = queries_for_page()
    assert few > 3  # the listener does see the page's queries
    for n in range(1, 6):
        add_learner_with_work(n)
    many = queries_for_page()
    assert many == few


def test_only_the_cohorts_tutors_and_admins_see_tracking(make, cohort, assignment, login_as):
    learner = make.learner_in(cohort)
    assert login_as(learner).get(f"/assignments/{assignment.id}/tracking").status_code == 403


# --- extensions --------------------------------------------------------------------------------


def _uk_parts(prefix: str, moment: datetime) -> dict:
    from academy.core.calendar import UK_TIME

    local = moment.astimezone(UK_TIME)
    return {
        f"{prefix}-day": str(local.day),
        f"{prefix}-month": str(local.month),
        f"{prefix}-year": str(local.year),
        f"{prefix}-time": f"{local:%H:%M}",
    }


def test_a_short_extension_is_approved_at_once_and_the_learner_is_told(
    learner, assignment, login_as
):
    client = login_as(learner)
    wanted = assignment.due_at + timedelta(days=2)
    response = client.post(
        f"/assignments/{assignment.id}/extension",
        data={"reason": "Night shifts this week", **_uk_parts("requested_due_at", wanted)},
    )
    assert response.status_code == 302
    page = html(client.get(response.location))
    assert "Your extension has been approved" in page
    assert "self-certified" in page
    extension = db.session.scalar(sa.select(Extension))
    assert extension.status == "approved" and extension.self_certified


def test_an_extension_request_with_a_bad_date_gets_form_errors_not_a_crash(
    learner, assignment, login_as
):
    client = login_as(learner)
    for parts, message in [
        ({"requested_due_at-day": "31", "requested_due_at-month": "2",
          "requested_due_at-year": "2027", "requested_due_at-time": "12pm"}, "must be a real date"),
        ({"requested_due_at-day": "3", "requested_due_at-month": "3",
          "requested_due_at-year": "2027", "requested_due_at-time": "25:00"}, "like 17:00 or 5pm"),
        ({"requested_due_at-day": "3", "requested_due_at-month": "3",
          "requested_due_at-year": "2027"}, "must include a time"),
        ({}, "Enter the date and time you could submit by"),
        (_uk_parts("requested_due_at", assignment.due_at - timedelta(days=1)),
         "must be after the current due date"),
    ]:  # fmt: skip
        response = client.post(
            f"/assignments/{assignment.id}/extension", data={"reason": "Ill", **parts}
        )
        assert response.status_code == 200, parts
        assert message in html(response), parts
    assert count(Extension) == 0


def test_a_tutor_approves_a_long_extension_with_another_date_and_only_that_learner_moves(
    make, cohort, learner, tutor, assignment, login_as, app
):
    classmate = make.learner_in(cohort)
    learner_client = login_as(learner)
    asked = assignment.due_at + timedelta(days=40)
    learner_client.post(
        f"/assignments/{assignment.id}/extension",
        data={"reason": "Surgery and recovery", **_uk_parts("requested_due_at", asked)},
    )
    extension = db.session.scalar(sa.select(Extension))
    assert extension.status == "pending"
    assert "Waiting for your tutor" in html(learner_client.get(f"/assignments/{assignment.id}"))

    tutor_client = app.test_client()
    login_as(tutor, the_client=tutor_client)
    queue = html(tutor_client.get("/extensions"))
    assert LEARNER_NAME in queue and f"/extensions/{extension.id}" in queue
    assert LEARNER_NAME in html(tutor_client.get(f"/assignments/{assignment.id}/tracking"))

    granted = (assignment.due_at + timedelta(days=21)).replace(second=0, microsecond=0)
    response = tutor_client.post(
        f"/extensions/{extension.id}",
        data={
            "decision": "approve",
            "comment": "Three weeks, not six",
            "version": str(extension.version),
            **_uk_parts("due_at", granted),
        },
    )

    assert response.status_code == 302
    assert response.location.endswith(f"/assignments/{assignment.id}/tracking")
    with app.test_request_context():
        assert services.deadline_for(assignment, learner.id).due_at == granted
        assert services.deadline_for(assignment, classmate.id).due_at == assignment.due_at
    page = html(login_as(learner, the_client=app.test_client()).get(
        f"/assignments/{assignment.id}"
    ))  # fmt: skip
    assert "(extended)" in page and "Three weeks, not six" in page
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "extension.decide"))
        == 1
    )


def test_declining_needs_a_comment_and_a_stale_page_is_refused(
    learner, tutor, assignment, login_as
):
    extension = Extension(
        assignment_id=assignment.id,
        user_id=learner.id,
        reason="Holiday",
        requested_due_at=assignment.due_at + timedelta(days=40),
    )
    db.session.add(extension)
    db.session.commit()
    client = login_as(tutor)

    no_comment = client.post(
        f"/extensions/{extension.id}",
        data={"decision": "decline", "version": str(extension.version)},
    )
    assert no_comment.status_code == 200
    assert "Say why the request is declined" in html(no_comment)
    stale = client.post(
        f"/extensions/{extension.id}",
        data={"decision": "decline", "comment": "No", "version": str(extension.version + 5)},
    )
    assert "changed by someone else" in html(stale)
    assert fresh(Extension, extension.id).status == "pending"

    done = client.post(
        f"/extensions/{extension.id}",
        data={"decision": "decline", "comment": "Not a reason", "version": str(extension.version)},
    )
    assert done.status_code == 302
    assert fresh(Extension, extension.id).status == "declined"


def test_learners_cannot_decide_extensions(make, cohort, learner, assignment, login_as):
    extension = Extension(
        assignment_id=assignment.id,
        user_id=learner.id,
        reason="Please",
        requested_due_at=assignment.due_at + timedelta(days=40),
    )
    db.session.add(extension)
    db.session.commit()
    client = login_as(learner)
    response = client.post(
        f"/extensions/{extension.id}",
        data={"decision": "approve", "version": str(extension.version)},
    )
    assert response.status_code == 403
    assert client.get("/extensions").status_code == 403
    assert fresh(Extension, extension.id).status == "pending"


# --- reopening ---------------------------------------------------------------------------------


def test_reopening_needs_a_reason_and_is_audited(tutor, learner, submitted_work, login_as, app):
    submission, _, _ = submitted_work
    client = login_as(tutor)

    refused = client.post(f"/submissions/{submission.id}/reopen", data={"reason": "  "})
    assert refused.status_code == 200
    assert "Give a reason for reopening" in html(refused)
    assert fresh(Submission, submission.id).status == "submitted"

    response = client.post(
        f"/submissions/{submission.id}/reopen", data={"reason": "Wrong file uploaded"}
    )

    assert response.status_code == 302
    assert fresh(Submission, submission.id).status == "draft"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "submission.reopen"))
    assert event.actor_id == tutor.id
    assert event.after == {"reason": "Wrong file uploaded"}
    assert event.object_id == str(submission.id)
    # The learner can change the work again, and the first receipt is kept.
    learner_client = login_as(learner, the_client=app.test_client())
    learner_page = html(learner_client.get(f"/assignments/{submission.assignment_id}"))
    assert "Upload file" in learner_page and "Submit your work" in learner_page
    assert count(SubmissionReceipt) == 1
    assert "Earlier receipts" in learner_page
    assert f"/receipts/{db.session.scalar(sa.select(SubmissionReceipt.id))}" in learner_page


# --- setting assignments -----------------------------------------------------------------------


def _assignment_form(**overrides) -> dict:
    data = {
        "title": "Benefits realisation plan",
        "brief": "Write a plan.",
        "opens_at-day": "1", "opens_at-month": "6", "opens_at-year": "2027",
        "opens_at-time": "9am",
        "due_at-day": "4", "due_at-month": "6", "due_at-year": "2027", "due_at-time": "12pm",
        "cutoff_at-day": "11", "cutoff_at-month": "6", "cutoff_at-year": "2027",
        "cutoff_at-time": "17:00",
        "weight": "40",
        "max_mark": "100",
        "allowed_types": ["pdf", "docx"],
        "max_size_mb": "10",
        "second_marking": "sample",
        "sample_percent": "10",
        "rubric": "",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_tutor_sets_an_assignment_with_times_in_uk_time(cohort, tutor, login_as):
    delivery = cohort.deliveries[0]
    client = login_as(tutor)
    assert client.get("/assignments/new").status_code == 200

    response = client.post(
        "/assignments/new", data=_assignment_form(delivery=str(delivery.id), anonymous="y")
    )

    assignment = db.session.scalar(
        sa.select(Assignment).where(Assignment.title == "Benefits realisation plan")
    )
    assert response.status_code == 302, html(response)
    assert response.location.endswith(f"/assignments/{assignment.id}")
    # June is British Summer Time: UK noon is 11:00 UTC.
    assert assignment.due_at == datetime(2027, 6, 4, 11, tzinfo=UTC)
    assert assignment.opens_at == datetime(2027, 6, 1, 8, tzinfo=UTC)
    assert assignment.cutoff_at == datetime(2027, 6, 11, 16, tzinfo=UTC)
    assert assignment.allowed_types == ["pdf", "docx"]
    assert (assignment.weight, assignment.max_size_mb, assignment.anonymous) == (40, 10, True)
    assert (assignment.second_marking, assignment.sample_percent) == ("sample", 10)
    assert "Friday 4 June 2027 at 12pm" in html(client.get(response.location))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"due_at-month": "13"}, "must be a real date"),
        ({"due_at-time": "half past"}, "like 17:00 or 5pm"),
        ({"weight": "lots"}, "Weight must be a whole number"),
        ({"weight": "150"}, "percentage from 0 to 100"),
        ({"cutoff_at-day": "2"}, "The cut-off must be on or after the due time"),
        ({"allowed_types": []}, "Allow at least one file type"),
        ({"rubric": "{not json"}, "is not valid JSON"),
        ({"rubric": '{"criteria": []}'}, "A rubric needs at least one criterion"),
        ({"max_size_mb": "0"}, "from 1 to 100 MB"),
        (
            {"opens_at-day": "28", "opens_at-month": "3", "opens_at-time": "1:30am"},
            "does not exist",
        ),
    ],  # fmt: skip
)
def test_bad_assignment_details_get_form_errors_not_a_crash(
    cohort, tutor, login_as, overrides, message
):
    data = _assignment_form(delivery=str(cohort.deliveries[0].id), **overrides)
    response = login_as(tutor).post("/assignments/new", data=data)
    assert response.status_code == 200
    assert message in html(response)
    assert count(Assignment) == 0


def test_a_tutor_cannot_set_an_assignment_on_another_cohort(make, tutor, login_as):
    elsewhere = make.cohort()
    response = login_as(tutor).post(
        "/assignments/new", data=_assignment_form(delivery=str(elsewhere.deliveries[0].id))
    )
    assert response.status_code == 200
    assert "Choose a module and cohort from the list" in html(response)
    assert count(Assignment) == 0


def test_learners_cannot_set_or_change_assignments(learner, assignment, login_as):
    client = login_as(learner)
    assert client.get("/assignments/new").status_code == 403
    assert client.get(f"/assignments/{assignment.id}/edit").status_code == 403
    assert client.get("/assignments/teaching").status_code == 403


def test_editing_shows_uk_times_and_refuses_a_stale_page(tutor, assignment, login_as):
    assignment.due_at = datetime(2027, 1, 15, 17, tzinfo=UTC)  # winter: UK time is UTC
    assignment.opens_at = datetime(2027, 1, 4, 9, tzinfo=UTC)
    assignment.cutoff_at = datetime(2027, 1, 22, 17, tzinfo=UTC)
    assignment.rubric = {
        "criteria": [
            {"title": "Argument", "levels": [
                {"title": "Weak", "description": "", "marks": 0},
                {"title": "Strong", "description": "", "marks": 100},
            ]}
        ]
    }  # fmt: skip
    db.session.commit()
    client = login_as(tutor)
    form_page = html(client.get(f"/assignments/{assignment.id}/edit"))

    def value_of(name: str) -> str:
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', form_page, re.S).group(0)
        return re.search(r'value="([^"]*)"', tag).group(1)

    assert [value_of(f"due_at-{part}") for part in ("day", "month", "year", "time")] == [
        "15",
        "1",
        "2027",
        "17:00",
    ]
    assert "&#34;title&#34;: &#34;Argument&#34;" in form_page  # the rubric, as editable JSON

    data = _assignment_form(version=str(assignment.version + 1))
    stale = client.post(f"/assignments/{assignment.id}/edit", data=data)
    assert stale.status_code == 200
    assert "changed by someone else" in html(stale)
    assert fresh(Assignment, assignment.id).title == assignment.title

    saved = client.post(
        f"/assignments/{assignment.id}/edit",
        data=_assignment_form(version=str(assignment.version), title="Renamed"),
    )
    assert saved.status_code == 302
    assert fresh(Assignment, assignment.id).title == "Renamed"


def test_the_teaching_list_and_queue_show_the_tutors_assignments(make, tutor, assignment, login_as):
    elsewhere = make.assignment(make.cohort(), title="Not taught by this tutor")
    page = html(login_as(tutor).get("/assignments/teaching"))
    assert assignment.title in page
    assert elsewhere.title not in page
    assert f"/assignments/{assignment.id}/tracking" in page
    assert "Assignments" in page  # menu item


def test_a_tutors_cohort_list_links_to_that_cohorts_assignments(make, cohort, tutor, login_as):
    other = make.cohort()
    make.role(tutor, "tutor", scope=other)
    here = make.assignment(cohort, title="First cohort essay")
    there = make.assignment(other, title="Second cohort essay")
    client = login_as(tutor)

    link = f"/assignments/teaching?cohort={cohort.id}"
    assert link in html(client.get("/my-cohorts"))
    filtered = html(client.get(link))
    assert here.title in filtered and there.title not in filtered
    both = html(client.get("/assignments/teaching"))
    assert here.title in both and there.title in both


def test_the_error_summary_follows_the_order_of_the_form(tutor, login_as):
    page = html(login_as(tutor).post("/assignments/new", data={}))
    summary = page[page.index("There is a problem") : page.index("<h1")]
    order = [
        "Choose the module and cohort",
        "Enter a title",
        "Enter the date and time the assignment opens",
        "Enter the date and time the assignment is due",
        "Enter the date and time of the cut-off",
    ]
    assert [summary.index(message) for message in order] == sorted(
        summary.index(message) for message in order
    )
    assert 'href="#opens_at"' in summary and 'id="opens_at"' in page


def test_work_handed_in_after_christmas_shows_as_one_working_day_late(
    make, cohort, learner, tutor, login_as, app
):
    late = make.assignment(
        cohort,
        opens_at=datetime(2026, 11, 1, 9, tzinfo=UTC),
        due_at=datetime(2026, 12, 24, 12, tzinfo=UTC),  # Thursday 24 December 2026, noon
        cutoff_at=datetime(2027, 1, 8, 12, tzinfo=UTC),
    )
    # Tuesday 29 December: Christmas Day (Friday) and the Boxing Day holiday (Monday 28) are not
    # working days, so it is one working day late, not five calendar days.
    with clock.frozen_at(datetime(2026, 12, 29, 10, tzinfo=UTC)):
        client = login_as(learner)
        upload(client, late, pdf("christmas"), "log.pdf")
        response = client.post(f"/assignments/{late.id}/submit", data={"declaration": "y"})
        receipt_page = html(client.get(response.location))

    assert "1 working day late" in receipt_page
    tracking = html(login_as(tutor, the_client=app.test_client()).get(
        f"/assignments/{late.id}/tracking"
    ))  # fmt: skip
    assert "Submitted 1 working day late" in tracking
