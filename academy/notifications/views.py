"""HTML pages: one's own email settings, and the outbox for admins.

With no Redis (development) the outbox page is also where a developer sees the mail the app
sent, whatever the mail backend did with it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from academy.auth.models import User
from academy.core.access import guard, require
from academy.core.forms import save_or_flash, save_or_show
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.extensions import db
from academy.notifications import mail, services
from academy.notifications.forms import EmailPreferencesForm, RetryForm
from academy.notifications.models import OUTBOX_STATUSES, OutboxMessage
from academy.notifications.policy import can_manage_outbox
from academy.notifications.preferences import OPTIONAL

log = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__)

add_nav_item("Outbox", "notifications.outbox", can_manage_outbox, "notifications.outbox")

guard(bp)

#: Statuses an admin may send again: a failed message, or one waiting for its next attempt.
RETRYABLE = ("failed", "pending")


# --- email settings ----------------------------------------------------------------------------


@bp.route("/account/emails", methods=["GET", "POST"])
def preferences():
    user = current_user._get_current_object()
    form = EmailPreferencesForm()
    if request.method == "GET":
        form.wanted.data = [c for c in OPTIONAL if c not in (user.email_opt_outs or [])]
    if form.validate_on_submit() and save_or_show(
        form, lambda: services.set_email_opt_outs(user, form.opt_outs(), actor=user)
    ):
        flash("Your email settings have been saved", "success")
        return redirect(url_for("auth.account"))
    return render_template("notifications/preferences.html", form=form, user=user), (
        422 if form.errors else 200
    )


# --- the outbox --------------------------------------------------------------------------------


def status_counts() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count(OutboxMessage.id)).group_by(
            OutboxMessage.status
        )
    )
    return {status: count for status, count in rows}


@bp.get("/admin/outbox")
def outbox():
    require(can_manage_outbox)
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    if status not in OUTBOX_STATUSES:
        status = ""
    return render_template(
        "notifications/outbox.html",
        page=page_of(services.outbox_messages(status=status or None, recipient=q)),
        q=q,
        status=status,
        statuses=OUTBOX_STATUSES,
        counts=status_counts(),
        filtered=bool(q or status),
    )


def _message_or_404(message_id: int) -> OutboxMessage:
    require(can_manage_outbox)
    return db.get_or_404(OutboxMessage, message_id)


@bp.get("/admin/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = _message_or_404(message_id)
    return render_template(
        "notifications/message.html",
        message=message,
        recipient_user=db.session.get(User, message.user_id) if message.user_id else None,
        retry_form=RetryForm(formdata=None) if message.status in RETRYABLE else None,
    )


@bp.post("/admin/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int):
    message = _message_or_404(message_id)
    if not RetryForm().validate_on_submit():  # only its CSRF token to check
        abort(400)
    if save_or_flash(lambda: mail.retry(message, actor=current_user)):
        log.info("outbox message %s retried by %s", message.id, current_user.id)
        flash(f"The email to {message.recipient} will be sent again now", "success")
    return redirect(url_for(".outbox_message", message_id=message.id))
