"""JSON shapes for email settings and the outbox."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from academy.core.api import RequestSchema, Text
from academy.core.pagination import PageArgs
from academy.notifications.models import OUTBOX_STATUSES
from academy.notifications.preferences import OPTIONAL


def _known_category(value: str) -> None:
    if value not in OPTIONAL:
        raise ValidationError(f"Not an email you can turn off. Choose from: {', '.join(OPTIONAL)}.")


class EmailPreferencesInSchema(RequestSchema):
    opt_outs = fields.List(
        fields.String(validate=_known_category, metadata={"enum": list(OPTIONAL)}),
        required=True,
        metadata={
            "description": "The optional emails you do not want; every other optional email is "
            "turned back on. Receipts, password resets, invitations, release notices, extension "
            "decisions and credential changes always go."
        },
    )


class EmailPreferencesSchema(Schema):
    opt_outs = fields.List(fields.String(), metadata={"description": "Optional emails turned off"})
    categories = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Every optional email, by name, with what it is"},
    )


def preferences_body(user) -> dict:
    return {"opt_outs": list(user.email_opt_outs or []), "categories": dict(OPTIONAL)}


class OutboxListArgs(PageArgs):
    status = fields.String(
        validate=validate.OneOf(OUTBOX_STATUSES), metadata={"enum": list(OUTBOX_STATUSES)}
    )
    q = Text(
        validate=validate.Length(max=254),
        metadata={"description": "Only messages whose recipient's address contains this"},
    )


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    recipient = fields.String()
    user_id = fields.Integer(allow_none=True)
    subject = fields.String()
    template = fields.String()
    category = fields.String()
    status = fields.String(metadata={"enum": list(OUTBOX_STATUSES)})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    last_error = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OutboxMessageDetailSchema(OutboxMessageSchema):
    text_body = fields.String(metadata={"description": "The plain-text body as sent"})
    context = fields.Dict(metadata={"description": "What the message is about: ids and titles"})
    message_id = fields.String(metadata={"description": "The Message-ID header"})


class RetrySchema(RequestSchema):
    """No fields: send `{}` or no body at all."""
