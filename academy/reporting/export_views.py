"""Downloads of an organisation's reports (staff credentials and progress, as CSV or Excel) and
the sponsor's page choosing how often they get summary emails.

Organisations load through the reporting policy: another trust's id, or one whose sponsor role
has ended, answers 404, never 403. The exports themselves are built in academy.reporting.exports
and made safe for spreadsheets by academy.core.spreadsheets.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from academy.audit import services as audit
from academy.core import clock
from academy.core.access import guard
from academy.core.api import ID
from academy.core.calendar import uk_date
from academy.core.forms import STALE_PAGE, save_or_show
from academy.core.spreadsheets import spreadsheet_response
from academy.extensions import db
from academy.organisations.models import Organisation
from academy.reporting import exports, scheduled
from academy.reporting.models import FREQUENCIES
from academy.reporting.policy import can_view_organisation_reports

bp = Blueprint("reporting_exports", __name__)
guard(bp)

FORMAT = "any(csv, xlsx)"


def _organisation_or_404(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not can_view_organisation_reports(current_user, organisation):
        abort(404)
    return organisation


def _download(export: str, organisation_id: int, fmt: str):
    organisation = _organisation_or_404(organisation_id)
    now = clock.now()
    # Committed before the export is read, so the commit cannot expire what it loads.
    audit.record_export(export, actor=current_user, obj=organisation, format=fmt)
    db.session.commit()
    table = exports.build(export, organisation, now=now)
    return spreadsheet_response(
        table, fmt, exports.filename(organisation, export, fmt, uk_date(now))
    )


@bp.get(f"/organisations/<{ID}:organisation_id>/reports/staff-credentials.<{FORMAT}:fmt>")
def staff_credentials(organisation_id: int, fmt: str):
    return _download("staff-credentials", organisation_id, fmt)


@bp.get(f"/organisations/<{ID}:organisation_id>/reports/progress.<{FORMAT}:fmt>")
def progress(organisation_id: int, fmt: str):
    return _download("progress", organisation_id, fmt)


@bp.get(f"/organisations/<{ID}:organisation_id>/reports/exports")
def index(organisation_id: int):
    """What each export holds, column by column, for whoever sets up the HR system's import."""
    organisation = _organisation_or_404(organisation_id)
    return render_template(
        "reporting/exports_index.html",
        organisation=organisation,
        staff_columns=exports.STAFF_CREDENTIAL_COLUMNS,
        progress_columns=exports.PROGRESS_COLUMNS,
        mark_column=exports.MARK_COLUMN,
    )


# --- summary emails ----------------------------------------------------------------------------


def _subscriptions_form(choices: list[scheduled.SubscriptionChoice]) -> FlaskForm:
    """One set of radios per organisation the sponsor sponsors, each with the version of the
    choice it was drawn from, so a save from a stale page changes nothing."""

    class SubscriptionsForm(FlaskForm):
        pass

    for choice in choices:
        organisation = choice.organisation
        setattr(
            SubscriptionsForm,
            f"frequency_{organisation.id}",
            RadioField(
                f"{organisation.name} ({organisation.ods_code})",
                choices=[SelectChoice(key, label) for key, label in FREQUENCIES.items()],
                default=choice.frequency,
                validators=[
                    InputRequired(f"Choose how often to get the summary of {organisation.name}")
                ],
            ),
        )
        setattr(
            SubscriptionsForm, f"version_{organisation.id}", HiddenField(default=choice.version)
        )
    return SubscriptionsForm()


def _sent_choices(form, choices) -> dict[int, tuple[str, int]] | None:
    """organisation id → (frequency, version) from a valid form; None if a version is missing
    or unreadable (the page was not one of ours, or is out of date)."""
    sent = {}
    for choice in choices:
        organisation_id = choice.organisation.id
        version = (form[f"version_{organisation_id}"].raw_data or [""])[0]
        if not (version.isascii() and version.isdigit()) or len(version) > 9:
            return None
        sent[organisation_id] = (form[f"frequency_{organisation_id}"].data, int(version))
    return sent


@bp.route("/account/report-emails", methods=["GET", "POST"])
def subscriptions():
    """A sponsor's choice, organisation by organisation, of summary emails: never, weekly or
    monthly. Saved together, audited, and refused whole if the page was out of date."""
    user = current_user._get_current_object()
    choices = scheduled.subscription_choices(user)
    if not choices:
        abort(403, description="Summary emails are for sponsors of an organisation.")
    form = _subscriptions_form(choices)
    if form.validate_on_submit():
        sent = _sent_choices(form, choices)
        if sent is None:
            form.form_errors.append(STALE_PAGE)
        elif (
            save_or_show(form, lambda: scheduled.update_subscriptions(user, sent, actor=user))
            is not None
        ):
            flash("Your summary email choices have been saved", "success")
            return redirect(url_for("reporting_exports.subscriptions"))
    status = 200
    if request.method == "POST":
        status = getattr(form, "refusal_status", 422)
    return render_template(
        "reporting/subscriptions.html",
        form=form,
        rows=[(choice, form[f"frequency_{choice.organisation.id}"]) for choice in choices],
    ), status
