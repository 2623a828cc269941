"""Virus scanning of uploads by a clamd daemon, before a byte is stored.

Unconfigured (no `CLAMD_SOCKET` or `CLAMD_HOST`), uploads are not scanned. Configured, every
upload is streamed to clamd with its INSTREAM command: `zINSTREAM\\0`, then chunks each led by
its length as four big-endian bytes, then a zero length; clamd answers `stream: OK`,
`stream: <name> FOUND` or `... ERROR`. There is no well-kept client library, and the protocol is
this small.

A file clamd names is refused, logged and audited (after the request's rollback, by the hook
`init_app` installs, since the refusal rolls back everything else). When clamd cannot be reached,
times out or reports an error, the upload is refused while `ANTIVIRUS_REQUIRED` is true (the
default), so an outage never lets unscanned files in unnoticed; with it false the file is
accepted and a warning logged.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import struct
import time
from typing import BinaryIO

from flask import Flask, current_app, g

from academy.core.errors import DomainError
from academy.extensions import db

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
#: clamd's replies are one short line; anything longer is not clamd.
MAX_REPLY = 4096

UNAVAILABLE = (
    "Virus scanning is unavailable at the moment, so the file was not accepted. Try again later."
)


class ScanUnavailable(Exception):
    """clamd could not be reached, did not answer in time, or could not scan the file."""


class VirusFound(DomainError):
    status = 422

    def __init__(self, virus: str, *, field: str | None = "file"):
        super().__init__(f"The file contains a virus ({virus}) and was not accepted.", field=field)
        self.virus = virus


def configured() -> bool:
    config = current_app.config
    return bool(config.get("CLAMD_SOCKET") or config.get("CLAMD_HOST"))


def _connect(deadline: float) -> socket.socket:
    config = current_app.config
    timeout = _remaining(deadline)
    if config.get("CLAMD_SOCKET"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(config["CLAMD_SOCKET"])
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection(
        (config["CLAMD_HOST"], int(config.get("CLAMD_PORT") or 3310)), timeout=timeout
    )


def _deadline() -> float:
    return time.monotonic() + float(current_app.config.get("CLAMD_TIMEOUT_SECONDS") or 30)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("clamd did not answer in time")
    return left


def _reply(sock: socket.socket, deadline: float) -> str:
    """One NUL-terminated reply (the `z` form of a command), read until the deadline."""
    received = b""
    while b"\0" not in received and len(received) < MAX_REPLY:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(MAX_REPLY)
        if not chunk:
            break
        received += chunk
    return received.split(b"\0", 1)[0].decode("utf-8", errors="replace").strip()


def ping() -> bool:
    """Whether clamd answers PING with PONG; False when it does not or is not configured."""
    if not configured():
        return False
    deadline = _deadline()
    try:
        with _connect(deadline) as sock:
            sock.sendall(b"zPING\0")
            return _reply(sock, deadline) == "PONG"
    except OSError as error:
        log.warning("clamd did not answer PING: %s", error)
        return False


def _scan(stream: BinaryIO) -> tuple[str | None, str]:
    """(the virus clamd names or None, the SHA-256 of what was sent)."""
    digest = hashlib.sha256()
    deadline = _deadline()
    start = stream.tell()
    try:
        with _connect(deadline) as sock:
            sock.sendall(b"zINSTREAM\0")
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                sock.settimeout(_remaining(deadline))
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.settimeout(_remaining(deadline))
            sock.sendall(struct.pack(">I", 0))
            reply = _reply(sock, deadline)
    except OSError as error:  # refused, reset, timed out (TimeoutError is an OSError)
        raise ScanUnavailable(f"{type(error).__name__}: {error}") from error
    finally:
        stream.seek(start)
    if reply == "stream: OK":
        return None, digest.hexdigest()
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return reply[len("stream: ") : -len(" FOUND")].strip() or "unnamed", digest.hexdigest()
    # "INSTREAM size limit exceeded. ERROR", a scan error, or not clamd at all.
    raise ScanUnavailable(f"clamd answered {reply[:200]!r}")


def scan(stream: BinaryIO) -> str | None:
    """The name of the virus clamd finds in `stream` (read from its current position, which is
    restored), or None when it is clean; ScanUnavailable when clamd cannot say."""
    return _scan(stream)[0]


def refuse_infected(stream: BinaryIO, file_name: str, *, field: str = "file") -> None:
    """Scan an upload when scanning is configured: VirusFound for an infected file, a 503
    DomainError when clamd cannot say and a scan is required. Call before storing the file."""
    if not configured():
        return
    try:
        virus, sha256 = _scan(stream)
    except ScanUnavailable as error:
        if current_app.config.get("ANTIVIRUS_REQUIRED", True):
            log.error("virus scanning unavailable, upload %r refused: %s", file_name, error)
            raise DomainError(UNAVAILABLE, field=field, status=503) from error
        log.warning(
            "virus scanning unavailable, upload %r accepted unscanned: %s", file_name, error
        )
        return
    if virus is None:
        return
    log.warning("virus %s found in upload %r (sha256 %s), refused", virus, file_name, sha256)
    g.setdefault("viruses_found", []).append(
        {"name": file_name, "sha256": sha256, "virus": virus, "field": field}
    )
    raise VirusFound(virus, field=field)


def init_app(app: Flask) -> None:
    app.after_request(_audit_viruses_found)


def _audit_viruses_found(response):
    """Audit each refused virus once the request is over: the refusal rolled back its
    transaction, and the record of an attack must outlive that."""
    found = g.pop("viruses_found", None)
    if not found:
        return response
    from flask_login import current_user

    from academy.audit import services as audit

    actor = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    # The request failed: nothing else it changed may be committed with the audit.
    db.session.rollback()
    for details in found:
        audit.record("upload.virus_found", actor=actor, object_type="upload", after=details)
    db.session.commit()
    return response
