"""/api/v1 credentials: the scoped register, revoking, suspending and reinstating issued
credentials, and recording, verifying and removing external ones.

Every rule is in academy.credentials.services and .policy, which the HTML pages use too; these
endpoints load (404 outside the caller's scope), authorise (403), call a service and commit once.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_smorest import Blueprint
from flask_smorest import abort as abort_with
from marshmallow import ValidationError

from academy.auth.api_auth import api_user
from academy.auth.models import User
from academy.auth.policy import can_view_user
from academy.core import clock
from academy.core.api import ID, documented_errors
from academy.core.downloads import send_stored_file
from academy.core.filetypes import by_extension
from academy.core.pagination import PAGINATION_HEADERS, paginate
from academy.credentials import policy, schemas, services
from academy.credentials.models import Credential, status_clause
from academy.extensions import db

blp = Blueprint(
    "credentials_api",
    __name__,
    description="Credentials: issued Open Badges, revocation and suspension, external credentials",
)

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
ADMINS_ONLY = "Only academy admins can revoke, suspend, reinstate or verify credentials."


# --- loading within the caller's scope ---------------------------------------------------------


def _credential_or_404(credential_id: int) -> Credential:
    credential = db.session.scalar(
        policy.visible_credentials(api_user()).where(Credential.id == credential_id)
    )
    if credential is None:
        abort(404)
    return credential


def _managed_credential(credential_id: int) -> Credential:
    credential = _credential_or_404(credential_id)
    if not policy.can_manage_credentials(api_user()):
        abort(403, description=ADMINS_ONLY)
    return credential


def _json(body, status: int = 200, headers: dict | None = None):
    """A ready response, so the documented schema does not dump it again."""
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _detail(credential: Credential, status: int = 200):
    return _json(schemas.credential_body(credential, with_document=True), status)


# --- reading -----------------------------------------------------------------------------------


@blp.get("/credentials")
@blp.arguments(schemas.CredentialListArgs, location="query")
@blp.response(200, schemas.CredentialSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def list_credentials(args):
    """Credentials, newest first: admins all; sponsors those of their organisations' staff and
    of the learners they sponsor; everyone their own. Filter by `user_id`, `kind` and `status`
    (as it is now: `revoked` outranks `suspended`, which outranks `expired`)."""
    stmt = policy.visible_credentials(api_user())
    if args.get("user_id") is not None:
        stmt = stmt.where(Credential.user_id == args["user_id"])
    if args.get("kind"):
        stmt = stmt.where(Credential.kind == args["kind"])
    if args.get("status"):
        stmt = stmt.where(status_clause(args["status"], clock.now()))
    items, status, headers = paginate(stmt, args)
    return _json([schemas.credential_body(item) for item in items], status, headers)


# Registered before the DELETE on the same path: for an id beyond the converter's range Werkzeug
# answers 405 instead of 404 when another method's rule comes first, and GET is how ids are probed.
@blp.get(f"/credentials/<{ID}:credential_id>")
@blp.response(200, schemas.CredentialDetailSchema)
@documented_errors(blp, 401, 404)
def get_credential(credential_id):
    """One credential, with the signed Open Badges 3.0 `document` for those the academy issued.
    Outside your scope: 404."""
    return _detail(_credential_or_404(credential_id))


@blp.get(f"/credentials/<{ID}:credential_id>/evidence")
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/octet-stream",
    description="The evidence file's bytes, always as an attachment",
)
@documented_errors(blp, 401, 404)
def download_evidence(credential_id):
    """Download the evidence of an external credential (whoever may see the credential). A
    credential without evidence, or outside your scope: 404."""
    credential = _credential_or_404(credential_id)
    if not policy.can_read_evidence(api_user(), credential) or not credential.evidence_sha256:
        abort(404)
    name = credential.evidence_name or "evidence"
    file_type = by_extension(name.rsplit(".", 1)[-1].lower()) if "." in name else None
    try:
        return send_stored_file(
            credential.evidence_sha256, name, file_type and file_type.mime, etag=True
        )
    except (FileNotFoundError, ValueError):
        abort(404)


# --- revoking, suspending, reinstating, verifying ----------------------------------------------


@blp.post(f"/credentials/<{ID}:credential_id>/revoke")
@blp.arguments(schemas.CredentialReasonSchema)
@blp.response(200, schemas.CredentialDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def revoke(data, credential_id):
    """Revoke an issued credential for good (admins), with a `reason` the public verification
    page shows. Its revocation bit is set in the status list. Already revoked, or an external
    credential: 409. No reason: 422. Others who can see it: 403."""
    credential = _managed_credential(credential_id)
    services.revoke(credential, actor=api_user(), reason=data["reason"])
    db.session.commit()
    return _detail(credential)


@blp.post(f"/credentials/<{ID}:credential_id>/suspend")
@blp.arguments(schemas.CredentialReasonSchema)
@blp.response(200, schemas.CredentialDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def suspend(data, credential_id):
    """Suspend an issued credential until it is reinstated (admins), with a `reason`. Already
    suspended, revoked, or external: 409. No reason: 422."""
    credential = _managed_credential(credential_id)
    services.suspend(credential, actor=api_user(), reason=data["reason"])
    db.session.commit()
    return _detail(credential)


@blp.post(f"/credentials/<{ID}:credential_id>/reinstate")
@blp.arguments(schemas.CredentialReasonSchema)
@blp.response(200, schemas.CredentialDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def reinstate(data, credential_id):
    """Lift a suspension (admins), with a `reason` for the audit trail. A credential that is
    not suspended, or is revoked: 409. No reason: 422."""
    credential = _managed_credential(credential_id)
    services.reinstate(credential, actor=api_user(), reason=data["reason"])
    db.session.commit()
    return _detail(credential)


@blp.post(f"/credentials/<{ID}:credential_id>/verify")
@blp.arguments(schemas.VerifySchema)
@blp.response(200, schemas.CredentialDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def verify(data, credential_id):
    """Mark an external credential as verified (admins), having checked its evidence. Already
    verified, or a credential the academy issued: 409."""
    credential = _managed_credential(credential_id)
    services.verify_external(credential, actor=api_user())
    db.session.commit()
    return _detail(credential)


# --- external credentials ----------------------------------------------------------------------


def _external_input() -> dict:
    """The body as JSON, or as a form with an optional `evidence` file; refused as a whole
    (422 with every field at fault) before anything is stored."""
    if request.mimetype in FORM_TYPES:
        schema = schemas.ExternalCredentialUploadSchema()
        raw = {**request.form.to_dict(), **request.files.to_dict()}
    else:
        schema = schemas.ExternalCredentialSchema()
        raw = request.get_json(silent=True) if request.get_data() else {}
        if raw is None:
            abort(400, description="Send JSON, or multipart/form-data with an evidence file.")
    try:
        return schema.load(raw)
    except ValidationError as error:
        abort_with(422, errors=error.messages)


EXTERNAL_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": schemas.ExternalCredentialSchema},
        "multipart/form-data": {"schema": schemas.ExternalCredentialUploadSchema},
    },
}


@blp.post(f"/users/<{ID}:user_id>/external-credentials")
@blp.doc(requestBody=EXTERNAL_BODY)
@blp.response(201, schemas.CredentialDetailSchema)
@documented_errors(blp, 400, 401, 403, 404, 413, 415, 422)
def record_external(user_id):
    """Record a credential the learner holds from elsewhere (admins for anyone; sponsors for
    their staff; learners for themselves), as JSON or as multipart/form-data with an optional
    `evidence` file. It is `self_declared` until an admin verifies it. Missing or bad fields:
    422 naming each. Evidence of a type not allowed: 415; too large: 413; nothing is kept.
    A user you cannot see: 404; one you can see but not record for: 403."""
    caller = api_user()
    learner = db.session.get(User, user_id)
    if learner is None or not can_view_user(caller, learner):
        abort(404)
    if not policy.can_record_external(caller, learner):
        abort(403, description="You cannot record credentials for this person.")
    data = _external_input()
    evidence = data.pop("evidence", None)
    credential = services.record_external(
        learner,
        actor=caller,
        evidence=(evidence.stream, evidence.filename or "") if evidence else None,
        **data,
    )
    db.session.commit()
    return _detail(credential, 201)


@blp.delete(f"/credentials/<{ID}:credential_id>")
@blp.response(204)
@documented_errors(blp, 401, 403, 404, 409)
def remove_external(credential_id):
    """Remove an external credential: admins any; the learner or their sponsor while it is
    self-declared (once verified, 403). Credentials the academy issued are revoked, not
    removed: 409."""
    caller = api_user()
    credential = _credential_or_404(credential_id)
    if credential.kind == "external" and not policy.can_remove_external(caller, credential):
        abort(403, description="Only admins can remove a verified external credential.")
    services.remove_external(credential, actor=caller)
    db.session.commit()
    return None
