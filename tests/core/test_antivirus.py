"""Virus scanning by clamd before an upload is stored, against a fake clamd that speaks the real
INSTREAM protocol over TCP and a unix socket: clean, infected (the EICAR test string), down,
hung and failing, through `store_upload` and real upload routes."""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import struct
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment.models import Submission, SubmissionFile
from academy.audit.models import AuditEvent
from academy.content import services as content
from academy.content.models import Resource
from academy.core import antivirus
from academy.core.errors import DomainError
from academy.core.uploads import store_upload
from academy.extensions import db
from tests.conftest import count
from tests.content import files

#: The EICAR anti-virus test file, in two halves so that this source file is not itself flagged.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Eicar-Test-Signature"
UNAVAILABLE = (
    "Virus scanning is unavailable at the moment, so the file was not accepted. Try again later."
)


class FakeClamd:
    """clamd's side of PING and INSTREAM. `mode`: `scan` (OK, or FOUND for EICAR), `hang`
    (accepts, reads, never answers) or `error` (answers as clamd does past its size limit)."""

    def __init__(self, mode: str, socket_path: Path | None = None):
        self.mode = mode
        self.streams: list[bytes] = []
        self.chunk_sizes: list[list[int]] = []
        self.commands: list[bytes] = []
        self.released = threading.Event()
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                fake.serve(self.request)

        if socket_path is None:
            self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        else:
            self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _exactly(connection, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def serve(self, connection):
        command = b""
        while not command.endswith(b"\0"):
            command += self._exactly(connection, 1)
        self.commands.append(command)
        if command == b"zPING\0":
            connection.sendall(b"PONG\0")
            return
        assert command == b"zINSTREAM\0"
        sizes, chunks = [], []
        while size := struct.unpack(">I", self._exactly(connection, 4))[0]:
            sizes.append(size)
            chunks.append(self._exactly(connection, size))
        self.chunk_sizes.append(sizes)
        self.streams.append(b"".join(chunks))
        if self.mode == "hang":
            self.released.wait(10)
        elif self.mode == "error":
            connection.sendall(b"INSTREAM size limit exceeded. ERROR\0")
        elif EICAR in self.streams[-1]:
            connection.sendall(f"stream: {SIGNATURE} FOUND\0".encode())
        else:
            connection.sendall(b"stream: OK\0")

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def closed_port() -> int:
    """A port nothing listens on: bound for a moment to find a free one, then let go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def clamd(app, monkeypatch, tmp_path):
    """`clamd(mode, unix=False)` starts a fake clamd and points the app at it;
    `clamd("down")` points it at a port nothing listens on."""
    started: list[FakeClamd] = []
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_SECONDS", 2)
    monkeypatch.setitem(app.config, "ANTIVIRUS_REQUIRED", True)

    def start(mode: str = "scan", *, unix: bool = False) -> FakeClamd | None:
        if mode == "down":
            monkeypatch.setitem(app.config, "CLAMD_HOST", "127.0.0.1")
            monkeypatch.setitem(app.config, "CLAMD_PORT", closed_port())
            return None
        if unix:
            path = tmp_path / "clamd.sock"
            server = FakeClamd(mode, path)
            monkeypatch.setitem(app.config, "CLAMD_SOCKET", str(path))
        else:
            server = FakeClamd(mode)
            monkeypatch.setitem(app.config, "CLAMD_HOST", "127.0.0.1")
            monkeypatch.setitem(app.config, "CLAMD_PORT", server.server.server_address[1])
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def stored_files(app) -> set[Path]:
    return {path for path in Path(app.config["STORAGE_DIR"]).rglob("*") if path.is_file()}


def store(data: bytes, name: str = "notes.txt", **kwargs):
    return store_upload(io.BytesIO(data), name, allowed_types=["pdf", "txt"], max_mb=5, **kwargs)


def virus_events() -> list[AuditEvent]:
    return list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "upload.virus_found"))
    )


# --- the protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix-socket"])
def test_a_file_is_streamed_to_clamd_in_chunks_and_a_clean_one_passes(clamd, ctx, unix):
    server = clamd(unix=unix)
    data = bytes(range(256)) * 1000  # 256,000 bytes: four chunks
    stream = io.BytesIO(b"head" + data)
    stream.seek(4)

    assert antivirus.scan(stream) is None

    assert server.commands == [b"zINSTREAM\0"]
    assert server.streams == [data]
    assert server.chunk_sizes == [[65536, 65536, 65536, 59392]]
    assert stream.tell() == 4


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix-socket"])
def test_clamd_names_the_virus_it_finds(clamd, ctx, unix):
    clamd(unix=unix)
    assert antivirus.scan(io.BytesIO(EICAR)) == SIGNATURE


@pytest.mark.parametrize("mode", ["down", "hang", "error"])
def test_a_scan_that_cannot_finish_is_unavailable(clamd, ctx, app, monkeypatch, mode):
    clamd(mode)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_SECONDS", 0.5)
    began = time.monotonic()
    with pytest.raises(antivirus.ScanUnavailable):
        antivirus.scan(io.BytesIO(b"hello"))
    assert time.monotonic() - began < 3  # a hung clamd costs the timeout, not forever


def test_ping_answers_whether_clamd_is_there(clamd, ctx, app, monkeypatch):
    assert antivirus.ping() is False  # not configured
    server = clamd()
    assert antivirus.ping() is True
    assert server.commands == [b"zPING\0"]
    clamd("down")
    assert antivirus.ping() is False


# --- store_upload ------------------------------------------------------------------------------


def test_without_clamd_configured_uploads_are_stored_unscanned(app, ctx):
    assert not app.config["CLAMD_SOCKET"] and not app.config["CLAMD_HOST"]
    assert store(b"Reflective log\n").size == len(b"Reflective log\n")


def test_a_clean_file_is_scanned_then_stored(clamd, app, ctx):
    server = clamd()
    stored = store(files.PDF, "essay.pdf")
    assert server.streams == [files.PDF]
    assert (Path(app.config["STORAGE_DIR"]) / stored.sha256[:2] / stored.sha256[2:4]).is_dir()


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix-socket"])
def test_an_infected_file_is_refused_logged_and_never_stored(clamd, app, ctx, caplog, unix):
    clamd(unix=unix)
    before = stored_files(app)

    with (
        caplog.at_level(logging.WARNING, logger="academy.core.antivirus"),
        pytest.raises(antivirus.VirusFound) as raised,
    ):
        store(EICAR, "eicar.txt", field="evidence")

    assert raised.value.message == (
        f"The file contains a virus ({SIGNATURE}) and was not accepted."
    )
    assert raised.value.field == "evidence" and raised.value.status == 422
    assert stored_files(app) == before
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert SIGNATURE in record.getMessage() and "eicar.txt" in record.getMessage()


@pytest.mark.parametrize("mode", ["down", "hang", "error"])
def test_when_scanning_is_required_but_unavailable_the_upload_is_refused(
    clamd, app, ctx, caplog, monkeypatch, mode
):
    clamd(mode)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_SECONDS", 0.5)
    before = stored_files(app)

    with (
        caplog.at_level(logging.WARNING, logger="academy.core.antivirus"),
        pytest.raises(DomainError) as raised,
    ):
        store(b"Reflective log\n", field="feedback_file")

    assert raised.value.message == UNAVAILABLE
    assert raised.value.status == 503 and raised.value.field == "feedback_file"
    assert stored_files(app) == before
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_when_scanning_is_optional_an_outage_lets_the_file_in_with_a_warning(
    clamd, app, ctx, caplog, monkeypatch
):
    clamd("down")
    monkeypatch.setitem(app.config, "ANTIVIRUS_REQUIRED", False)

    with caplog.at_level(logging.WARNING, logger="academy.core.antivirus"):
        stored = store(b"Reflective log\n")

    assert stored.size == len(b"Reflective log\n")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "accepted unscanned" in caplog.records[0].getMessage()


def test_optional_scanning_still_refuses_a_virus_it_finds(clamd, app, ctx, monkeypatch):
    clamd()
    monkeypatch.setitem(app.config, "ANTIVIRUS_REQUIRED", False)
    with pytest.raises(antivirus.VirusFound):
        store(EICAR, "eicar.txt")


def test_content_files_are_scanned_too(clamd, make, app, ctx):
    clamd()
    section = make.section(make.module())
    before = stored_files(app)
    with pytest.raises(antivirus.VirusFound):
        content.add_resource(
            section,
            actor=make.user("admin"),
            kind="file",
            title="Handout",
            upload=content.Upload(stream=io.BytesIO(EICAR), name="handout.txt"),
        )
    assert count(Resource) == 0 and stored_files(app) == before


# --- through real upload routes ----------------------------------------------------------------


@pytest.fixture
def course(make):
    cohort = make.cohort()
    return make.learner_in(cohort), make.assignment(cohort)


def multipart(data: bytes, name: str) -> dict:
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name)})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_an_infected_submission_is_refused_through_the_api_and_audited(clamd, course, api, app):
    clamd()
    learner, assignment = course
    before = stored_files(app)

    response = api(learner).post(
        f"assignments/{assignment.id}/submission/files", **multipart(EICAR, "essay.txt")
    )

    assert response.status_code == 422
    message = f"The file contains a virus ({SIGNATURE}) and was not accepted."
    assert response.get_json()["message"] == message
    assert response.get_json()["errors"] == {"file": [message]}
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    assert stored_files(app) == before
    [event] = virus_events()
    assert event.actor_id == learner.id and event.object_type == "upload"
    assert event.after["virus"] == SIGNATURE and event.after["name"] == "essay.txt"
    assert len(event.after["sha256"]) == 64


def test_a_clean_submission_is_accepted_through_the_api_once_scanned(clamd, course, api):
    server = clamd()
    learner, assignment = course
    response = api(learner).post(
        f"assignments/{assignment.id}/submission/files", **multipart(files.PDF, "essay.pdf")
    )
    assert response.status_code == 201, response.get_json()
    assert server.streams == [files.PDF]
    assert virus_events() == []


def test_an_infected_submission_is_refused_on_the_page_with_the_message(
    clamd, course, login_as, app
):
    clamd(unix=True)
    learner, assignment = course
    before = stored_files(app)

    response = login_as(learner).post(
        f"/assignments/{assignment.id}/files", **multipart(EICAR, "essay.txt")
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page
    assert f"The file contains a virus ({SIGNATURE}) and was not accepted." in page
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    assert stored_files(app) == before
    assert [e.actor_id for e in virus_events()] == [learner.id]


def test_when_clamd_is_down_the_learner_is_told_to_try_later_and_nothing_is_kept(
    clamd, course, api, login_as, app
):
    clamd("down")
    learner, assignment = course
    before = stored_files(app)

    by_api = api(learner).post(
        f"assignments/{assignment.id}/submission/files", **multipart(files.PDF, "essay.pdf")
    )
    on_page = login_as(learner).post(
        f"/assignments/{assignment.id}/files", **multipart(files.PDF, "essay.pdf")
    )

    assert by_api.status_code == 503
    assert by_api.get_json()["message"] == UNAVAILABLE
    assert by_api.get_json()["errors"] == {"file": [UNAVAILABLE]}
    assert on_page.status_code == 503
    assert UNAVAILABLE in on_page.get_data(as_text=True)
    assert count(Submission) == 0 and count(SubmissionFile) == 0
    assert stored_files(app) == before
    assert virus_events() == []
