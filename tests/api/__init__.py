"""Tests of the JSON API at /api/v1, over HTTP."""

from __future__ import annotations

from werkzeug.http import HTTP_STATUS_CODES


def assert_error(response, status: int, *fields: str) -> dict:
    """The response is the contract's JSON error for `status`, naming `fields` in `errors`."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == status
    assert body["status"] == HTTP_STATUS_CODES[status]
    assert isinstance(body["message"], str) and body["message"]
    for field in fields:
        assert field in body.get("errors", {}), body
    return body
