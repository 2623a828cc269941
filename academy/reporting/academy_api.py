"""/api/v1/reports/...: the academy reports as JSON, for admins' own analysis tools.

The same tables as the HTML pages and their CSV files, with raw numbers: counts as integers,
rates as a fraction of 1 (null where there is nothing to work one out from), medians in working
days. Everyone but admins is refused (403): the reports cover the whole academy.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from academy.core.api import Id, RequestSchema, documented_errors, requires
from academy.credentials.models import KINDS
from academy.reporting.academy_reports import EARLIEST, LATEST, ReportFilters, build_report
from academy.reporting.policy import can_view_academy_reports

blp = Blueprint("academy_reports_api", __name__, description="Academy reports (admins)")

admins_only = requires(can_view_academy_reports, "Only academy admins can see academy reports.")


class ReportColumnSchema(Schema):
    key = fields.String()
    label = fields.String(metadata={"description": "The column's heading on the page and in CSV"})
    kind = fields.String(metadata={"enum": ["text", "count", "rate", "days"]})


class ReportTableSchema(Schema):
    key = fields.String(metadata={"description": "e.g. cohorts, modules, regions"})
    caption = fields.String()
    columns = fields.List(fields.Nested(ReportColumnSchema))
    rows = fields.Function(
        lambda table: table.records(),
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "One object per row, keyed by column key; rates are fractions of 1",
        },
    )


class AcademyReportSchema(Schema):
    key = fields.String()
    title = fields.String()
    generated_at = fields.DateTime()
    tables = fields.List(fields.Nested(ReportTableSchema))


def _day(description: str):
    return fields.Date(
        validate=validate.Range(min=EARLIEST, max=LATEST), metadata={"description": description}
    )


class CohortReportArgs(RequestSchema):
    programme_id = Id(strict=False)
    cohort_id = Id(strict=False)
    date_from = _day("First day of the range, included")
    date_to = _day("Last day of the range, included")


class CredentialReportArgs(RequestSchema):
    kind = fields.String(validate=validate.OneOf(KINDS))


def _report(key: str, args: dict):
    return build_report(key, ReportFilters(**args))


@blp.get("/reports/completion")
@admins_only
@blp.arguments(CohortReportArgs, location="query")
@blp.response(200, AcademyReportSchema)
@documented_errors(blp, 401, 403, 422)
def completion_report(args):
    """Completion and pass rates by cohort and by module. The date range picks cohorts by
    their start date."""
    return _report("completion", args)


@blp.get("/reports/feedback-turnaround")
@admins_only
@blp.arguments(CohortReportArgs, location="query")
@blp.response(200, AcademyReportSchema)
@documented_errors(blp, 401, 403, 422)
def feedback_turnaround_report(args):
    """Marks released within the cohort's working-day target, by cohort and by module. The
    date range picks work by the day it was submitted."""
    return _report("feedback-turnaround", args)


@blp.get("/reports/credentials")
@admins_only
@blp.arguments(CredentialReportArgs, location="query")
@blp.response(200, AcademyReportSchema)
@documented_errors(blp, 401, 403, 422)
def credentials_report(args):
    """Credentials held, issued this year, revoked, expired and suspended, by the region,
    sector and nation of the holder's employer."""
    return _report("credentials", args)


@blp.get("/reports/extensions")
@admins_only
@blp.arguments(CohortReportArgs, location="query")
@blp.response(200, AcademyReportSchema)
@documented_errors(blp, 401, 403, 422)
def extensions_report(args):
    """Submissions, late submissions and extension requests with their decisions, by cohort
    and by module. The date range picks assignments by their due date."""
    return _report("extensions", args)
