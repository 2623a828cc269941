"""Bearer-token authentication for `/api/v1`. The API never reads the HTML session cookie."""

from __future__ import annotations

from flask import abort, current_app, g, request

from academy.auth.models import User
from academy.extensions import db

#: What a token with only the "read" scope may send.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def public(view):
    """Mark an API view as callable without a token (token creation)."""
    view.academy_public = True
    return view


def api_user() -> User:
    """The user the current API request authenticated as."""
    return g.api_user


def authenticate_api_request():
    if not request.path.startswith("/api/v1/") or request.endpoint is None:
        return None
    if request.blueprint == "api-docs":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "academy_public", False):
        return None
    from academy.auth.services import usable_token

    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    token = usable_token(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
    if token is None:
        abort(401, description="Send a valid API token: Authorization: Bearer <token>.")
    if request.method not in READ_METHODS and "write" not in token.scopes:
        abort(403, description="This token may only read. Make a token with the write scope.")
    g.api_token = token
    g.api_user = token.user
    return None


def note_api_token_use(response):
    """Save the token's `last_used_at` once the request has succeeded. It is written here, after
    the view, because read-only requests never commit and a failed request rolls back."""
    token = g.get("api_token")
    if token is None or response.status_code >= 400:
        return response
    from academy.auth.services import note_token_use

    if note_token_use(token):
        db.session.commit()
    return response
