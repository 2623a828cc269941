"""The storage layer: content-addressed, atomic, size-limited, on local disk and S3."""

import hashlib
import io

import boto3
import pytest
from moto import mock_aws

from academy.core.storage import FileTooLarge, LocalStorage, S3Storage, storage

pytestmark = pytest.mark.no_db
PDF = b"%PDF-1.7\n" + b"x" * 5000


class BreaksAfter(io.BytesIO):
    """A stream whose reader fails part-way, as a dropped connection would."""

    def __init__(self, data: bytes, fail_at: int):
        super().__init__(data)
        self.fail_at = fail_at

    def read(self, size=-1):
        if self.tell() >= self.fail_at:
            raise ConnectionResetError("client went away")
        return super().read(min(size, self.fail_at - self.tell()) if size > 0 else size)


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-2")
        client.create_bucket(
            Bucket="academy", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        yield S3Storage("academy", client)


@pytest.fixture
def local(tmp_path):
    return LocalStorage(tmp_path / "files")


def every_file(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_saves_by_content_hash_and_reads_back(backend, local, s3):
    store = local if backend == "local" else s3
    blob = store.save(io.BytesIO(PDF), max_size=1024 * 1024)
    assert blob.sha256 == hashlib.sha256(PDF).hexdigest()
    assert blob.size == len(PDF)
    assert store.exists(blob.sha256)
    with store.open(blob.sha256) as stored:
        assert stored.read() == PDF
    # The same bytes again are the same object, not a second copy.
    assert store.save(io.BytesIO(PDF), max_size=1024 * 1024) == blob


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_over_size_is_refused_before_reading_it_all(backend, local, s3):
    store = local if backend == "local" else s3
    stream = io.BytesIO(b"a" * (5 * 1024 * 1024))
    with pytest.raises(FileTooLarge):
        store.save(stream, max_size=1024 * 1024)
    assert stream.tell() < 5 * 1024 * 1024  # it stopped reading
    assert not store.exists(hashlib.sha256(b"a" * (5 * 1024 * 1024)).hexdigest())


def test_a_failure_mid_write_leaves_no_file_at_all(local):
    with pytest.raises(ConnectionResetError):
        local.save(BreaksAfter(PDF, fail_at=3000), max_size=1024 * 1024)
    assert every_file(local.root) == []
    local.save(io.BytesIO(b"ok"), max_size=10)
    with pytest.raises(FileTooLarge):
        local.save(io.BytesIO(b"too long"), max_size=3)
    assert [p.name for p in every_file(local.root)] == [hashlib.sha256(b"ok").hexdigest()]


def test_a_failure_mid_upload_leaves_no_object_in_the_bucket(s3):
    with pytest.raises(ConnectionResetError):
        s3.save(BreaksAfter(PDF, fail_at=3000), max_size=1024 * 1024)
    assert s3.client.list_objects_v2(Bucket="academy").get("KeyCount", 0) == 0


def test_hash_names_cannot_escape_the_storage_root(local, s3):
    for store in (local, s3):
        with pytest.raises(ValueError):
            store.open("../../etc/passwd")


def test_configuration_picks_the_backend(app, monkeypatch):
    with app.app_context():
        assert isinstance(storage(), LocalStorage)
        monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
        with mock_aws():
            chosen = storage()
        assert isinstance(chosen, S3Storage) and chosen.bucket == app.config["S3_BUCKET"]
