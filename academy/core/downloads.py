"""Stored files sent back to people: always as an attachment under the name they were given."""

from __future__ import annotations

from flask import Response, send_file

from academy.core.storage import storage


def send_stored_file(
    sha256: str, name: str, mimetype: str | None, *, etag: bool = False
) -> Response:
    """The stored bytes of `sha256` as a download called `name`.

    Never shown inline and never sniffed, so an upload cannot run as a page of this site; never
    cached, as files are people's work or course material behind a sign-in. Werkzeug writes
    `filename*` (RFC 5987) for names that are not ASCII. With `etag` (the API's downloads) the
    file's SHA-256 is its ETag and every request is answered in full; without, it goes out as the
    pages send files. A missing blob raises storage's FileNotFoundError (ValueError for a
    malformed digest) for the caller to answer.
    """
    response = send_file(
        storage().open(sha256),
        mimetype=mimetype or "application/octet-stream",
        as_attachment=True,
        download_name=name,
        **({"etag": sha256, "conditional": False} if etag else {"max_age": 0}),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
