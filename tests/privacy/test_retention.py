"""The retention job: deletes only what is past its period, never a file another row still
uses, only after the commit, and nothing at all in a dry run or a second run."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date, timedelta

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

from academy.assessment.models import Submission, SubmissionFile, SubmissionReceipt
from academy.audit.models import AuditEvent
from academy.auth.models import LoginThrottle
from academy.core import blobs, clock, jobs
from academy.core.storage import LocalStorage, S3Storage, storage
from academy.extensions import db
from academy.marking import services as marking
from academy.marking.models import Mark
from academy.notifications.models import OutboxMessage
from academy.privacy import retention
from tests.privacy.conftest import store, submit_with_file


def unique(label: str) -> bytes:
    return f"{label} {uuid.uuid4()}".encode()


def outbox(status: str, age: timedelta, attachments=()) -> OutboxMessage:
    message = OutboxMessage(
        idempotency_key=f"test:{uuid.uuid4()}",
        recipient="someone@nhs.test",
        subject="Your summary",
        template="message",
        text_body="Hello",
        status=status,
        message_id=f"<{uuid.uuid4()}@academy>",
        attachments=[{"name": "a.csv", "mimetype": "text/csv", "sha256": s} for s in attachments],
        created_at=clock.now() - age,
    )
    db.session.add(message)
    return message


@pytest.fixture
def old_and_new(make):
    today = clock.today()
    old = make.cohort(starts_on=date(today.year - 8, 1, 10), ends_on=date(today.year - 7, 7, 1))
    recent = make.cohort(starts_on=date(today.year - 2, 1, 10), ends_on=date(today.year - 1, 7, 1))
    tutor = make.user("admin")
    shared, old_only, feedback, attachment = (unique(x) for x in ("shared", "old", "fb", "att"))
    a, b = make.learner_in(old), make.learner_in(old)
    c = make.learner_in(recent)
    old_assignment, new_assignment = make.assignment(old), make.assignment(recent)
    kept_old = submit_with_file(old_assignment, a, shared, "essay.txt")
    gone_old = submit_with_file(old_assignment, b, old_only, "essay.txt")
    current = submit_with_file(new_assignment, c, shared, "essay.txt")
    db.session.add(
        SubmissionReceipt(
            submission_id=kept_old.id,
            submitted_at=kept_old.submitted_at,
            sha256="a" * 64,
            files=[{"name": "essay.txt", "sha256": kept_old.files[0].sha256, "size": 1}],
        )
    )
    mark = marking.save_mark(kept_old, actor=tutor, expected_version=0, mark=60)
    mark.feedback_file_sha256, mark.feedback_file_name = store(feedback), "feedback.txt"
    old_sent = outbox("sent", timedelta(days=200), [store(attachment)])
    new_sent = outbox("sent", timedelta(days=5))
    old_pending = outbox("pending", timedelta(days=200))
    now = clock.now()
    db.session.add_all(
        [
            LoginThrottle(key="o" * 64, failures=3, last_failure_at=now - timedelta(days=60)),
            LoginThrottle(key="n" * 64, failures=3, last_failure_at=now - timedelta(days=1)),
        ]
    )
    db.session.commit()
    return {
        "kept_old": kept_old,
        "gone_old": gone_old,
        "current": current,
        "mark": mark,
        "messages": (old_sent.id, new_sent.id, old_pending.id),
        "blobs": {
            "shared": hashlib.sha256(shared).hexdigest(),
            "old_only": hashlib.sha256(old_only).hexdigest(),
            "feedback": hashlib.sha256(feedback).hexdigest(),
            "attachment": hashlib.sha256(attachment).hexdigest(),
        },
    }


def run(app, *args):
    return app.test_cli_runner().invoke(args=["academy", "retention", "run", *args])


def retention_events():
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "privacy.retention")
    ).all()


def present(world) -> dict[str, bool]:
    return {name: storage().exists(sha) for name, sha in world["blobs"].items()}


def test_a_dry_run_says_what_would_go_and_changes_nothing(app, old_and_new):
    result = run(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Submissions past retention: 2 (2 submission files and 1 feedback files would be" in (
        result.output
    )
    assert "Outbox messages would be deleted: 1" in result.output
    assert "Dry run: nothing was deleted." in result.output
    db.session.expire_all()
    assert all(present(old_and_new).values())
    assert old_and_new["gone_old"].files and old_and_new["gone_old"].files_purged_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) >= 3
    assert db.session.get(LoginThrottle, "o" * 64) is not None
    assert retention_events() == []


def test_the_run_deletes_only_what_is_past_its_period(app, old_and_new):
    world = old_and_new
    result = run(app)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    kept_old, gone_old, current = world["kept_old"], world["gone_old"], world["current"]
    # Old work loses its files, keeps its receipt and mark; current work keeps everything.
    assert kept_old.files == [] and kept_old.files_purged_at is not None
    assert gone_old.files == [] and gone_old.files_purged_at is not None
    assert len(kept_old.receipts) == 1
    mark = db.session.get(Mark, world["mark"].id)
    assert mark.raw_mark == 60 and mark.feedback_file_sha256 is None
    assert current.files and current.files_purged_at is None
    # The blob the current work shares survives; the others are gone.
    assert present(world) == {
        "shared": True,
        "old_only": False,
        "feedback": False,
        "attachment": False,
    }
    old_sent, new_sent, old_pending = world["messages"]
    remaining = set(db.session.scalars(sa.select(OutboxMessage.id)))
    assert old_sent not in remaining and {new_sent, old_pending} <= remaining
    assert set(db.session.scalars(sa.select(LoginThrottle.key))) >= {"n" * 64}
    assert db.session.get(LoginThrottle, "o" * 64) is None
    [event] = retention_events()
    assert event.after["submissions_purged"] == 2
    assert event.after["submission_files_deleted"] == 2
    assert event.after["feedback_files_deleted"] == 1
    assert event.after["outbox_messages_deleted"] == 1
    assert event.after["login_throttles_deleted"] >= 1


def test_running_again_does_nothing_more(app, old_and_new):
    assert run(app).exit_code == 0
    again = run(app)
    assert again.exit_code == 0
    assert "Submissions past retention: 0" in again.output
    assert "Outbox messages deleted: 0" in again.output
    assert len(retention_events()) == 1
    assert storage().exists(old_and_new["blobs"]["shared"])


def test_a_rolled_back_run_keeps_every_file(old_and_new):
    report = retention.run()
    assert report.submissions_purged == 2 and report.blobs_queued == 4
    db.session.rollback()
    jobs.run_ready()
    assert all(present(old_and_new).values())
    assert db.session.scalars(
        sa.select(SubmissionFile).where(SubmissionFile.submission_id == old_and_new["gone_old"].id)
    ).all()


def test_run_scheduled_applies_retention(app, old_and_new):
    result = app.test_cli_runner().invoke(args=["academy", "run-scheduled"])
    assert "Retention:" in result.output, result.output
    db.session.expire_all()
    assert db.session.get(Submission, old_and_new["gone_old"].id).files_purged_at is not None
    assert not storage().exists(old_and_new["blobs"]["old_only"])


def test_a_blob_still_referenced_when_the_job_runs_is_kept(make):
    cohort = make.cohort()
    content = unique("again")
    first = submit_with_file(make.assignment(cohort), make.learner_in(cohort), content, "a.txt")
    sha = first.files[0].sha256
    assert blobs.delete_now_if_unreferenced(sha) is False and storage().exists(sha)
    first.files.clear()
    db.session.commit()
    assert blobs.delete_now_if_unreferenced(sha) is True and not storage().exists(sha)
    # Already gone: still fine.
    assert blobs.delete_now_if_unreferenced(sha) is True


def test_every_hash_column_is_a_listed_reference_or_a_record():
    known = {(r.table, r.column) for r in blobs.blob_references()} | set(blobs.RECORD_ONLY)
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if "sha256" in column.name or column.name == "attachments":
                assert (table.name, column.name) in known, f"{table.name}.{column.name}"
    for reference in blobs.blob_references():
        assert reference.column in db.metadata.tables[reference.table].c


@pytest.mark.no_db
def test_storage_deletes_on_disk_and_on_s3(tmp_path):
    local = LocalStorage(tmp_path / "files")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-2")
        client.create_bucket(
            Bucket="academy", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        for store_ in (local, S3Storage("academy", client)):
            blob = store_.save(io.BytesIO(b"bytes to forget"), max_size=1024)
            assert store_.exists(blob.sha256)
            store_.delete(blob.sha256)
            assert not store_.exists(blob.sha256)
            store_.delete(blob.sha256)  # gone already: no error
            with pytest.raises(ValueError):
                store_.delete("../../etc/passwd")


def test_the_privacy_notice_gives_the_periods_and_rights(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RETENTION_SUBMISSION_YEARS", 7)
    monkeypatch.setitem(app.config, "RETENTION_OUTBOX_DAYS", 45)
    page = " ".join(client.get("/privacy").get_data(as_text=True).split())
    assert "for 7 years after the end of your cohort" in page
    assert "45 days after they were sent" in page
    assert 'href="/account/your-data"' in page
    assert "erase your personal data" in page
