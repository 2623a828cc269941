"""/api/v1 email settings (`/me/email-preferences`) and the outbox for admins."""

from __future__ import annotations

from flask import abort
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.core.api import ID, documented_errors, requires
from academy.core.pagination import PAGINATION_HEADERS, paginate
from academy.extensions import db
from academy.notifications import mail, schemas, services
from academy.notifications.models import OutboxMessage
from academy.notifications.policy import can_manage_outbox

blp = Blueprint(
    "notifications_api", __name__, description="Email settings, and the outbox of sent email"
)

ADMINS_ONLY = "Only academy admins can see the outbox."


# --- email settings ----------------------------------------------------------------------------


@blp.get("/me/email-preferences")
@blp.response(200, schemas.EmailPreferencesSchema)
@documented_errors(blp, 401)
def get_email_preferences():
    """The optional emails the caller has turned off, and every optional email there is."""
    return schemas.preferences_body(api_user())


@blp.put("/me/email-preferences")
@blp.arguments(schemas.EmailPreferencesInSchema)
@blp.response(200, schemas.EmailPreferencesSchema)
@documented_errors(blp, 400, 401, 422)
def put_email_preferences(data):
    """Choose which optional emails you do not get: `opt_outs` replaces the whole list. Essential
    emails cannot be turned off; naming one (or anything unknown) answers 422. Audited."""
    user = api_user()
    services.set_email_opt_outs(user, data["opt_outs"], actor=user)
    db.session.commit()
    return schemas.preferences_body(user)


# --- the outbox --------------------------------------------------------------------------------


def _message_or_404(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


@blp.get("/outbox")
@requires(can_manage_outbox, ADMINS_ONLY)
@blp.arguments(schemas.OutboxListArgs, location="query")
@blp.response(200, schemas.OutboxMessageSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401, 403)
def list_outbox(args):
    """Every email the academy has queued, newest first (admins). Filter by `status` (pending,
    sending, sent, failed) and by `q`, part of the recipient's address."""
    stmt = services.outbox_messages(status=args.get("status"), recipient=args.get("q") or "")
    return paginate(stmt, args)


@blp.get(f"/outbox/<{ID}:message_id>")
@requires(can_manage_outbox, ADMINS_ONLY)
@blp.response(200, schemas.OutboxMessageDetailSchema)
@documented_errors(blp, 401, 403, 404)
def get_outbox_message(message_id):
    """One message with its plain-text body (admins)."""
    return _message_or_404(message_id)


@blp.post(f"/outbox/<{ID}:message_id>/retry")
@requires(can_manage_outbox, ADMINS_ONLY)
@blp.arguments(schemas.RetrySchema)
@blp.response(200, schemas.OutboxMessageDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def retry_outbox_message(data, message_id):
    """Try a failed (or still waiting) message again now (admins). A message already sent, or
    being sent, answers 409. Audited."""
    message = _message_or_404(message_id)
    mail.retry(message, actor=api_user())
    db.session.commit()
    return message
