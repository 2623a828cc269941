"""JSON shapes for CPD records: a learner's own entries, their Academy study lines and totals.

One record shape for the learner and for admins reading it: there is nothing in it one may see
and the other not. Academy study lines carry outcomes, never marks.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from academy.core.api import RequestSchema, Text
from academy.cpd.models import CPD_ACTIVITY_TYPES, CpdEntry
from academy.cpd.record import OUTCOMES, CpdRecord, CpdYear, Hours
from academy.cpd.services import MAX_PROVIDER, MAX_REFLECTION, MAX_TITLE
from academy.credentials.document import public_url
from academy.marking.schemas import Number, Version

# --- requests ----------------------------------------------------------------------------------


class YearArg(fields.String):
    """`2026` for the CPD year 1 April 2026 to 31 March 2027, or `all`."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return CpdYear.parse(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError("Give a year such as 2026, or all.") from exc


class RecordArgs(RequestSchema):
    year = YearArg(
        load_default=None,
        metadata={
            "description": "The CPD year: `2026` is 1 April 2026 to 31 March 2027. Left out or "
            "`all`: every year.",
            "example": "2026",
        },
    )


class EntryWriteSchema(RequestSchema):
    title = Text(
        required=True,
        validate=validate.Length(max=MAX_TITLE),
        metadata={"example": "NHS ConfedExpo 2026"},
    )
    activity_type = fields.String(
        required=True,
        metadata={
            "enum": list(CPD_ACTIVITY_TYPES),
            "description": ", ".join(f"`{k}` {v.lower()}" for k, v in CPD_ACTIVITY_TYPES.items()),
        },
    )
    provider = Text(load_default="", validate=validate.Length(max=MAX_PROVIDER))
    started_on = fields.Date(required=True, metadata={"description": "Not in the future"})
    ended_on = fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "On or after `started_on`, not in the future; null for a day"},
    )
    hours = Number(
        required=True,
        metadata={
            "type": "number",
            "description": "More than 0 and at most 1,000, to at most one decimal place",
            "example": 1.5,
        },
    )
    reflection = Text(
        load_default="",
        validate=validate.Length(max=MAX_REFLECTION),
        metadata={"description": "Plain text: what was learned and how it changes practice"},
    )


class EntryUpdateSchema(EntryWriteSchema):
    version = Version(
        required=True, metadata={"description": "The entry's `version` you read; stale is 409"}
    )


# --- output ------------------------------------------------------------------------------------


class EntrySchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    title = fields.String()
    activity_type = fields.String(metadata={"enum": list(CPD_ACTIVITY_TYPES)})
    activity_label = fields.String()
    provider = fields.String()
    started_on = fields.Date()
    ended_on = fields.Date(allow_none=True)
    hours = fields.Float()
    reflection = fields.String()
    cpd_year = fields.Integer(
        metadata={"description": "The CPD year it counts in: 2026 is 1 April 2026 to 31 March 2027"}
    )
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AcademyStudySchema(Schema):
    module_id = fields.Integer()
    module_code = fields.String()
    module_title = fields.String()
    cohort_id = fields.Integer()
    cohort_name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    credits = fields.Integer()
    hours = fields.Float(metadata={"description": "Notional hours: 10 per credit"})
    outcome = fields.String(
        metadata={
            "enum": list(OUTCOMES),
            "description": "From released results only; marks are never given here",
        }
    )
    cpd_year = fields.Integer()
    credential_url = fields.String(
        allow_none=True, metadata={"description": "The public page of the module credential"}
    )


class HoursSchema(Schema):
    academy = fields.Float()
    self_logged = fields.Float()
    total = fields.Float()


class TotalsSchema(Schema):
    period = fields.Nested(HoursSchema, metadata={"description": "In the year asked for"})
    current_year = fields.Nested(HoursSchema)
    all_time = fields.Nested(HoursSchema)


class RecordSchema(Schema):
    user_id = fields.Integer()
    year = fields.Integer(
        allow_none=True, metadata={"description": "The CPD year asked for; null for all years"}
    )
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    current_year = fields.Integer(metadata={"description": "Today's CPD year"})
    totals = fields.Nested(TotalsSchema)
    academy_study = fields.List(fields.Nested(AcademyStudySchema))
    entries = fields.List(fields.Nested(EntrySchema))


# --- builders ----------------------------------------------------------------------------------


def entry(row: CpdEntry) -> dict:
    return EntrySchema().dump(
        {
            "id": row.id,
            "user_id": row.user_id,
            "title": row.title,
            "activity_type": row.activity_type,
            "activity_label": row.activity_label,
            "provider": row.provider,
            "started_on": row.started_on,
            "ended_on": row.ended_on,
            "hours": float(row.hours),
            "reflection": row.reflection,
            "cpd_year": CpdYear.of(row.started_on).start,
            "version": row.version,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def _hours(totals: Hours) -> dict:
    return {
        "academy": float(totals.academy),
        "self_logged": float(totals.self_logged),
        "total": float(totals.total),
    }


def record(data: CpdRecord) -> dict:
    body = RecordSchema().dump(
        {
            "user_id": data.owner.id,
            "year": data.period.start if data.period else None,
            "period_start": data.period.first_day if data.period else None,
            "period_end": data.period.last_day if data.period else None,
            "current_year": data.current_year.start,
            "totals": {
                "period": _hours(data.in_period),
                "current_year": _hours(data.this_year),
                "all_time": _hours(data.all_time),
            },
            "academy_study": [
                {
                    "module_id": line.module_id,
                    "module_code": line.module_code,
                    "module_title": line.module_title,
                    "cohort_id": line.cohort_id,
                    "cohort_name": line.cohort_name,
                    "starts_on": line.starts_on,
                    "ends_on": line.ends_on,
                    "credits": line.credits,
                    "hours": float(line.hours),
                    "outcome": line.outcome,
                    "cpd_year": CpdYear.of(line.starts_on).start,
                    "credential_url": public_url(line.credential) if line.credential else None,
                }
                for line in data.academy
            ],
        }
    )
    body["entries"] = [entry(row) for row in data.entries]
    return body
