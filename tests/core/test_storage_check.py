"""`flask academy storage check [--clean]`: orphans both ways, on local disk and on S3."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

from academy.audit.models import AuditEvent
from academy.core import clock, jobs, storage_check
from academy.core.storage import LocalStorage, S3Storage, storage
from academy.extensions import db
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage

MISSING = "1" * 64  # what the submission factory's file names; never stored


def run(app, *args):
    return app.test_cli_runner().invoke(args=["academy", "storage", "check", *args])


@pytest.fixture(params=["local", "s3"])
def store(request, app, monkeypatch, tmp_path):
    """Empty storage of each kind, configured as the app's."""
    if request.param == "local":
        monkeypatch.setitem(app.config, "STORAGE_DIR", str(tmp_path / "storage"))
        with app.app_context():
            yield storage()
        return
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    with mock_aws():
        boto3.client("s3", region_name=app.config["S3_REGION"]).create_bucket(
            Bucket=app.config["S3_BUCKET"],
            CreateBucketConfiguration={"LocationConstraint": app.config["S3_REGION"]},
        )
        with app.app_context():
            yield storage()


def save(store, data: bytes) -> str:
    return store.save(io.BytesIO(data), max_size=1024 * 1024).sha256


@pytest.fixture
def world(make, store):
    """Blobs and rows that disagree in every way the check looks for."""
    in_use = save(store, b"slides for the module")
    attached = save(store, b"an attachment on an email")
    orphan = save(store, b"saved, but the row never committed")
    section = make.section(make.module())
    resource = make.resource(section, kind="file", file_sha256=in_use)
    learner = make.user("learner")
    send_email(learner.email, "Your file", "password_reset", user=learner, link="https://x.test")
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    message.attachments = [{"name": "a.pdf", "mimetype": "application/pdf", "sha256": attached}]
    db.session.commit()
    jobs.discard_ready()
    cohort = make.cohort()
    submission = make.submission(make.assignment(cohort), make.learner_in(cohort))
    return {
        "in_use": in_use,
        "attached": attached,
        "orphan": orphan,
        "resource": resource,
        "submission_file": submission.files[0],
    }


def later(hours: int):
    return clock.frozen_at(clock.now() + timedelta(hours=hours))


def test_the_check_lists_orphans_both_ways_and_deletes_nothing(app, world, store):
    result = run(app)
    assert result.exit_code == 1, result.output  # a row's file is missing: lost data
    out = result.output
    assert "Stored blobs: 3; blobs that rows point at: 3" in out
    assert "Unreferenced blobs (no row points at them): 1" in out
    assert f"  {world['orphan']} " in out
    assert world["in_use"] not in out and world["attached"] not in out
    assert "Rows whose file is missing from storage: 1" in out
    assert f"submission_file.sha256 (id {world['submission_file'].id}): {MISSING}" in out
    assert store.exists(world["orphan"])


def test_clean_deletes_old_unreferenced_blobs_only_and_never_rows(app, world, store):
    with later(hours=25):
        result = run(app, "--clean")
    assert result.exit_code == 1, result.output
    assert "Deleted 1 unreferenced blobs older than 24 hours; kept 0 newer ones" in result.output
    assert not store.exists(world["orphan"])
    assert store.exists(world["in_use"]) and store.exists(world["attached"])
    # The row with the missing file is reported, and still there.
    assert db.session.get(type(world["submission_file"]), world["submission_file"].id)
    assert "never deleted" in result.output
    [event] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "storage.unreferenced_deleted")
    )
    assert event.after == {"count": 1, "sha256": [world["orphan"]]}


def test_clean_leaves_blobs_younger_than_the_grace_period(app, world, store):
    result = run(app, "--clean")
    assert "Deleted 0 unreferenced blobs older than 24 hours; kept 1 newer ones" in result.output
    assert store.exists(world["orphan"])
    with later(hours=3):
        result = run(app, "--clean", "--grace-hours", "2")
    assert "Deleted 1 unreferenced blobs older than 2 hours" in result.output
    assert not store.exists(world["orphan"])
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "storage.unreferenced_deleted")
        )
        == 1
    )


def test_a_blob_whose_row_commits_after_the_listing_is_kept(app, world, store, monkeypatch):
    """The listing saw no row for `in_use`; by the time it would be deleted one is there."""
    monkeypatch.setattr(storage_check, "referencing_rows", lambda: {})
    with later(hours=25), app.app_context():
        report = storage_check.check(clean=True)
    assert report.deleted == sorted([world["orphan"]])
    assert store.exists(world["in_use"]) and store.exists(world["attached"])


def test_all_in_order_exits_zero(app, make, store):
    make.resource(make.section(make.module()), kind="file", file_sha256=save(store, b"ok"))
    result = run(app, "--clean")
    assert result.exit_code == 0, result.output
    assert "Stored blobs: 1; blobs that rows point at: 1" in result.output
    assert "Rows whose file is missing from storage: 0" in result.output


# --- listing blobs ----------------------------------------------------------------------------


@pytest.mark.no_db
def test_local_listing_skips_unfinished_uploads_and_stray_files(tmp_path):
    local = LocalStorage(tmp_path)
    sha = save(local, b"kept")
    (tmp_path / ".upload-abc123").write_bytes(b"half an upload")
    (tmp_path / "README").write_text("not a blob")
    misplaced = tmp_path / "zz" / "zz" / sha
    misplaced.parent.mkdir(parents=True)
    misplaced.write_bytes(b"kept")
    old = clock.now() - timedelta(days=3)
    os.utime(local._path(sha), (old.timestamp(), old.timestamp()))
    [listed] = local.list_blobs()
    assert (listed.sha256, listed.size) == (sha, 4)
    assert abs(listed.modified - old) < timedelta(seconds=1)


@pytest.mark.no_db
def test_s3_listing_finds_blobs_and_skips_other_keys():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-2")
        client.create_bucket(
            Bucket="academy", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        client.put_object(Bucket="academy", Key="backups/db.dump", Body=b"x")
        client.put_object(Bucket="academy", Key="blobs/not-a-hash", Body=b"x")
        s3 = S3Storage("academy", client)
        saved = {save(s3, f"blob {n}".encode()) for n in range(3)}
        listed = list(s3.list_blobs())
    assert {blob.sha256 for blob in listed} == saved
    assert all(blob.size == 6 and blob.modified.tzinfo is not None for blob in listed)
