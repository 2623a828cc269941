"""JSON shapes for organisations."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from academy.core.api import RequestSchema, Text, not_blank
from academy.organisations.models import NATIONS, REGIONS, SECTORS

#: Far above any real target; keeps absurd numbers away from the database's integer column.
MAX_CREDENTIAL_TARGET = 100_000


class OrganisationSchema(Schema):
    id = fields.Integer()
    ods_code = fields.String(metadata={"description": "NHS ODS code, upper case"})
    name = fields.String()
    sector = fields.String(metadata={"enum": list(SECTORS)})
    nation = fields.String(metadata={"enum": list(NATIONS)})
    region = fields.String(
        allow_none=True,
        metadata={"enum": list(REGIONS), "description": "NHS England region; null outside England"},
    )
    credential_target = fields.Integer(
        metadata={"description": "Credentialed clinician-informaticians the organisation aims for"}
    )
    version = fields.Integer(metadata={"description": "Send it back on PATCH"})


def _region():
    # "" and null both mean no region, so a form-like client can send the empty choice.
    return fields.String(
        allow_none=True,
        validate=validate.OneOf([*REGIONS, ""]),
        metadata={
            "enum": list(REGIONS),
            "description": "NHS England region, only for organisations in England; null for none",
        },
    )


def _credential_target(**kwargs):
    return fields.Integer(
        strict=True, validate=validate.Range(min=0, max=MAX_CREDENTIAL_TARGET), **kwargs
    )


class OrganisationCreateSchema(RequestSchema):
    ods_code = Text(required=True, validate=validate.Length(max=20))
    name = Text(required=True, validate=[validate.Length(max=200), not_blank])
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    nation = fields.String(required=True, validate=validate.OneOf(NATIONS))
    region = _region()
    credential_target = _credential_target(allow_none=True, metadata={"description": "Default 5"})


class OrganisationUpdateSchema(RequestSchema):
    ods_code = Text(validate=validate.Length(max=20))
    name = Text(validate=[validate.Length(max=200), not_blank])
    sector = fields.String(validate=validate.OneOf(SECTORS))
    nation = fields.String(validate=validate.OneOf(NATIONS))
    region = _region()
    credential_target = _credential_target()
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )
