"""What every flask-smorest blueprint under /api/v1 shares: strict request schemas, field types
that cannot reach the database with values it refuses, and the documented error responses."""

from __future__ import annotations

from functools import wraps
from http import HTTPStatus

from flask import abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import RAISE, Schema, ValidationError, fields, validate

#: Ids are PostgreSQL `integer`s; anything larger never names a row and must not reach a query.
MAX_ID = 2**31 - 1
#: Route converter for ids, e.g. f"/users/<{ID}:user_id>": other values answer 404 by routing.
ID = f"int(min=1, max={MAX_ID})"


class RequestSchema(Schema):
    """A request body or query: unknown fields are an error, so typos are not silently dropped."""

    class Meta:
        unknown = RAISE


class Text(fields.String):
    """A string PostgreSQL can store: it refuses NUL characters with an error, not a 422."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        return text


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class Id(fields.Integer):
    """A row id within the database's integer range. Strict (a JSON number, not "5") except in
    query strings, where every value is text."""

    def __init__(self, *, strict: bool = True, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(strict=strict, **kwargs)


class StaleVersionSchema(ErrorSchema):
    """The 409 for a stale `version`: the usual error body plus the record as it is now."""

    current = fields.Dict(metadata={"description": "The record as it is now, with its version"})


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def documented_errors(blp, *codes: int):
    """Document the error answers a view can give, as references to flask-smorest's shared
    responses, whose `Error` schema is the `{code, status, message, errors}` body that
    academy.core.errors builds."""

    def decorator(func):
        for code in codes:
            if code == 429:
                func = blp.alt_response(
                    429, schema=ErrorSchema, description="Too many attempts", headers=RETRY_AFTER
                )(func)
            else:
                func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
        return func

    return decorator


def stale_version(blp):
    """Document a 409 that carries the current state (a write sent an old `version`)."""
    return blp.alt_response(
        409,
        schema=StaleVersionSchema,
        description="Stale `version` (the body has the current state in `current`) or a duplicate",
    )


def requires(allowed, message: str):
    """A coarse role gate for a view: `allowed(caller)` or 403, checked before the body is even
    parsed, so a caller who may never use an endpoint learns nothing more from it. Place it under
    the route decorator, above `@blp.arguments`."""

    def decorator(view):
        @wraps(view)
        def gated(*args, **kwargs):
            from academy.auth.api_auth import api_user

            if not allowed(api_user()):
                abort(403, description=message)
            return view(*args, **kwargs)

        return gated

    return decorator
