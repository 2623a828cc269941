"""Public, sign-in-free pages and documents that let anyone check an Academy credential:
the verification page and signed JSON, the issuer's keys, the status lists, and a verifier
form for credentials pasted or uploaded by an employer."""

from __future__ import annotations

import json
from uuid import UUID

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, render_template, request
from flask_wtf import FlaskForm
from wtforms import FileField, TextAreaField

from academy.catalogue.models import Module, Programme
from academy.credentials import keys, proof, statuslist
from academy.credentials.document import achievement_id, public_url
from academy.credentials.models import Credential, StatusList
from academy.credentials.verification import MAX_DOCUMENT_BYTES, verify_document
from academy.extensions import db, limiter
from academy.privacy.policy import public_name

bp = Blueprint("credentials_public", __name__)

LD_JSON = "application/ld+json"


def _json(document: dict, *, cache_seconds: int = 0, download_name: str | None = None):
    response = jsonify(document)
    response.mimetype = LD_JSON if "@context" in document else "application/json"
    # Anyone may fetch these from a verifier running in a browser on another site.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = (
        f"public, max-age={cache_seconds}" if cache_seconds else "no-cache"
    )
    if download_name:
        response.headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response


def _issued_or_404(uuid: UUID) -> Credential:
    credential = db.session.scalar(
        sa.select(Credential).where(Credential.uuid == str(uuid), Credential.kind != "external")
    )
    if credential is None:
        abort(404)
    return credential


@bp.get("/credentials/<uuid:uuid>")
def credential_page(uuid: UUID):
    credential = _issued_or_404(uuid)
    return render_template(
        "credentials/public.html",
        credential=credential,
        holder_name=public_name(credential.user),
        status=credential.status,
        json_url=public_url(credential) + ".json",
    )


@bp.get("/credentials/<uuid:uuid>.json")
def credential_json(uuid: UUID):
    credential = _issued_or_404(uuid)
    download = request.args.get("download") == "1"
    return _json(
        credential.document,
        download_name=f"credential-{credential.uuid}.json" if download else None,
    )


@bp.get("/issuer")
def issuer():
    """The issuer's controller document: its id is the credentials' issuer id, and it lists
    every key that may sign for it (current and rotated)."""
    document = keys.controller_document()
    document["name"] = keys.issuer_profile()["name"]
    return _json(document, cache_seconds=300)


@bp.get("/issuer/keys/<public_key>")
def issuer_key(public_key: str):
    if public_key not in keys.known_public_keys():
        abort(404)
    return _json(keys.multikey_document(public_key), cache_seconds=3600)


@bp.get("/credentials/status/<int:list_id>")
def status_list(list_id: int):
    found = db.session.get(StatusList, list_id)
    if found is None:
        abort(404)
    return _json(statuslist.list_credential(found))


@bp.get("/achievements/<any(module, programme):kind>/<code>")
def achievement(kind: str, code: str):
    """What a credential's Achievement id points at: the module or award as the catalogue
    describes it now."""
    model = Module if kind == "module" else Programme
    found = db.session.scalar(sa.select(model).where(model.code == code.upper()))
    if found is None:
        abort(404)
    stand_in = Credential(kind=kind if kind == "module" else "award")
    stand_in.module = found if kind == "module" else None
    stand_in.programme = found if kind == "programme" else None
    description = {
        "@context": [proof.VC_V2, proof.OB_V3],
        "id": achievement_id(stand_in),
        "type": ["Achievement"],
        "name": f"{found.code} {found.title}" if kind == "module" else found.award_title,
        "achievementType": "Course" if kind == "module" else found.award_type,
        "creditsAvailable": float(found.credits if kind == "module" else found.credits_required),
        "humanCode": found.code,
    }
    return _json(description, cache_seconds=300)


class VerifyForm(FlaskForm):
    credential_json = TextAreaField("Paste the credential's JSON")
    credential_file = FileField("Or upload the credential file (.json)")


def _read_submitted(form: VerifyForm):
    """The submitted document, or an error message for the form."""
    upload = request.files.get(form.credential_file.name)
    if upload and upload.filename:
        raw = upload.stream.read(MAX_DOCUMENT_BYTES + 1)
        field = form.credential_file
    else:
        raw = (form.credential_json.data or "").encode()
        field = form.credential_json
    if not raw.strip():
        form.credential_json.errors = ["Paste a credential or choose a file"]
        return None
    if len(raw) > MAX_DOCUMENT_BYTES:
        field.errors = ["This is too large to be a credential (256 KB at most)"]
        return None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        field.errors = ["This is not valid JSON. Copy the whole credential, from { to }"]
        return None
    if not isinstance(document, dict):
        field.errors = ["This is not a credential: a credential is a JSON object, from { to }"]
        return None
    return document


@bp.route("/credentials/verify", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def verify():
    form = VerifyForm()
    verdict = None
    if form.validate_on_submit():
        document = _read_submitted(form)
        if document is not None:
            verdict = verify_document(document)
    return render_template("credentials/verify.html", form=form, verdict=verdict)
