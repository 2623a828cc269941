"""JSON shapes for tokens, users and roles.

User output is split by audience (DESIGN.md convention 7): `UserSchema` holds the fields API.md
names and is all a sponsor or tutor receives; `MeSchema` adds the caller's own current roles;
`AdminUserSchema` adds the version, every role assignment (ended ones too) and sign-in times.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_dump, validate

from academy.auth.models import ROLES
from academy.auth.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from academy.auth.services import MAX_TOKEN_DAYS, TOKEN_SCOPES
from academy.core import clock
from academy.core.api import Id, RequestSchema, Text, not_blank
from academy.core.pagination import PageArgs

# --- tokens ------------------------------------------------------------------------------------


class TokenRequestSchema(RequestSchema):
    email = Text(required=True, validate=validate.Length(max=254))
    password = Text(required=True, validate=validate.Length(max=PASSWORD_MAX_LENGTH))
    otp = Text(
        load_default=None,
        validate=validate.Length(max=64),
        metadata={
            "description": "Accounts with two-factor authentication: the 6-digit code the "
            "authenticator app shows now, or an unused recovery code"
        },
    )
    label = Text(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "A name to recognise the token by, e.g. the script using it"},
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(list(TOKEN_SCOPES))),
        load_default=lambda: list(TOKEN_SCOPES),
        validate=validate.Length(min=1, error="Choose at least one scope"),
        metadata={
            "description": "What the token may do: "
            + "; ".join(f"`{name}`: {what}" for name, what in TOKEN_SCOPES.items())
            + ". Both unless you say otherwise."
        },
    )
    days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_TOKEN_DAYS),
        metadata={"description": "How many days the token lasts; the academy's default if unset"},
    )


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    token = fields.String(
        required=True,
        metadata={"description": "The secret: shown only now; send it as `Bearer <token>`"},
    )
    expires_at = fields.DateTime(required=True)
    scopes = fields.List(fields.String(), required=True)


class TokenInfoSchema(Schema):
    """A token as listed: everything but the secret, which is never stored."""

    id = fields.Integer(required=True)
    label = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)


class SignOutEverywhereSchema(RequestSchema):
    revoke_tokens = fields.Boolean(
        load_default=False,
        metadata={"description": "Also revoke every API token (this one included)"},
    )


class SignOutEverywhereResultSchema(Schema):
    tokens_revoked = fields.Integer(required=True)


# --- roles -------------------------------------------------------------------------------------


class RoleSchema(Schema):
    id = fields.Integer()
    role = fields.String(metadata={"enum": list(ROLES)})
    organisation_id = fields.Integer(allow_none=True)
    cohort_id = fields.Integer(allow_none=True)
    programme_id = fields.Integer(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True, metadata={"description": "Inclusive; null is open"})
    current = fields.Function(
        lambda assignment: assignment.is_current(clock.today()),
        metadata={"type": "boolean", "description": "Held today (started, not ended)"},
    )
    ended_at = fields.DateTime(
        allow_none=True, metadata={"description": "When an admin ended the role early"}
    )


class RoleGrantSchema(RequestSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    organisation_id = Id(allow_none=True, metadata={"description": "Required for sponsors"})
    cohort_id = Id(allow_none=True, metadata={"description": "Tutors: the cohort taught"})
    programme_id = Id(allow_none=True, metadata={"description": "Examiners: the programme"})
    valid_from = fields.Date(allow_none=True, metadata={"description": "Default: today"})
    valid_to = fields.Date(allow_none=True, metadata={"description": "Inclusive; null is open"})


# --- users -------------------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    organisation_id = fields.Integer(allow_none=True)
    professional_registration = fields.String(allow_none=True)
    staff_number = fields.String(allow_none=True)
    active = fields.Boolean()


class MeSchema(UserSchema):
    shares_marks_with_sponsor = fields.Boolean(
        metadata={"description": "Whether the caller lets their sponsors see marks and feedback"}
    )
    roles = fields.List(
        fields.Nested(RoleSchema),
        metadata={"description": "Role assignments held today"},
    )

    @post_dump
    def keep_current_roles(self, data, **kwargs):
        if "roles" in data:
            data["roles"] = [role for role in data["roles"] if role["current"]]
        return data


class AdminUserSchema(UserSchema):
    version = fields.Integer(metadata={"description": "Admins only: send it back on PATCH"})
    roles = fields.List(
        fields.Nested(RoleSchema),
        metadata={"description": "Admins only: every role assignment, ended ones included"},
    )
    last_login_at = fields.DateTime(allow_none=True, metadata={"description": "Admins only"})
    created_at = fields.DateTime(metadata={"description": "Admins only"})
    updated_at = fields.DateTime(metadata={"description": "Admins only"})


_email = {"required": True, "validate": validate.Length(max=254)}
_optional_text = {"allow_none": True, "validate": validate.Length(max=32)}


class UserCreateSchema(RequestSchema):
    email = fields.Email(**_email)
    name = Text(required=True, validate=[validate.Length(max=200), not_blank])
    password = Text(
        allow_none=True,
        metadata={"description": "At least 12 characters. Leave out to email an invitation"},
    )
    organisation_id = Id(allow_none=True, metadata={"description": "Employing organisation"})
    professional_registration = Text(**_optional_text)
    staff_number = Text(**_optional_text)


class UserUpdateSchema(RequestSchema):
    email = fields.Email(validate=validate.Length(max=254))
    name = Text(validate=[validate.Length(max=200), not_blank])
    organisation_id = Id(allow_none=True)
    professional_registration = Text(**_optional_text)
    staff_number = Text(**_optional_text)
    active = fields.Boolean()
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )


class UserListArgs(PageArgs):
    q = Text(
        validate=validate.Length(max=254),
        metadata={"description": "Part of the name or email address (any case)"},
    )
    organisation_id = Id(strict=False)
    role = fields.String(
        validate=validate.OneOf(ROLES), metadata={"description": "Holds this role today"}
    )


class MarksSharingSchema(RequestSchema):
    shares_marks_with_sponsor = fields.Boolean(
        required=True,
        metadata={
            "description": "Let the organisations sponsoring your enrolments see your marks and "
            "feedback (they always see pass/fail, credits and credentials)"
        },
    )
