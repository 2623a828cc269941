"""Changes to what email a person gets. Functions flush; the caller commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

from academy.audit import services as audit
from academy.core.errors import DomainError
from academy.extensions import db
from academy.notifications.models import OutboxMessage
from academy.notifications.preferences import OPTIONAL

log = logging.getLogger(__name__)


def set_email_opt_outs(user, opt_outs: Iterable[str], *, actor):
    """Turn off exactly the optional categories in `opt_outs` for `user` (and back on every
    other). Essential email cannot be turned off, so naming anything outside
    `preferences.OPTIONAL` is refused rather than silently ignored."""
    wanted_off = set(opt_outs)
    unknown = sorted(wanted_off - set(OPTIONAL))
    if unknown:
        raise DomainError(
            f"These emails cannot be turned off: {', '.join(unknown)}", field="opt_outs"
        )
    # Stored in the settings page's order, so the same choice is always the same value.
    chosen = [category for category in OPTIONAL if category in wanted_off]
    before = list(user.email_opt_outs or [])
    if before == chosen:
        return user
    user.email_opt_outs = chosen
    db.session.flush()
    audit.record(
        "user.email_preferences",
        actor=actor,
        obj=user,
        before={"email_opt_outs": before},
        after={"email_opt_outs": chosen},
    )
    log.info("email preferences of user %s changed by %s", user.id, getattr(actor, "id", None))
    return user


# --- the outbox ----------------------------------------------------------------------------------


def outbox_messages(*, status: str | None = None, recipient: str = "") -> sa.Select:
    """Messages newest first, optionally only those in `status` or whose address contains
    `recipient` (ignoring case): the admin page's list and the API's."""
    # By id, not time: ids follow the order rows were written whatever the clock said.
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if recipient:
        stmt = stmt.where(
            sa.func.lower(OutboxMessage.recipient).contains(recipient.lower(), autoescape=True)
        )
    return stmt
