"""/api/v1 privacy: the caller's download of all their data, and admins' erasure of a person.

The export is the same ZIP as the account page's, under the same per-person rate limit, and
audited the same way. Erasure takes the person's email address as confirmation, like the page.
"""

from __future__ import annotations

from flask import abort, jsonify
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.auth.models import User
from academy.auth.policy import can_view_user
from academy.core.api import ID, documented_errors, requires
from academy.extensions import db
from academy.privacy import schemas, services
from academy.privacy.policy import can_erase
from academy.privacy.views import export_limit, zip_response

blp = Blueprint(
    "privacy_api",
    __name__,
    description="UK GDPR: download your own data; erase a person's personal data (admins)",
)


@blp.get("/me/export")
@export_limit
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/zip",
    description="A ZIP of JSON files (your profile, roles, enrolments, submissions and "
    "receipts, extensions, released marks and feedback, module results, credentials with the "
    "signed documents, external credentials, CPD entries, preferences, API tokens and audit "
    "events) and your files, with a README.txt explaining each. As an attachment named like "
    "`academy-data-12-2027-03-01.zip`",
)
@documented_errors(blp, 401, 429)
def export_me():
    """Download all your data (UK GDPR articles 15 and 20)

    Marks and feedback are included only once released to you; nothing of anyone else's is.
    Each download is audited, and the number per person is limited (429 with Retry-After)."""
    return zip_response(api_user(), channel="api")


@blp.post(f"/users/<{ID}:user_id>/erase")
@requires(can_erase, "Only academy admins can erase personal data.")
@blp.arguments(schemas.EraseSchema)
@blp.response(200, schemas.ErasedSchema)
@documented_errors(blp, 400, 401, 403, 404, 409, 422)
def erase_user(data, user_id):
    """Erase a person's personal data (admins; UK GDPR article 17)

    Their name and email are replaced, their sign-in, sessions, tokens, roles, CPD record and
    external credentials go, and their assessment record (receipts, marks, results, issued
    credentials, which stay verifiable) is kept under the anonymous name. `confirm_email` must be
    the person's address (422 otherwise); a `reason` is required. Already erased: 409. Your own
    account: 403."""
    caller = api_user()
    user = db.session.get(User, user_id)
    if user is None or not can_view_user(caller, user):
        abort(404)
    summary = services.erase_user(
        user, actor=caller, confirm_email=data["confirm_email"], reason=data["reason"]
    )
    db.session.commit()
    return jsonify(
        schemas.ErasedSchema().dump(
            {
                "user_id": user.id,
                "name": user.name,
                "erased_at": user.erased_at,
                "summary": summary.as_dict(),
            }
        )
    )
