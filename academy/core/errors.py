"""Error types raised by services, and the handlers that turn any error into HTML or JSON."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from academy.extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A request the domain refuses. Views show it as a form error; the API as `status`."""

    status = 422

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        #: More members for the API's error body, such as the current state after a stale write.
        self.extra = dict(extra or {})


class Conflict(DomainError):
    """Duplicate or stale data: the API answers 409."""

    status = 409


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _flatten_errors(errors) -> dict | None:
    """webargs nests messages by location (`{"json": {...}}`); the contract keys them by field."""
    if not errors:
        return None
    if isinstance(errors, dict):
        flat: dict = {}
        for key, value in errors.items():
            if key in {"json", "query", "form", "files", "headers", "view_args"} and isinstance(
                value, dict
            ):
                flat.update(value)
            else:
                flat[key] = value
        return flat
    return {"_schema": errors if isinstance(errors, list) else [str(errors)]}


def json_error(status: int, message: str | None = None, errors=None, headers=None, extra=None):
    body = {
        "code": status,
        "status": HTTP_STATUS_CODES.get(status, "Error"),
        "message": message or HTTP_STATUS_CODES.get(status, "Error"),
    }
    flat = _flatten_errors(errors)
    if flat:
        body["errors"] = flat
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


MESSAGES = {
    400: "The request could not be understood.",
    401: "Sign in, or send a valid API token.",
    403: "You do not have permission to do that.",
    404: "There is nothing at this address, or you cannot see it.",
    405: "That method is not allowed here.",
    409: "That conflicts with the current state.",
    413: "That upload is too large.",
    415: "That file type is not allowed.",
    422: "Some of the information given is not valid.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    headers = dict(error.get_response().headers) if status in (405, 429, 401) else {}
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    if wants_json():
        data = getattr(error, "data", None) or {}
        message = data.get("message") or _description(error) or MESSAGES.get(status)
        if status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="academy"')
        # webargs' abort (validation, malformed JSON) puts field messages under `messages`.
        errors = data.get("errors") or data.get("messages")
        return json_error(status, message, errors, headers)
    template = f"errors/{status}.html" if status in (403, 404, 429, 500) else "errors/generic.html"
    body = render_template(
        template, status=status, message=_description(error) or MESSAGES.get(status, "")
    )
    return body, status, headers


def _description(error: HTTPException) -> str | None:
    """Werkzeug's stock descriptions are written for developers; keep only ones we wrote."""
    if isinstance(error, RateLimitExceeded) and not error.limit.error_message:
        return None  # Flask-Limiter's default is the limit itself ("10 per 1 minute")
    default = type(error).description
    if error.description and error.description != default:
        return error.description
    return None


def handle_domain_error(error: DomainError):
    db.session.rollback()
    if wants_json():
        errors = {error.field: [error.message]} if error.field else None
        return json_error(error.status, error.message, errors, extra=error.extra)
    return render_template(
        "errors/generic.html", status=error.status, message=error.message
    ), error.status


def handle_csrf_error(error: CSRFError):
    """A form sent without a valid CSRF token: usually a page left open too long."""
    db.session.rollback()
    return render_template("errors/form_expired.html", back=request.path), 400


def handle_integrity_error(error: IntegrityError):
    """Services check for duplicates first; this catches the race where two requests pass that
    check together and the database's unique constraint refuses the second."""
    log.warning("integrity error on %s %s: %s", request.method, request.path, error.orig)
    return handle_domain_error(
        Conflict("That conflicts with a change someone else has just made. Reload and try again.")
    )


#: PostgreSQL's answers when concurrent transactions collide: serialization failure, deadlock
#: detected, lock not available.
CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}


def is_contention(error: OperationalError) -> bool:
    """Two requests writing the same rows at the same moment, not a fault: SQLite allows one
    writer at a time and refuses the other ("database is locked") rather than let it wait for a
    lock it could deadlock on; PostgreSQL reports deadlocks and serialization failures."""
    if getattr(error.orig, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return type(error.orig).__module__.startswith("sqlite3") and "locked" in str(error.orig)


def handle_operational_error(error: OperationalError):
    if not is_contention(error):
        return handle_unexpected(error)
    log.warning("concurrent write refused on %s %s: %s", request.method, request.path, error.orig)
    return handle_domain_error(
        Conflict("Someone else changed this at the same moment. Reload and try again.")
    )


def handle_stale_data(error: StaleDataError):
    """Two saves of one versioned record at once: the row's version moved under the second."""
    return handle_domain_error(
        Conflict("This record was changed by someone else at the same moment. Reload it.")
    )


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return handle_http_exception(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(Exception, handle_unexpected)
