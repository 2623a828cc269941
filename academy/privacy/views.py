"""HTML pages for privacy: a person's download of all their data, and an admin's erasure of a
person's personal data with a confirmation page.

The export is a POST (with its CSRF token) so a link on another site cannot start one, and it
shares a per-person rate limit with the API's: building it reads every file the person has.
"""

from __future__ import annotations

import logging
import tempfile

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user

from academy.auth.models import User
from academy.auth.policy import can_list_users, visible_users
from academy.core import clock
from academy.core.access import guard, require
from academy.core.calendar import uk_date
from academy.core.errors import Conflict
from academy.core.forms import save_or_show
from academy.core.storage import CHUNK
from academy.extensions import db, limiter
from academy.privacy import export, services
from academy.privacy.forms import EraseForm, ExportForm
from academy.privacy.policy import can_erase, can_export_own_data

log = logging.getLogger(__name__)

bp = Blueprint("privacy", __name__)

guard(bp)

#: An export up to this size is built in memory; a larger one spills to a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024


def _export_rate_limit() -> str:
    return current_app.config["DATA_EXPORT_RATE_LIMIT"]


def _export_key() -> str:
    """Per person, whichever way they ask (page or API token), so the budget is theirs."""
    user = g.get("api_user") or current_user
    user_id = getattr(user, "id", None)
    return f"user:{user_id}" if user_id is not None else get_remote_address()


#: One budget for the page and the API.
export_limit = limiter.shared_limit(
    _export_rate_limit,
    scope="privacy-export",
    key_func=_export_key,
    error_message="You have downloaded your data several times already. Try again later.",
)


def zip_response(user: User, *, channel: str) -> Response:
    """Build `user`'s export, audit it, commit, and send it as an attachment a chunk at a time.
    The archive is spooled (to disk once large), never held whole in memory."""
    # Closed when the response is (call_on_close), not here: the body is read after we return.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        summary = export.write_export(user, spool)
        size = spool.tell()
        services.record_export(user, channel=channel, files=summary.files, size=size)
        db.session.commit()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks():
        try:
            while data := spool.read(CHUNK):
                yield data
        finally:
            spool.close()

    name = export.filename(user, uk_date(clock.now()))
    response = Response(chunks(), mimetype="application/zip", direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.call_on_close(spool.close)
    return response


# --- a person's own data ------------------------------------------------------------------------


@bp.get("/account/your-data")
def export_page():
    require(can_export_own_data)
    return render_template("privacy/export.html", form=ExportForm())


@bp.post("/account/your-data")
@export_limit
def export_download():
    require(can_export_own_data)
    form = ExportForm()
    if not form.validate_on_submit():
        return render_template("privacy/export.html", form=form), 400
    log.info("user %s downloads their data", current_user.id)
    return zip_response(current_user._get_current_object(), channel="web")


# --- erasure (admins) ---------------------------------------------------------------------------


def _status(form) -> int:
    if not form.is_submitted():
        return 200
    if hasattr(form, "refusal_status"):
        return form.refusal_status
    return 422 if form.errors else 200


@bp.route("/users/<int:user_id>/erase", methods=["GET", "POST"])
def erase(user_id: int):
    require(can_list_users)
    user = db.first_or_404(visible_users(current_user).where(User.id == user_id))
    require(can_erase)
    if user.erased_at is not None:
        raise Conflict("This person's personal data has already been erased")
    form = EraseForm()
    if form.validate_on_submit():
        summary = save_or_show(
            form,
            lambda: services.erase_user(
                user,
                actor=current_user,
                confirm_email=form.confirm_email.data,
                reason=form.reason.data,
            ),
        )
        if summary is not None:
            log.info("user %s erased by %s", user.id, current_user.id)
            flash(
                f"The personal data of user {user.id} has been erased. Their assessment record "
                f"is kept under the name “{user.name}”.",
                "success",
            )
            return redirect(url_for("users.show", user_id=user.id))
    return render_template("privacy/erase.html", form=form, user=user), _status(form)
