"""The audit log for admins: search it, page through it, download what was found as CSV, and see
whether its hash chain still verifies."""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template
from flask_login import current_user

from academy.audit import services
from academy.audit.chain import verify_chain
from academy.audit.forms import AuditFilterForm
from academy.audit.policy import can_view_audit
from academy.auth.models import User
from academy.core import clock
from academy.core import spreadsheets as sheets
from academy.core.access import guard
from academy.core.calendar import uk_date
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.extensions import db

bp = Blueprint("audit", __name__)
guard(bp, can_view_audit)

add_nav_item("Audit log", "audit.index", can_view_audit, "audit.")

CSV_COLUMNS = [
    sheets.Column("Event", 8),
    sheets.Column("When (UK time)", 18),
    sheets.Column("Action", 24),
    sheets.Column("Done by", 30),
    sheets.Column("Object type", 16),
    sheets.Column("Object id", 12),
    sheets.Column("Before", 40),
    sheets.Column("After", 40),
    sheets.Column("IP address", 16),
    sheets.Column("Hash", 66),
]


def _search(form: AuditFilterForm):
    return services.search_events(
        action=form.action.data,
        actor_email=form.actor.data,
        object_type=form.object_type.data,
        object_id=form.object_id.data,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def changes_text(values: dict | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


@bp.get("/admin/audit")
def index():
    form = AuditFilterForm()
    valid = form.validate()
    page = page_of(_search(form)) if valid else None
    return render_template(
        "audit/index.html",
        form=form,
        page=page,
        emails=services.actor_emails(page.items) if page else {},
        chain=verify_chain(),
        query_args=form.query_args(),
        changes_text=changes_text,
    ), (200 if valid else 400)


@bp.get("/admin/audit.csv")
def export():
    form = AuditFilterForm()
    if not form.validate():
        messages = [message for errors in form.errors.values() for message in errors]
        abort(400, description=" ".join(messages))
    stmt = _search(form).add_columns(User.email)

    def rows():
        for event, email in db.session.execute(stmt.execution_options(yield_per=500)):
            yield [
                event.id,
                event.occurred_at,
                event.action,
                email,
                event.object_type,
                event.object_id,
                changes_text(event.before),
                changes_text(event.after),
                event.ip_address,
                event.hash,
            ]

    # Recorded before the query runs, so an export of everything includes its own record.
    services.record_export("audit-log", actor=current_user, format="csv", filters=form.query_args())
    db.session.commit()
    table = sheets.Table(title="Audit log", columns=CSV_COLUMNS, rows=rows())
    stamp = uk_date(clock.now()).isoformat()
    return sheets.spreadsheet_response(table, "csv", f"audit-log-{stamp}.csv")
