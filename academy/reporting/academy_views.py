"""HTML pages for the academy's own reports (admins) and tutors' caseloads.

The reports are the academy's, not any organisation's, so the section is all or nothing: admins
see every report and everyone else is refused (403). Each table downloads as a CSV of exactly
the cells on the page, with the same filters. A tutor's caseload shows only their own cohorts;
admins see every tutor's, and may pick one.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from academy.audit import services as audit
from academy.catalogue.models import Programme
from academy.cohorts.models import Cohort
from academy.core import clock
from academy.core import spreadsheets as sheets
from academy.core.access import guard, require
from academy.core.calendar import uk_date
from academy.core.errors import DomainError
from academy.core.forms import show_domain_error
from academy.core.navigation import add_nav_item
from academy.core.policy import is_admin
from academy.credentials.models import KINDS
from academy.extensions import db
from academy.reporting import charts
from academy.reporting.academy_reports import (
    REPORTS,
    AcademyReport,
    ReportFilters,
    ReportSpec,
    Table,
    build_report,
    caseloads,
    current_tutor_cohorts,
    tutors,
)
from academy.reporting.policy import can_view_academy_reports, has_caseload

bp = Blueprint("academy_reports", __name__)
guard(bp)

add_nav_item(
    "Academy reports", "academy_reports.reports", can_view_academy_reports, "academy_reports.report"
)
add_nav_item("Caseload", "academy_reports.caseload", has_caseload, "academy_reports.caseload")

KIND_LABELS = {
    "module": "Module passes",
    "award": "Awards (certificates and diplomas)",
    "external": "Credentials from elsewhere",
}


class ReportFilterForm(FlaskForm):
    """The filters above a report. Sent by GET, so bookmarkable, and changes nothing: no CSRF."""

    class Meta:
        csrf = False

    programme = SelectField(
        "Programme",
        validators=[Optional()],
        invalid_choice_message="Choose a programme from the list",
    )
    cohort = SelectField(
        "Cohort", validators=[Optional()], invalid_choice_message="Choose a cohort from the list"
    )
    date_from = DateField(
        "From", validators=[Optional()], invalid_value_message="Enter a real date, like 2027-01-31"
    )
    date_to = DateField(
        "To", validators=[Optional()], invalid_value_message="Enter a real date, like 2027-12-31"
    )
    kind = SelectField(
        "Kind of credential",
        choices=[SelectChoice("", "All kinds")]
        + [SelectChoice(kind, KIND_LABELS[kind]) for kind in KINDS],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of credential from the list",
    )

    def __init__(self, spec: ReportSpec, **kwargs):
        super().__init__(formdata=request.args, **kwargs)
        self.spec = spec
        # Fields a report does not use are dropped, so a stray parameter cannot narrow it.
        if spec.by_cohort:
            self._offer_programmes_and_cohorts()
        else:
            del self.programme, self.cohort
        if spec.date_meaning:
            self.date_from.label.text = f"{spec.date_meaning} from"
            self.date_to.label.text = f"{spec.date_meaning} up to"
        else:
            del self.date_from, self.date_to
        if not spec.by_kind:
            del self.kind

    def _offer_programmes_and_cohorts(self) -> None:
        programmes = db.session.execute(
            sa.select(Programme.id, Programme.title).order_by(Programme.title, Programme.id)
        ).all()
        cohorts = db.session.execute(
            sa.select(Cohort.id, Cohort.name, Programme.title)
            .join(Programme, Programme.id == Cohort.programme_id)
            .order_by(Programme.title, Cohort.starts_on, Cohort.name, Cohort.id)
        ).all()
        self.programme.choices = [SelectChoice("", "All programmes")] + [
            SelectChoice(str(programme_id), title) for programme_id, title in programmes
        ]
        self.cohort.choices = [SelectChoice("", "All cohorts")] + [
            SelectChoice(str(cohort_id), f"{title}: {name}") for cohort_id, name, title in cohorts
        ]

    def filters(self) -> ReportFilters:
        def number(name):
            field = self._fields.get(name)
            return int(field.data) if field is not None and field.data else None

        def value(name):
            field = self._fields.get(name)
            return (field.data or None) if field is not None else None

        return ReportFilters(
            programme_id=number("programme"),
            cohort_id=number("cohort"),
            date_from=value("date_from"),
            date_to=value("date_to"),
            kind=value("kind"),
        )

    def query_args(self) -> dict[str, str]:
        """The filters as they were sent, to carry into the CSV links."""
        return {name: request.args[name] for name in self._fields if request.args.get(name)}


def _spec_or_404(report_key: str) -> ReportSpec:
    spec = REPORTS.get(report_key)
    if spec is None:
        abort(404)
    return spec


def _report(spec: ReportSpec) -> tuple[ReportFilterForm, AcademyReport | None]:
    """The filter form and, when its values can be used, the report."""
    form = ReportFilterForm(spec)
    if not form.validate():
        return form, None
    try:
        return form, build_report(spec.key, form.filters())
    except DomainError as error:
        show_domain_error(form, error)
        return form, None


# --- charts -----------------------------------------------------------------------------------


def _whole_per_cent(rate) -> int:
    return round(rate.count * 100 / rate.out_of)


def _rate_chart(chart_id, table: Table, column: str, *, title: str, value_label: str):
    """Bars of one rate per cohort, in whole per cent, leaving out cohorts with nothing to
    work a rate from."""
    labels = [c.key for c in table.columns]
    index = labels.index(column)
    points = [(row[1], _whole_per_cent(row[index])) for row in table.rows if row[index].out_of]
    if not points:
        return None
    return charts.bar_chart(
        chart_id,
        title=title,
        description=f"{title}, in whole per cent, for "
        f"{len(points)} {'cohort' if len(points) == 1 else 'cohorts'}. "
        "The report's table gives each to one decimal place.",
        category_label="Cohort",
        value_label=value_label,
        points=points,
    )


def report_chart(report: AcademyReport):
    if report.key == "completion":
        return _rate_chart(
            "completion-chart",
            report.table("cohorts"),
            "completion_rate",
            title="Completion rate by cohort",
            value_label="Enrolments completed (%)",
        )
    if report.key == "feedback-turnaround":
        return _rate_chart(
            "turnaround-chart",
            report.table("cohorts"),
            "compliance",
            title="Feedback released within target by cohort",
            value_label="Marks released within target (%)",
        )
    if report.key == "extensions":
        return _rate_chart(
            "late-chart",
            report.table("cohorts"),
            "late_rate",
            title="Late submissions by cohort",
            value_label="Submissions handed in late (%)",
        )
    regions = report.table("regions")
    points = [(row[0], row[1]) for row in regions.rows if row[1]]
    if not points:
        return None
    return charts.bar_chart(
        "credentials-chart",
        title="Credentials held by region or nation",
        description=f"Valid credentials held by staff, by their employer’s NHS England region "
        f"(or nation outside England): {sum(value for _, value in points)} in all.",
        category_label="Region or nation",
        value_label="Credentials held",
        points=points,
    )


# --- pages ------------------------------------------------------------------------------------


@bp.get("/reports/academy")
def reports():
    require(can_view_academy_reports)
    return render_template("reporting/academy_index.html", reports=REPORTS.values())


@bp.get("/reports/academy/<report_key>")
def report(report_key: str):
    require(can_view_academy_reports)
    spec = _spec_or_404(report_key)
    form, built = _report(spec)
    return render_template(
        "reporting/academy_report.html",
        spec=spec,
        form=form,
        report=built,
        chart=report_chart(built) if built else None,
        query_args=form.query_args(),
    ), (200 if built else 400)


@bp.get("/reports/academy/<report_key>/<table_key>.csv")
def report_csv(report_key: str, table_key: str):
    require(can_view_academy_reports)
    spec = _spec_or_404(report_key)
    form, built = _report(spec)
    if built is None:
        messages = [message for errors in form.errors.values() for message in errors]
        abort(400, description=" ".join(messages) or "Check the report's filters.")
    table = built.table(table_key)
    if table is None:
        abort(404)
    sheet = sheets.Table(
        title=f"{built.title} {table.caption}",
        columns=[sheets.Column(label) for label in table.header],
        rows=table.text_rows(),
    )
    stamp = uk_date(built.generated_at).isoformat()
    audit.record_export(
        f"academy-report:{spec.key}:{table.key}",
        actor=current_user,
        format="csv",
        filters=form.query_args(),
    )
    db.session.commit()
    return sheets.spreadsheet_response(sheet, "csv", f"{spec.key}-{table.key}-{stamp}.csv")


@bp.get("/teaching/caseload")
def caseload():
    require(has_caseload)
    pairs = current_tutor_cohorts(uk_date(clock.now()))
    everyone = tutors(pairs)
    chosen = None
    if is_admin(current_user):
        chosen = request.args.get("tutor", type=int)
        if chosen is not None:
            if chosen not in {tutor.id for tutor in everyone}:
                abort(404)
            pairs = [(tutor, cohort) for tutor, cohort in pairs if tutor.id == chosen]
    else:
        # A tutor's caseload is their own: other tutors' names and numbers are not theirs to see.
        pairs = [(tutor, cohort) for tutor, cohort in pairs if tutor.id == current_user.id]
    return render_template(
        "reporting/caseload.html",
        caseloads=caseloads(pairs),
        sees_everyone=is_admin(current_user),
        tutors=everyone if is_admin(current_user) else [],
        chosen=chosen,
    )
