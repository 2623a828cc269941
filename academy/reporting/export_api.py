"""/api/v1 exports of an organisation's reports, for HR systems (ESR) and reporting tools, and the
caller's choice of summary emails.

Exports are the same files the pages download: CSV streamed (UTF-8 with a byte-order mark) or
XLSX, keyed by staff number, with cells that a spreadsheet could run as formulas neutralised.
The organisation loads through the reporting policy: another trust's id, or one whose sponsor
role has ended, answers 404.
"""

from __future__ import annotations

from flask import abort, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from academy.audit import services as audit
from academy.auth.api_auth import api_user
from academy.core import clock
from academy.core.api import ID, Id, RequestSchema, documented_errors, stale_version
from academy.core.calendar import uk_date
from academy.core.spreadsheets import CSV_MIMETYPE, XLSX_MIMETYPE, spreadsheet_response
from academy.extensions import db
from academy.marking.schemas import Version
from academy.organisations.models import Organisation
from academy.reporting import exports, scheduled
from academy.reporting.models import FREQUENCIES
from academy.reporting.policy import can_view_organisation_reports

blp = Blueprint(
    "reporting_exports_api",
    __name__,
    description="Organisations' reports as CSV and Excel files, and sponsors' summary emails",
)

STAFF_CREDENTIALS = (
    "One row per credential held by the organisation's staff or the learners it sponsors, in "
    "every status. Columns: "
    + ", ".join(f"`{c.header}` ({c.description})" for c in exports.STAFF_CREDENTIAL_COLUMNS)
    + "."
)
PROGRESS = (
    "One row per enrolment the organisation sponsors, at-risk learners first. Columns: "
    + ", ".join(f"`{c.header}` ({c.description})" for c in exports.PROGRESS_COLUMNS)
    + f", then `{exports.MARK_COLUMN.header}` columns: {exports.MARK_COLUMN.description}."
)
FORMATS = {
    "csv": (CSV_MIMETYPE, "CSV, UTF-8 with a byte-order mark, streamed"),
    "xlsx": (XLSX_MIMETYPE, "An Excel workbook of one sheet"),
}


def _download(export: str, organisation_id: int, fmt: str):
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not can_view_organisation_reports(api_user(), organisation):
        abort(404)
    now = clock.now()
    # Committed before the export is read, so the commit cannot expire what it loads.
    audit.record_export(export, actor=api_user(), obj=organisation, format=fmt, channel="api")
    db.session.commit()
    table = exports.build(export, organisation, now=now)
    return spreadsheet_response(
        table, fmt, exports.filename(organisation, export, fmt, uk_date(now))
    )


def _export_route(export: str, fmt: str, description: str):
    """The endpoint for one export in one format; the four differ only in these."""
    mimetype, format_text = FORMATS[fmt]

    def download(organisation_id):
        return _download(export, organisation_id, fmt)

    # flask-smorest names the endpoint, and the OpenAPI operation, after the function.
    download.__name__ = download.__qualname__ = f"{export.replace('-', '_')}_{fmt}"
    # flask-smorest takes the first paragraph as the summary, the rest as the description.
    download.__doc__ = (
        f"{exports.EXPORTS[export]} of an organisation as {fmt.upper()} (its sponsors and "
        f"admins; anyone else: 404)\n\n{description} Text cells starting with =, +, - or @ (or "
        "a tab or carriage return) begin with a single quote, so no spreadsheet runs them."
    )
    documented = documented_errors(blp, 401, 404)(download)
    documented = blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type=mimetype,
        description=f"{format_text}, as an attachment named like `RJ1-{export}-2026-11-22.{fmt}`",
    )(documented)
    return blp.get(f"/organisations/<{ID}:organisation_id>/reports/{export}.{fmt}")(documented)


staff_credentials_csv = _export_route("staff-credentials", "csv", STAFF_CREDENTIALS)
staff_credentials_xlsx = _export_route("staff-credentials", "xlsx", STAFF_CREDENTIALS)
progress_csv = _export_route("progress", "csv", PROGRESS)
progress_xlsx = _export_route("progress", "xlsx", PROGRESS)


# --- summary emails ----------------------------------------------------------------------------


class SubscriptionOrganisationSchema(Schema):
    id = fields.Integer()
    ods_code = fields.String()
    name = fields.String()


class SubscriptionSchema(Schema):
    organisation_id = fields.Integer()
    organisation = fields.Nested(SubscriptionOrganisationSchema)
    frequency = fields.String(metadata={"enum": list(FREQUENCIES)})
    version = fields.Integer(metadata={"description": "0 until you first choose"})
    last_sent_at = fields.DateTime(allow_none=True)


class SubscriptionChangeSchema(RequestSchema):
    organisation_id = Id(required=True)
    frequency = fields.String(
        required=True,
        validate=validate.OneOf(list(FREQUENCIES)),
        metadata={"enum": list(FREQUENCIES)},
    )
    version = Version(
        required=True, metadata={"description": "The `version` you read: 0 before any choice"}
    )


class SubscriptionsUpdateSchema(RequestSchema):
    subscriptions = fields.List(
        fields.Nested(SubscriptionChangeSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Organisations left out keep their choice"},
    )

    @validates_schema
    def one_each(self, data, **kwargs):
        ids = [item["organisation_id"] for item in data.get("subscriptions", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("Name each organisation once.", "subscriptions")


def _subscriptions_body(choices: list[scheduled.SubscriptionChoice]) -> list[dict]:
    return SubscriptionSchema(many=True).dump(
        [
            {
                "organisation_id": choice.organisation.id,
                "organisation": choice.organisation,
                "frequency": choice.frequency,
                "version": choice.version,
                "last_sent_at": choice.last_sent_at,
            }
            for choice in choices
        ]
    )


@blp.get("/me/report-subscriptions")
@blp.response(200, SubscriptionSchema(many=True))
@documented_errors(blp, 401)
def my_subscriptions():
    """Your summary emails: for each organisation you sponsor now, how often you get its summary
    (`off`, `weekly` or `monthly`; `monthly` until you choose). Not a sponsor: an empty list."""
    # A ready response, so the documented schema does not dump it again.
    return jsonify(_subscriptions_body(scheduled.subscription_choices(api_user())))


@blp.put("/me/report-subscriptions")
@blp.arguments(SubscriptionsUpdateSchema)
@blp.response(200, SubscriptionSchema(many=True))
@stale_version(blp)
@documented_errors(blp, 400, 401, 422)
def update_my_subscriptions(data):
    """Choose how often you get each organisation's summary, sending the `version` you read of
    each. Organisations left out keep their choice. An organisation you do not sponsor: 422; a
    stale `version`: 409 with your choices as they are now in `current`; either way nothing
    changes. Answers your summary emails as they now
    are."""
    caller = api_user()
    choices = {
        item["organisation_id"]: (item["frequency"], item["version"])
        for item in data["subscriptions"]
    }
    try:
        updated = scheduled.update_subscriptions(caller, choices, actor=caller)
    except scheduled.StaleSubscription as error:
        error.extra["current"] = _subscriptions_body(scheduled.subscription_choices(caller))
        raise
    db.session.commit()
    return jsonify(_subscriptions_body(updated))
