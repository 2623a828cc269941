"""The assessment rules, through the service functions every HTML form and API call uses."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.assessment import services
from academy.assessment.models import Submission, SubmissionFile
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.core.filetypes import UnsupportedFileType
from academy.core.storage import FileTooLarge
from academy.extensions import db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def docx(extra: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document>essay</document>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def setting(make, ctx):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    return assignment, learner


def upload(assignment, learner, data=PDF, name="essay.pdf"):
    return services.add_file(assignment, learner, io.BytesIO(data), name)


def test_upload_then_submit_gives_a_receipt_and_locks_the_work(setting, outbox):
    assignment, learner = setting
    upload(assignment, learner)
    upload(assignment, learner, docx(), "appendix.docx")
    submission = services.submission_for(assignment, learner.id)
    receipt = services.submit(submission, declaration=True, actor=learner)
    assert submission.status == "submitted" and submission.late_working_days == 0
    assert [f["name"] for f in receipt.files] == ["essay.pdf", "appendix.docx"]
    assert receipt.sha256 == services.receipt_hash(receipt.files)
    with pytest.raises(Conflict, match="already submitted"):
        upload(assignment, learner, name="late-change.pdf")
    with pytest.raises(Conflict):
        services.submit(submission, declaration=True, actor=learner)


def test_submitting_needs_the_declaration_and_a_file(setting):
    assignment, learner = setting
    upload(assignment, learner)
    submission = services.submission_for(assignment, learner.id)
    with pytest.raises(DomainError, match="own work"):
        services.submit(submission, declaration=False, actor=learner)
    services.remove_file(submission, submission.files[0], learner)
    with pytest.raises(DomainError, match="at least one file"):
        services.submit(submission, declaration=True, actor=learner)


def test_a_file_of_the_same_name_replaces_the_draft_copy(setting):
    assignment, learner = setting
    upload(assignment, learner, PDF)
    upload(assignment, learner, PDF + b"% revised\n")
    submission = services.submission_for(assignment, learner.id)
    assert len(submission.files) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubmissionFile)) == 1


@pytest.mark.parametrize(
    ("data", "name", "error"),
    [
        (b"MZ\x90\x00" + b"\x00" * 100, "essay.pdf", UnsupportedFileType),  # an exe renamed
        (b"<html><script>alert(1)</script></html>", "essay.pdf", UnsupportedFileType),
        (b"", "essay.pdf", DomainError),
        (b"%PDF-1.7\n" + b"x" * (6 * 1024 * 1024), "big.pdf", FileTooLarge),
        (docx({"word/bomb.xml": "0" * (30 * 1024 * 1024)}), "bomb.docx", UnsupportedFileType),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(setting, app, data, name, error):
    assignment, learner = setting
    with pytest.raises(error):
        upload(assignment, learner, data, name)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_file_names_lose_paths_and_control_characters(setting):
    assignment, learner = setting
    added = upload(assignment, learner, PDF, "../../etc/\x07pass\nwd.pdf")
    assert "/" not in added.name and "\x07" not in added.name and "\n" not in added.name
    assert added.name.endswith(".pdf")


def test_nothing_is_accepted_before_opening_or_after_the_cut_off(make, ctx):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    now = clock.now()
    not_open = make.assignment(
        cohort, opens_at=now + timedelta(days=1), due_at=now + timedelta(days=2)
    )
    with pytest.raises(Conflict, match="not open"):
        upload(not_open, learner)
    closed = make.assignment(
        cohort,
        opens_at=now - timedelta(days=9),
        due_at=now - timedelta(days=3),
        cutoff_at=now - timedelta(days=1),
    )
    with pytest.raises(Conflict, match="cut-off"):
        upload(closed, learner)


def test_late_work_is_counted_in_working_days_across_a_bank_holiday(make, ctx):
    cohort = make.cohort(nation="england")
    learner = make.learner_in(cohort)
    due = datetime(2027, 3, 25, 12, tzinfo=UTC)  # Thursday before Easter
    assignment = make.assignment(
        cohort, opens_at=due - timedelta(days=20), due_at=due, cutoff_at=due + timedelta(days=14)
    )
    with clock.frozen_at(datetime(2027, 3, 30, 9, tzinfo=UTC)):  # Tuesday after Easter Monday
        upload(assignment, learner)
        receipt = services.submit(
            services.submission_for(assignment, learner.id), declaration=True, actor=learner
        )
    assert receipt.late_working_days == 1


def test_a_short_extension_is_self_certified_and_moves_only_that_learners_deadline(make, ctx):
    cohort = make.cohort()
    learner, other = make.learner_in(cohort), make.learner_in(cohort)
    due = datetime(2027, 6, 4, 12, tzinfo=UTC)  # Friday
    assignment = make.assignment(
        cohort, opens_at=due - timedelta(days=30), due_at=due, cutoff_at=due + timedelta(days=2)
    )
    with clock.frozen_at(due - timedelta(days=1)):
        extension = services.request_extension(
            assignment, learner, reason="Night shifts", requested_due_at=due + timedelta(days=7)
        )
    assert extension.status == "approved" and extension.self_certified
    assert services.deadline_for(assignment, learner.id).cutoff_at == due + timedelta(days=9)
    assert services.deadline_for(assignment, other.id).due_at == due
    with clock.frozen_at(due + timedelta(days=5)):  # past the cut-off, within the extension
        upload(assignment, learner)
        with pytest.raises(Conflict):
            upload(assignment, other)


def test_a_long_extension_waits_for_a_tutor(make, ctx):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    tutor = make.user("tutor", scope=cohort)
    due = clock.now() + timedelta(days=2)
    assignment = make.assignment(cohort, due_at=due)
    extension = services.request_extension(
        assignment, learner, reason="Surgery", requested_due_at=due + timedelta(days=30)
    )
    assert extension.status == "pending"
    with pytest.raises(Conflict, match="waiting"):
        services.request_extension(
            assignment, learner, reason="again", requested_due_at=due + timedelta(days=40)
        )
    with pytest.raises(DomainError, match="declined"):
        services.decide_extension(extension, actor=tutor, approved=False)
    services.decide_extension(
        extension, actor=tutor, approved=True, due_at=due + timedelta(days=21)
    )
    assert services.deadline_for(assignment, learner.id).due_at == due + timedelta(days=21)


def test_extension_requests_must_be_before_the_cut_off_and_after_the_due_date(make, ctx):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    now = clock.now()
    assignment = make.assignment(cohort, due_at=now + timedelta(days=3))
    with pytest.raises(DomainError, match="after the current due date"):
        services.request_extension(
            assignment, learner, reason="x", requested_due_at=now + timedelta(days=1)
        )
    closed = make.assignment(
        cohort,
        opens_at=now - timedelta(days=9),
        due_at=now - timedelta(days=3),
        cutoff_at=now - timedelta(days=1),
    )
    with pytest.raises(Conflict, match="cut-off"):
        services.request_extension(
            closed, learner, reason="x", requested_due_at=now + timedelta(days=5)
        )


def test_candidate_numbers_are_stable_and_differ_between_assignments(app, ctx):
    assert services.candidate_number(1, 7) == services.candidate_number(1, 7)
    assert services.candidate_number(1, 7) != services.candidate_number(2, 7)
    assert services.candidate_number(1, 7).startswith("C")
