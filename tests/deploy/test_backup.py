"""`flask academy backup DIR` and `flask academy restore DIR`: a database full of submissions and
credentials comes back, in a fresh database and fresh storage, with every file byte-identical,
every credential verifying as before and every table's row count the same; a backup that has
been changed is refused, as is restoring over data without --force.

The databases are real ones (PostgreSQL when TEST_DATABASE_URL is set, else SQLite files) that
commit, outside the suite's rolled-back transaction: pg_dump and pg_restore see only what is
committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from moto import mock_aws

from academy import create_app
from academy.assessment import services as assessment
from academy.assessment.models import SubmissionFile
from academy.core import jobs
from academy.core.storage import storage
from academy.credentials import services as credential_services
from academy.credentials.models import Credential
from academy.credentials.verification import verify_document
from academy.extensions import db
from tests.factories import Factories
from tests.signing import TEST_SIGNING_KEY

pytestmark = pytest.mark.no_db

FACTORY_FILE = "1" * 64  # the hash the submission factory names without storing any bytes


def make_app(url: str, storage_dir: Path, **overrides):
    return create_app(
        {
            "ACADEMY_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-to-use",
            "SQLALCHEMY_DATABASE_URI": url,
            "MAIL_BACKEND": "memory",
            "WTF_CSRF_ENABLED": False,
            # The limiter is one object shared by every app: keep the suite's memory storage.
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,  # jobs run in-process, whatever the environment says
            "STORAGE_DIR": str(storage_dir),
            "ACADEMY_BASE_URL": "https://academy.test",
            "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
            "ACADEMY_KEY_FILE": str(storage_dir.parent / "issuer-keys.json"),
            **overrides,
        }
    )


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["academy", *args])


def table_counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as connection:
        present = set(sa.inspect(connection).get_table_names())
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in db.metadata.sorted_tables
            if table.name in present
        }


@dataclass
class Filled:
    app: object
    url: str
    #: Each submission file's id and the bytes its learner uploaded.
    files: dict[int, bytes]
    #: Each credential's id and its verdict before the backup.
    verdicts: dict[int, str]
    counts: dict[str, int]


def fill(app) -> Filled:
    """Learners who uploaded and handed in files, passed and hold credentials (one revoked),
    written through the services and committed."""
    make = Factories(app)
    with app.app_context():
        upgrade()
        admin = make.user("admin")
        cohort = make.cohort(make.programme(modules=[make.module(), make.module()]))
        # On the second module: the credentials are for passing the first.
        essay = make.assignment(
            cohort, delivery=cohort.deliveries[1], title="Essay: clinical safety"
        )
        exam = make.assignment(cohort, title="Exam: the first module")
        for n in range(3):
            learner = make.learner_in(cohort)
            with app.test_request_context():
                for name, content in (
                    ("essay.txt", f"My essay, by learner {n}.\n".encode() * (200 + n)),
                    ("notes.txt", f"Notes {n}: \u00e9\u00e8 \U0001f3e5\n".encode() * 50),
                ):
                    assessment.add_file(essay, learner, io.BytesIO(content), name)
                submission = assessment.submission_for(essay, learner.id)
                assessment.submit(submission, declaration=True, actor=learner)
                db.session.commit()
            make.credential(learner, cohort, actor=admin, assignment=exam)
        # The credential factory hands in a file whose bytes it never stores: give those rows
        # real stored bytes, so the backup has every file the rows name.
        stored = storage().save(io.BytesIO(b"%PDF-1.4 marked work\n"), max_size=1024)
        db.session.execute(
            sa.update(SubmissionFile)
            .where(SubmissionFile.sha256 == FACTORY_FILE)
            .values(sha256=stored.sha256, size=stored.size)
        )
        revoked = db.session.scalars(sa.select(Credential).order_by(Credential.id)).first()
        with app.test_request_context():
            credential_services.revoke(revoked, actor=admin, reason="Issued in error")
            db.session.commit()
        jobs.run_ready()  # the emails the changes queued, as the request hooks would
        files = {}
        for file in db.session.scalars(sa.select(SubmissionFile)):
            with storage().open(file.sha256) as stored:
                files[file.id] = stored.read()
        verdicts = {
            credential.id: verify_document(credential.document).verdict
            for credential in db.session.scalars(sa.select(Credential))
        }
        db.session.remove()
        db.engine.dispose()
    assert sorted(verdicts.values()) == ["revoked", "valid", "valid"]
    assert len(files) == 9 and len(set(files.values())) == 7
    return Filled(app, "", files, verdicts, table_counts(app))


@pytest.fixture(scope="module")
def filled(module_databases, tmp_path_factory) -> Filled:
    """One filled database for the whole module: tests read it, and restore its backup."""
    url = module_databases.make("backup_source")
    app = make_app(url, tmp_path_factory.mktemp("source") / "storage")
    result = fill(app)
    result.url = url
    yield result
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def backed_up(filled, tmp_path_factory) -> Path:
    """The backup of `filled`; tests that change a backup change a copy."""
    target = tmp_path_factory.mktemp("backups") / "backup"
    result = cli(filled.app, "backup", str(target))
    assert result.exit_code == 0, result.output
    assert f"Backup written to {target}" in result.output
    return target


def restored(whole_database, tmp_path, backup: Path, name: str = "backup_target", **settings):
    """A new app on a new database and storage, with `backup` restored into it."""
    app = make_app(whole_database(name), tmp_path / name / "storage", **settings)
    result = cli(app, "restore", str(backup))
    assert result.exit_code == 0, result.output
    return app


def test_a_backup_restores_into_a_fresh_database_and_storage(
    filled, backed_up, whole_database, tmp_path
):
    manifest = json.loads((backed_up / "manifest.json").read_text())
    assert manifest["counts"] == filled.counts
    assert manifest["counts"]["submission_file"] == 9
    assert manifest["counts"]["credential"] == 3
    assert manifest["alembic_revision"]
    blob_names = [name for name in manifest["files"] if name.startswith("files/")]
    assert len(blob_names) == len(set(filled.files.values()))

    fresh = make_app(whole_database("backup_target"), tmp_path / "fresh" / "storage")
    result = cli(fresh, "restore", str(backed_up))
    assert result.exit_code == 0, result.output
    assert "(counts checked)" in result.output

    with fresh.app_context():
        for file_id, content in filled.files.items():
            file = db.session.get(SubmissionFile, file_id)
            with storage().open(file.sha256) as stored:
                assert stored.read() == content
        for credential_id, verdict in filled.verdicts.items():
            credential = db.session.get(Credential, credential_id)
            assert verify_document(credential.document).verdict == verdict
        db.session.remove()
    # The same rows, and one event more in the audit log: the restore itself.
    counts = table_counts(fresh)
    assert counts.pop("audit_event") == filled.counts["audit_event"] + 1
    assert counts == {k: v for k, v in filled.counts.items() if k != "audit_event"}
    # The audit log's hash chain came through intact, with the restore linked onto it.
    verified = cli(fresh, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    with fresh.app_context():
        db.engine.dispose()


def test_restored_credentials_verify_on_the_public_pages(
    filled, backed_up, whole_database, tmp_path
):
    fresh = restored(whole_database, tmp_path, backed_up)
    client = fresh.test_client()
    with fresh.app_context():
        credentials = list(db.session.scalars(sa.select(Credential)))
        db.session.remove()
    for credential in credentials:
        page = client.get(f"/credentials/{credential.uuid}")
        assert f'data-verdict="{filled.verdicts[credential.id]}"' in page.get_data(as_text=True)
        pasted = client.post(
            "/credentials/verify", data={"credential_json": json.dumps(credential.document)}
        )
        assert f'data-verdict="{filled.verdicts[credential.id]}"' in pasted.get_data(as_text=True)
    with fresh.app_context():
        db.engine.dispose()


def _tamper_blob(directory: Path) -> str:
    blob = next(path for path in sorted((directory / "files").rglob("*")) if path.is_file())
    content = bytearray(blob.read_bytes())
    content[0] ^= 1
    blob.write_bytes(bytes(content))
    return blob.relative_to(directory).as_posix()


@pytest.mark.parametrize(
    "tamper",
    ["blob", "dump", "extra file", "missing file", "blob and manifest", "no manifest"],
)
def test_a_changed_backup_is_refused_before_anything_is_touched(
    backed_up, whole_database, tmp_path, tamper
):
    copy = tmp_path / "changed"
    shutil.copytree(backed_up, copy)
    manifest_path = copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    dump = copy / manifest["database"]["file"]
    if tamper == "blob":
        expected = f"{_tamper_blob(copy)} has changed"
    elif tamper == "dump":
        with dump.open("r+b") as handle:
            handle.seek(dump.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0xFF]))
        expected = f"{dump.name} has changed"
    elif tamper == "extra file":
        (copy / "files" / "planted.sql").write_text("DROP TABLE user;")
        expected = "files/planted.sql is not in the manifest"
    elif tamper == "missing file":
        dump.unlink()
        expected = f"{dump.name} is missing"
    elif tamper == "blob and manifest":
        # Changed bytes with a manifest rewritten to match: the name is still the old hash.
        name = _tamper_blob(copy)
        content = (copy / name).read_bytes()
        manifest["files"][name] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }
        manifest_path.write_text(json.dumps(manifest))
        expected = f"{name} is not named by its SHA-256"
    else:
        manifest_path.unlink()
        expected = "has no manifest.json"

    fresh = make_app(whole_database("backup_target"), tmp_path / "fresh" / "storage")
    result = cli(fresh, "restore", str(copy))
    assert result.exit_code == 1
    assert expected in result.output
    if tamper != "no manifest":
        assert "Refusing to restore" in result.output
    # Nothing was written: no tables, no files.
    assert table_counts(fresh) == {}
    assert not (tmp_path / "fresh" / "storage").exists() or not any(
        (tmp_path / "fresh" / "storage").rglob("*")
    )
    with fresh.app_context():
        db.engine.dispose()


def test_restoring_over_data_needs_force(filled, backed_up, whole_database, tmp_path):
    app = restored(whole_database, tmp_path, backed_up)
    # A change since the backup: restoring would lose it, so it takes --force.
    with app.app_context():
        db.session.execute(sa.delete(SubmissionFile).where(SubmissionFile.id == min(filled.files)))
        db.session.commit()
        db.session.remove()
    refused = cli(app, "restore", str(backed_up))
    assert refused.exit_code == 1
    assert "already holds data" in refused.output and "--force" in refused.output
    assert table_counts(app)["submission_file"] == 8

    forced = cli(app, "restore", "--force", str(backed_up))
    assert forced.exit_code == 0, forced.output
    counts = table_counts(app)
    assert counts["submission_file"] == 9
    # The backup's events and the forced restore's own (the first restore's went with the data).
    assert counts["audit_event"] == filled.counts["audit_event"] + 1
    assert cli(app, "audit", "verify").exit_code == 0
    with app.app_context():
        db.engine.dispose()


def test_a_backup_goes_into_a_new_folder_only(filled, backed_up):
    result = cli(filled.app, "backup", str(backed_up))
    assert result.exit_code == 1
    assert "is not an empty folder" in result.output


def test_a_file_rows_need_but_storage_lost_makes_the_backup_fail_loudly(
    filled, backed_up, whole_database, tmp_path
):
    app = restored(whole_database, tmp_path, backed_up)
    with app.app_context():
        lost = db.session.get(SubmissionFile, min(filled.files)).sha256
        storage().delete(lost)
        db.session.remove()
    result = cli(app, "backup", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert f"Missing from storage, needed by rows: {lost}" in result.output
    assert "The backup is incomplete" in result.output
    with app.app_context():
        db.engine.dispose()


def test_s3_storage_is_backed_up_and_restored_through_the_bucket(
    filled, backed_up, whole_database, tmp_path
):
    """Blobs are downloaded from the bucket into the backup, and uploaded to another one."""
    region = "eu-west-2"
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        for bucket in ("academy-old", "academy-new"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        settings = {"STORAGE_BACKEND": "s3", "S3_REGION": region}
        old = restored(
            whole_database, tmp_path, backed_up, "backup_s3_old", S3_BUCKET="academy-old",
            **settings,
        )  # fmt: skip
        assert s3.list_objects_v2(Bucket="academy-old")["KeyCount"] == 7
        result = cli(old, "backup", str(tmp_path / "from-s3"))
        assert result.exit_code == 0, result.output
        new = restored(
            whole_database, tmp_path, tmp_path / "from-s3", "backup_s3_new",
            S3_BUCKET="academy-new", **settings,
        )  # fmt: skip
        assert s3.list_objects_v2(Bucket="academy-new")["KeyCount"] == 7
        with new.app_context():
            assert storage().bucket == "academy-new"
            for file_id, content in filled.files.items():
                file = db.session.get(SubmissionFile, file_id)
                with storage().open(file.sha256) as stored:
                    assert stored.read() == content
            db.session.remove()
        for app in (old, new):
            with app.app_context():
                db.engine.dispose()
