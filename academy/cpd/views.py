"""HTML pages for a learner's CPD record: the record with its totals, adding, changing and
deleting their own entries, the CSV export and a printable record for appraisal and
revalidation.

Entries are looked up among the signed-in person's own (`own_entries`), so anyone else's answers
404. Every page takes `?year=2026` (the CPD year 1 April 2026 to 31 March 2027) or `all`.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm.exc import StaleDataError

from academy.core import clock
from academy.core.access import guard, require
from academy.core.api import ID
from academy.core.errors import DomainError
from academy.core.forms import STALE_PAGE, save_or_show, show_domain_error
from academy.core.navigation import add_nav_item
from academy.cpd import services
from academy.cpd.forms import CpdEntryEditForm, CpdEntryForm, DeleteForm
from academy.cpd.models import CpdEntry
from academy.cpd.policy import can_change_entry, keeps_cpd, own_entries
from academy.cpd.record import (
    HOURS_PER_CREDIT,
    CpdYear,
    build_record,
    csv_lines,
    hours_text,
    record_lines,
)
from academy.credentials.document import public_url
from academy.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("cpd", __name__)
guard(bp)

add_nav_item("My CPD", "cpd.index", keeps_cpd, "cpd.")


@bp.app_template_filter("cpd_hours")
def _hours_filter(value) -> str:
    return "" if value is None else hours_text(value)


@bp.app_template_filter("cpd_date")
def _date_filter(day) -> str:
    """`1 April 2026`"""
    return "" if day is None else f"{day.day} {day:%B %Y}"


@bp.app_template_filter("cpd_paragraphs")
def _paragraphs_filter(text: str | None) -> Markup:
    """Plain text as it was typed: escaped, blank lines making paragraphs, line breaks kept."""
    paragraphs = [p for p in (text or "").replace("\r\n", "\n").split("\n\n") if p.strip()]
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.split("\n")))
        for p in paragraphs
    )


@bp.context_processor
def cpd_helpers():
    return {"hours_per_credit": HOURS_PER_CREDIT}


# --- loading -----------------------------------------------------------------------------------


def _entry_or_404(entry_id: int) -> CpdEntry:
    entry = db.first_or_404(own_entries(current_user).where(CpdEntry.id == entry_id))
    require(can_change_entry, entry)
    return entry


def _period() -> CpdYear | None:
    try:
        return CpdYear.parse(request.args.get("year"))
    except ValueError:
        abort(400, description="Choose a CPD year from the list, such as 2026, or all years.")


def _year_arg(period: CpdYear | None) -> str:
    return str(period.start) if period else "all"


def _back_to_record(entry: CpdEntry | None = None):
    anchor = f"entry-{entry.id}" if entry is not None else "your-activities"
    return redirect(url_for(".index", _anchor=anchor))


# --- the record --------------------------------------------------------------------------------


@bp.get("/my/cpd")
def index():
    period = _period()
    return render_template(
        "cpd/index.html",
        record=build_record(current_user, period),
        year_arg=_year_arg(period),
    )


@bp.route("/my/cpd/new", methods=["GET", "POST"])
def new():
    form = CpdEntryForm()
    if form.validate_on_submit():
        fields = form.service_fields()
        created = save_or_show(
            form, lambda: services.add_entry(current_user, actor=current_user, **fields)
        )
        if created is not None:
            flash(f"“{created.title}” has been added to your CPD record", "success")
            return _back_to_record(created)
    return render_template("cpd/form.html", form=form, entry=None), _status(form)


@bp.route(f"/my/cpd/<{ID}:entry_id>/edit", methods=["GET", "POST"])
def edit(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = CpdEntryEditForm(data=_initial(entry))
    saved_now = None
    if form.validate_on_submit():
        try:
            services.update_entry(
                entry,
                actor=current_user,
                expected_version=form.expected_version,
                **form.service_fields(),
            )
            db.session.commit()
        except (services.StaleEntry, StaleDataError) as error:
            # StaleDataError: another save landed between our read and our UPDATE.
            db.session.rollback()
            entry = db.session.scalar(
                own_entries(current_user)
                .where(CpdEntry.id == entry_id)
                .execution_options(populate_existing=True)
            )
            if entry is None:
                flash("That entry has been deleted, perhaps on another page or device", "info")
                return _back_to_record()
            form.form_errors.append(getattr(error, "message", STALE_PAGE))
            # Saving again, having seen what is saved now, is a deliberate overwrite.
            form.version.data = entry.version
            form.refusal_status = 409
            saved_now = entry
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
            form.refusal_status = error.status
        else:
            flash(f"“{entry.title}” has been updated", "success")
            return _back_to_record(entry)
    return (
        render_template("cpd/form.html", form=form, entry=entry, saved_now=saved_now),
        _status(form),
    )


def _initial(entry: CpdEntry) -> dict:
    return {
        "version": entry.version,
        "title": entry.title,
        "activity_type": entry.activity_type,
        "provider": entry.provider,
        "started_on": entry.started_on,
        "ended_on": entry.ended_on,
        "hours": hours_text(entry.hours),
        "reflection": entry.reflection,
    }


def _status(form) -> int:
    if not form.is_submitted():
        return 200
    if hasattr(form, "refusal_status"):
        return form.refusal_status
    return 422 if form.errors else 200


@bp.route(f"/my/cpd/<{ID}:entry_id>/delete", methods=["GET", "POST"])
def delete(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = DeleteForm()
    if form.validate_on_submit():
        title = entry.title
        services.delete_entry(entry, actor=current_user)
        db.session.commit()
        flash(f"“{title}” has been deleted from your CPD record", "success")
        return _back_to_record()
    return render_template("cpd/confirm_delete.html", form=form, entry=entry)


# --- for appraisal and revalidation ------------------------------------------------------------


@bp.get("/my/cpd/export.csv")
def export_csv():
    period = _period()
    record = build_record(current_user, period)
    lines = record_lines(record, current_app.config["ACADEMY_ISSUER_NAME"])
    response = Response(stream_with_context(csv_lines(lines, public_url)), mimetype="text/csv")
    name = f"cpd-record-{_year_arg(period)}-{clock.today():%Y-%m-%d}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/my/cpd/print")
def print_record():
    period = _period()
    record = build_record(current_user, period)
    return render_template(
        "cpd/print.html",
        record=record,
        lines=record_lines(record, current_app.config["ACADEMY_ISSUER_NAME"]),
        year_arg=_year_arg(period),
        generated_on=clock.now(),
        credential_url=public_url,
    )
