"""JSON shapes for credentials: the list and detail, the reasons for revoking, suspending and
reinstating, and external credentials recorded as JSON or as a form with an evidence file.

The builders at the bottom make the output, so the signed document only ever goes out on the
detail shape, and external credentials never get a public verification link.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, pre_load, validate
from werkzeug.datastructures import FileStorage

from academy.core.api import Id, RequestSchema, Text
from academy.core.calendar import UK_TIME
from academy.core.pagination import PageArgs
from academy.core.urls import external_url
from academy.credentials.document import public_url
from academy.credentials.models import KINDS, VERIFICATIONS, Credential
from academy.credentials.services import EVIDENCE_MAX_MB, EVIDENCE_TYPES, REASON_MAX

STATUSES = ("valid", "expired", "revoked", "suspended")
#: Award and expiry dates outside these years are typing mistakes.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


# --- requests ----------------------------------------------------------------------------------


class CredentialListArgs(PageArgs):
    user_id = Id(strict=False, metadata={"description": "Only this learner's credentials"})
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"enum": list(KINDS)})
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={"enum": list(STATUSES), "description": "The status as it is now"},
    )


class CredentialReasonSchema(RequestSchema):
    reason = Text(
        required=True,
        validate=validate.Length(max=REASON_MAX),
        metadata={"description": "Why; shown on the public verification page and audited"},
    )


class VerifySchema(RequestSchema):
    """No fields: send `{}` or no body at all."""


class CalendarDate(fields.Date):
    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise ValidationError(f"Must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}.")
        return day


class ExternalCredentialSchema(RequestSchema):
    title = Text(required=True, validate=validate.Length(max=300))
    issuer = Text(
        required=True,
        validate=validate.Length(max=300),
        metadata={"description": "The awarding body"},
    )
    issued_on = CalendarDate(
        required=True, metadata={"description": "When it was awarded; not in the future"}
    )
    expires_on = CalendarDate(
        allow_none=True,
        load_default=None,
        metadata={"description": "The last day it is valid, after `issued_on`; null if never"},
    )


class EvidenceFile(Upload):
    default_error_messages = {"invalid": "Must be a file."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class ExternalCredentialUploadSchema(ExternalCredentialSchema):
    evidence = EvidenceFile(
        allow_none=True,
        load_default=None,
        metadata={
            "description": f"Optional: {', '.join(EVIDENCE_TYPES)}, at most {EVIDENCE_MAX_MB} "
            "MB; the type is judged by the content"
        },
    )

    @pre_load
    def _empty_means_absent(self, data, **kwargs):
        """A form sends an empty expiry box as "" and no chosen file as a nameless part."""
        data = dict(data)
        if data.get("expires_on") == "":
            data["expires_on"] = None
        evidence = data.get("evidence")
        if isinstance(evidence, FileStorage) and not evidence.filename:
            data["evidence"] = None
        return data


# --- responses ---------------------------------------------------------------------------------


class CredentialEvidenceSchema(Schema):
    name = fields.String()
    sha256 = fields.String()
    url = fields.String(metadata={"description": "Download it (as an attachment)"})


class CredentialSchema(Schema):
    id = fields.Integer()
    uuid = fields.String(metadata={"description": "The identifier in public links"})
    user_id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    title = fields.String()
    issuer_name = fields.String(
        metadata={"description": "The academy, or the awarding body of an external credential"}
    )
    issued_at = fields.DateTime(
        metadata={"description": "When issued; for an external credential, when recorded here"}
    )
    expires_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When it expires (null if never). For an external credential, the "
            "end of `expires_on` in the UK"
        },
    )
    status = fields.String(metadata={"enum": list(STATUSES)})
    public_url = fields.String(
        allow_none=True,
        metadata={"description": "The public verification page; null for external credentials"},
    )
    achievement_type = fields.String(
        allow_none=True, metadata={"description": "Course, Certificate or Diploma"}
    )
    classification = fields.String(
        allow_none=True, metadata={"description": "An award's class: Pass, Merit or Distinction"}
    )
    credits_earned = fields.Integer(allow_none=True)
    credits_available = fields.Integer(allow_none=True)
    module_id = fields.Integer(allow_none=True)
    programme_id = fields.Integer(allow_none=True)
    cohort_id = fields.Integer(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    suspended_at = fields.DateTime(allow_none=True)
    suspended_reason = fields.String(allow_none=True)
    issued_on = fields.Date(
        allow_none=True, metadata={"description": "External: the date it was awarded"}
    )
    expires_on = fields.Date(
        allow_none=True, metadata={"description": "External: the last day it is valid"}
    )
    verification = fields.String(
        allow_none=True,
        metadata={
            "enum": list(VERIFICATIONS),
            "description": "External: self_declared until an admin has checked the evidence",
        },
    )
    verified_at = fields.DateTime(allow_none=True)
    verified_by_id = fields.Integer(allow_none=True)
    recorded_by_id = fields.Integer(allow_none=True)
    evidence = fields.Nested(CredentialEvidenceSchema, allow_none=True)


class CredentialDetailSchema(CredentialSchema):
    document = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The signed Open Badges 3.0 credential as issued (null for external "
            "ones); revocation and suspension show in its status lists, not in it"
        },
    )


# --- builders ----------------------------------------------------------------------------------


def _external_expiry(expires_on: date | None) -> datetime | None:
    """An external credential is valid through its expiry date in the UK, so it expires at the
    start of the next UK day."""
    if expires_on is None or expires_on == date.max:
        return None
    next_day = datetime.combine(expires_on + timedelta(days=1), time.min, tzinfo=UK_TIME)
    return next_day.astimezone(UTC)


def _evidence(credential: Credential) -> dict | None:
    if credential.evidence_sha256 is None:
        return None
    return {
        "name": credential.evidence_name,
        "sha256": credential.evidence_sha256,
        "url": external_url("credentials_api.download_evidence", credential_id=credential.id),
    }


def credential_body(credential: Credential, *, with_document: bool = False) -> dict:
    issued = credential.is_issued
    body = {
        "id": credential.id,
        "uuid": credential.uuid,
        "user_id": credential.user_id,
        "kind": credential.kind,
        "title": credential.title,
        "issuer_name": credential.issuer_name,
        "issued_at": credential.issued_at,
        "expires_at": (
            credential.expires_at if issued else _external_expiry(credential.expires_on)
        ),
        "status": credential.status,
        "public_url": public_url(credential) if issued else None,
        "achievement_type": credential.achievement_type,
        "classification": credential.classification,
        "credits_earned": credential.credits_earned,
        "credits_available": credential.credits_available,
        "module_id": credential.module_id,
        "programme_id": credential.programme_id,
        "cohort_id": credential.cohort_id,
        "revoked_at": credential.revoked_at,
        "revoked_reason": credential.revoked_reason or None,
        "suspended_at": credential.suspended_at,
        "suspended_reason": credential.suspended_reason or None,
        "issued_on": credential.issued_on,
        "expires_on": credential.expires_on,
        "verification": credential.verification,
        "verified_at": credential.verified_at,
        "verified_by_id": credential.verified_by_id,
        "recorded_by_id": credential.recorded_by_id,
        "evidence": _evidence(credential),
    }
    if with_document:
        body["document"] = credential.document if issued else None
        return CredentialDetailSchema().dump(body)
    return CredentialSchema().dump(body)
