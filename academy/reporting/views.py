"""The sponsor's trust dashboard: who is on track and who needs help, which credentials the
trust's people hold and when they expire, and how far the trust is from its target; and one
sponsored learner's page behind it.

Organisations load through the reporting policy: another trust's id answers 404, never 403, and
so does an organisation whose sponsor role has ended. Everything shown comes from
academy.reporting.progress, which reads a fixed number of queries whatever the trust's size.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user

from academy.cohorts.services import STATUS_LABELS as ENROLMENT_STATUSES
from academy.core.access import guard, require
from academy.core.api import ID
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.core.policy import is_admin, sponsored_organisation_ids
from academy.extensions import db
from academy.organisations.models import Organisation
from academy.reporting import charts
from academy.reporting.learner import learner_record
from academy.reporting.policy import (
    can_view_organisation_reports,
    report_organisations,
    sees_dashboards,
)
from academy.reporting.progress import PROGRESS_STATUSES, OrganisationReport, organisation_report

bp = Blueprint("reporting", __name__)
guard(bp)

add_nav_item("Trust dashboard", "reporting.index", sees_dashboards, "reporting.")

#: NHS.UK tag colours for the headline statuses; each tag also says its status in words.
PROGRESS_COLOURS = {
    "at_risk": "red",
    "missing": "orange",
    "late": "yellow",
    "on_track": "green",
    "finished": "grey",
}
WORK_COLOURS = {"on_time": "green", "late": "orange", "missing": "red", "upcoming": "grey"}


def organisation_or_404(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not can_view_organisation_reports(current_user, organisation):
        abort(404)
    return organisation


def export_links(organisation: Organisation) -> list[tuple[str, str]]:
    """(text, href) of the downloads and settings this organisation's dashboard offers."""
    wanted = [
        ("Staff credentials (CSV)", "reporting_exports.staff_credentials", "csv"),
        ("Staff credentials (Excel)", "reporting_exports.staff_credentials", "xlsx"),
        ("Learners’ progress (CSV)", "reporting_exports.progress", "csv"),
        ("Learners’ progress (Excel)", "reporting_exports.progress", "xlsx"),
    ]
    links = [
        (text, url_for(endpoint, organisation_id=organisation.id, fmt=fmt))
        for text, endpoint, fmt in wanted
    ]
    links.append(
        (
            "What the exports contain",
            url_for("reporting_exports.index", organisation_id=organisation.id),
        )
    )
    # Summary emails go to sponsors; an admin looking at any trust has none to set.
    if organisation.id in sponsored_organisation_ids(current_user):
        links.append(("Summary emails", url_for("reporting_exports.subscriptions")))
    return links


def progress_chart(report: OrganisationReport) -> charts.Chart:
    points = [(label, report.by_progress.get(key, 0)) for key, label in PROGRESS_STATUSES.items()]
    summary = ", ".join(f"{label}: {count}" for label, count in points)
    return charts.bar_chart(
        "progress-chart",
        title="Learners by progress",
        description=f"How many sponsored learners are in each progress status. {summary}.",
        category_label="Progress",
        value_label="Learners",
        points=points,
    )


def trend_chart(report: OrganisationReport) -> charts.Chart:
    points = [(f"{month:%b %Y}", count) for month, count in report.credentials.trend]
    first, last = points[0], points[-1]
    return charts.line_chart(
        "trend-chart",
        title="Credentialed staff over the last 12 months",
        description=(
            "Staff holding a valid award credential at the end of each month: "
            f"{first[1]} in {first[0]} and {last[1]} in {last[0]}, "
            f"against a target of {report.credentials.target}."
        ),
        category_label="Month",
        value_label="Credentialed staff",
        points=points,
    )


@bp.get("/organisations/dashboards")
def index():
    require(sees_dashboards)
    page = page_of(report_organisations(current_user))
    if page.total == 1 and not is_admin(current_user):
        return redirect(url_for(".dashboard", organisation_id=page.items[0].id))
    return render_template("reporting/index.html", page=page)


@bp.get(f"/organisations/<{ID}:organisation_id>/dashboard")
def dashboard(organisation_id: int):
    organisation = organisation_or_404(organisation_id)
    report = organisation_report(organisation)
    credentials = report.credentials
    return render_template(
        "reporting/dashboard.html",
        organisation=organisation,
        report=report,
        learner_count=len({learner.user.id for learner in report.learners}),
        enrolment_statuses=ENROLMENT_STATUSES,
        progress_statuses=PROGRESS_STATUSES,
        progress_colours=PROGRESS_COLOURS,
        coverage_meter=charts.meter(
            "coverage-meter",
            title=f"Coverage: {credentials.coverage_text}",
            value=len(credentials.credentialed_user_ids),
            target=credentials.target,
        ),
        progress_chart=progress_chart(report),
        trend_chart=trend_chart(report),
        exports=export_links(organisation),
        any_marks=any(learner.marks is not None for learner in report.learners),
    )


@bp.get(f"/organisations/<{ID}:organisation_id>/learners/<{ID}:user_id>")
def learner(organisation_id: int, user_id: int):
    organisation = organisation_or_404(organisation_id)
    record = learner_record(organisation, user_id)
    if record is None:
        abort(404)
    return render_template(
        "reporting/learner.html",
        organisation=organisation,
        record=record,
        progress_colours=PROGRESS_COLOURS,
        work_colours=WORK_COLOURS,
    )
