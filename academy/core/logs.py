"""Log lines an operator can follow across nodes: a request id on every line, JSON or text.

Each request gets an id, the caller's `X-Request-ID` when it is a plausible one (a load balancer
or another service may have started the trail) or a new one, and answers with it in
`X-Request-ID`. Every log record made while the request runs carries it as `request_id`, and so
do the records of the background jobs the request queued (academy.core.jobs carries it across),
wherever they run. `LOG_FORMAT=json` (the production default) writes one JSON object a line:
time, level, logger, message, request_id and any exception.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, g, request

HEADER = "X-Request-ID"
#: What an incoming id may look like: short, and nothing that could forge a log line.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

_request_id: ContextVar[str | None] = ContextVar("academy_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_id_context(request_id: str | None) -> Iterator[None]:
    """Log as part of `request_id` inside the block (a job run for that request)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def incoming_or_new(value: str | None) -> str:
    return value if value and VALID_REQUEST_ID.match(value) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"LOG_FORMAT must be json or text, not {log_format!r}")


class _AcademyHandler(logging.StreamHandler):
    """The handler this module installs, told apart from any a host (pytest, gunicorn) added."""


def _install_record_factory() -> None:
    """Stamp the request id on every record when it is made, so whichever handler formats it
    (ours, pytest's caplog, a host's) sees the id of the request or job that logged it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "academy_request_id", False):
        return

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    make_record.academy_request_id = True
    logging.setLogRecordFactory(make_record)


def configure(log_format: str) -> None:
    """Send the root logger's INFO and above to stderr in `log_format`, once. As with
    logging.basicConfig, a root logger that already has a host's handlers is left to them."""
    _install_record_factory()
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, _AcademyHandler)]
    for handler in ours:
        handler.setFormatter(formatter(log_format))
    if root.handlers:
        return
    handler = _AcademyHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Register before every other hook, so the id is there for everything the request logs."""
    configure(app.config["LOG_FORMAT"])
    app.before_request(_take_request_id)
    app.after_request(_answer_request_id)
    app.teardown_request(_forget_request_id)


def _take_request_id() -> None:
    g.request_id = incoming_or_new(request.headers.get(HEADER))
    g.request_id_token = _request_id.set(g.request_id)


def _answer_request_id(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response


def _forget_request_id(error=None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:
            # Set in another context (a test client reusing one app context): just clear it.
            _request_id.set(None)
