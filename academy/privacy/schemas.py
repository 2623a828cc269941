"""JSON shapes for erasure. The export is a ZIP, described in academy.privacy.api."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from academy.core.api import RequestSchema, Text, not_blank
from academy.privacy.services import MAX_REASON


class EraseSchema(RequestSchema):
    confirm_email = Text(
        required=True,
        validate=validate.Length(max=254),
        metadata={"description": "The person's email address, to confirm who is erased"},
    )
    reason = Text(
        required=True,
        validate=[validate.Length(max=MAX_REASON), not_blank],
        metadata={
            "description": "Why, e.g. the request's reference. Kept in the audit log, so it "
            "should not name the person"
        },
    )


class ErasedSchema(Schema):
    user_id = fields.Integer()
    name = fields.String(metadata={"description": "The anonymous name the record keeps"})
    erased_at = fields.DateTime()
    summary = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "How many of each thing were deleted, withdrawn or ended"},
    )
