"""/api/v1 trust dashboards: what a sponsor's dashboard shows, for HR and reporting tools.

The organisation loads through the reporting policy (another trust's id, or one whose sponsor
role has ended, answers 404), and the answer is built from the same organisation report as the
HTML dashboard, in a fixed number of queries.
"""

from __future__ import annotations

from flask import abort
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.core.api import ID, documented_errors
from academy.extensions import db
from academy.organisations.models import Organisation
from academy.reporting.policy import can_view_organisation_reports
from academy.reporting.progress import organisation_report
from academy.reporting.schemas import DashboardSchema, dashboard_body

blp = Blueprint("reporting_api", __name__, description="Trust dashboards")


@blp.get(f"/organisations/<{ID}:organisation_id>/dashboard")
@blp.response(200, DashboardSchema)
@documented_errors(blp, 401, 404)
def get_dashboard(organisation_id):
    """A trust's dashboard (its sponsors and admins): sponsored enrolments by status and by
    progress, the learners at risk and why, every learner's progress, credentials held, expiring
    and expired, coverage against `credential_target`, and the 12-month trend. Marks only for
    learners who share them with their sponsor. Anyone else: 404."""
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not can_view_organisation_reports(api_user(), organisation):
        abort(404)
    return dashboard_body(organisation_report(organisation))
