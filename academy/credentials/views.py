"""Signed-in pages for credentials: the learner's wallet and printable certificates, external
credentials (recorded by learners, their sponsors or admins, with evidence), and the academy's
register, where admins revoke, suspend, reinstate and verify.

Credentials load through `visible_credentials` (404 when out of reach), then the credentials
policy decides what may be done (403), then a service changes them and the view commits once.
The public verification pages and signed documents are `public_views`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from academy.audit.models import AuditEvent
from academy.auth.models import User
from academy.auth.policy import can_list_users, visible_users
from academy.cohorts.policy import is_enrolled
from academy.core import clock
from academy.core.access import guard, require
from academy.core.downloads import send_stored_file
from academy.core.errors import DomainError
from academy.core.filetypes import by_extension
from academy.core.forms import save_or_flash, save_or_show, show_domain_error
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.credentials import services
from academy.credentials.document import public_url
from academy.credentials.forms import ConfirmForm, ExternalCredentialForm, ReasonForm
from academy.credentials.models import KINDS, Credential, status_clause
from academy.credentials.policy import (
    can_manage_credentials,
    can_read_evidence,
    can_record_external,
    can_remove_external,
    can_view_credential,
    visible_credentials,
)
from academy.extensions import db
from academy.organisations.policy import visible_organisations

log = logging.getLogger(__name__)

bp = Blueprint("credentials", __name__)
guard(bp)

STATUSES = ("valid", "expired", "revoked", "suspended")
#: The status changes an admin makes with a reason, by the action's name in the URL.
STATUS_CHANGES = {
    "revoke": (services.revoke, "revoked", "Why are you revoking it?"),
    "suspend": (services.suspend, "suspended", "Why are you suspending it?"),
    "reinstate": (services.reinstate, "reinstated", "Why can it be relied on again?"),
}
AUDIT_LABELS = {
    "credential.issue": "Issued",
    "credential.revoke": "Revoked",
    "credential.suspend": "Suspended",
    "credential.reinstate": "Reinstated",
    "credential.record_external": "Recorded",
    "credential.verify_external": "Verified",
}


def holds_credentials(user) -> bool:
    """Learners who are enrolled (so will earn credentials) or already hold some."""
    if is_enrolled(user):
        return True
    return (
        db.session.scalar(sa.select(Credential.id).where(Credential.user_id == user.id).limit(1))
        is not None
    )


add_nav_item("My credentials", "credentials.wallet", holds_credentials, "credentials.wallet")
add_nav_item("Credentials", "credentials.register", can_manage_credentials, "credentials.register")


# --- loading -----------------------------------------------------------------------------------


def _visible_or_404(uuid) -> Credential:
    return db.first_or_404(visible_credentials(current_user).where(Credential.uuid == str(uuid)))


def _visible_user_or_404(user_id: int) -> User:
    """The learner a sponsor or admin acts for: 404 outside their reach, as on the users pages."""
    if user_id == current_user.id:
        return current_user._get_current_object()
    return db.first_or_404(visible_users(current_user).where(User.id == user_id))


def _back_to(credential: Credential) -> str:
    """Where a page about `credential` leads back to: the holder's wallet, or the learner's page
    for the sponsor or admin who came from there."""
    if credential.user_id == current_user.id:
        return url_for(".wallet")
    if can_list_users(current_user):
        return url_for("users.show", user_id=credential.user_id)
    return url_for(".wallet")


@bp.app_template_global("credentials_held_by")
def credentials_held_by(user: User) -> list[Credential]:
    """What the signed-in person may see of `user`'s credentials, for the user's page."""
    stmt = visible_credentials(current_user).where(Credential.user_id == user.id)
    return list(db.session.scalars(stmt))


@bp.app_template_global("may_record_external")
def may_record_external(user: User) -> bool:
    return can_record_external(current_user, user)


@bp.app_template_global("may_remove_external")
def may_remove_external(credential: Credential) -> bool:
    return can_remove_external(current_user, credential)


@bp.app_template_global("may_manage_credentials")
def may_manage_credentials() -> bool:
    return can_manage_credentials(current_user)


@bp.app_template_filter("credential_type")
def credential_type(credential: Credential) -> str:
    if credential.kind == "external":
        return "External"
    if credential.achievement_type == "Course":
        return "Module pass"
    return credential.achievement_type or credential.kind.title()


# --- the wallet --------------------------------------------------------------------------------


@bp.get("/my/credentials")
def wallet():
    held = db.session.scalars(
        sa.select(Credential)
        .where(Credential.user_id == current_user.id)
        .order_by(Credential.issued_at.desc(), Credential.id.desc())
    ).all()
    return render_template(
        "credentials/wallet.html",
        issued=[(c, public_url(c)) for c in held if c.is_issued],
        external=[c for c in held if not c.is_issued],
    )


def qr_code_svg(url: str) -> Markup:
    """A QR code of `url` as inline SVG. Segno writes the whole element and escapes the title,
    and the URL is our own verification link, so it is safe to put in the page as is."""
    svg = segno.make(url, error="m").svg_inline(
        scale=4, title="QR code: scan to verify this credential", svgclass="academy-qr-code"
    )
    # Named by its <title> only once it is an image to assistive technology.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 - segno's own SVG of our own URL


@bp.get("/my/credentials/<uuid:uuid>/certificate")
def certificate(uuid):
    credential = _visible_or_404(uuid)
    if not credential.is_issued or not can_view_credential(current_user, credential):
        abort(404)
    url = public_url(credential)
    return render_template(
        "credentials/certificate.html",
        credential=credential,
        status=credential.status,
        verification_url=url,
        qr_code=qr_code_svg(url),
        back=_back_to(credential),
    )


# --- external credentials ----------------------------------------------------------------------


def _record_external(learner: User, *, done_url: str):
    form = ExternalCredentialForm()
    status = 200
    if form.validate_on_submit():
        recorded = save_or_show(
            form,
            lambda: services.record_external(
                learner,
                actor=current_user,
                title=form.title.data,
                issuer=form.issuer.data,
                issued_on=form.issued_on.data,
                expires_on=form.expires_on.data,
                evidence=form.evidence_upload(),
            ),
        )
        if recorded is not None:
            log.info("external credential %s recorded for user %s by %s", recorded.id,
                     learner.id, current_user.id)  # fmt: skip
            flash(
                f"“{recorded.title}” has been added. It shows as self-declared until the "
                "academy has verified it.",
                "success",
            )
            return redirect(done_url)
        status = getattr(form, "refusal_status", 422)
    elif form.is_submitted():
        status = 422
    return render_template(
        "credentials/external_form.html", form=form, learner=learner, back=done_url
    ), status


@bp.route("/my/credentials/external/new", methods=["GET", "POST"])
def add_own_external():
    return _record_external(current_user._get_current_object(), done_url=url_for(".wallet"))


@bp.route("/users/<int:user_id>/credentials/external/new", methods=["GET", "POST"])
def add_external_for(user_id: int):
    learner = _visible_user_or_404(user_id)
    require(can_record_external, learner)
    done_url = (
        url_for(".wallet")
        if learner.id == current_user.id
        else url_for("users.show", user_id=learner.id)
    )
    return _record_external(learner, done_url=done_url)


@bp.get("/my/credentials/<uuid:uuid>/evidence")
def evidence(uuid):
    credential = _visible_or_404(uuid)
    if not can_read_evidence(current_user, credential) or credential.evidence_sha256 is None:
        abort(404)
    name = credential.evidence_name or "evidence"
    file_type = by_extension(name.rpartition(".")[2])
    try:
        return send_stored_file(credential.evidence_sha256, name, file_type and file_type.mime)
    except FileNotFoundError:
        log.error("credential %s: no stored evidence %s", credential.id,
                  credential.evidence_sha256)  # fmt: skip
        abort(404)


@bp.route("/my/credentials/<uuid:uuid>/remove", methods=["GET", "POST"])
def remove_external(uuid):
    credential = _visible_or_404(uuid)
    if credential.kind != "external":
        abort(404)
    require(can_remove_external, credential)
    back = _back_to(credential)
    form = ConfirmForm()
    if form.validate_on_submit():
        title, credential_id = credential.title, credential.id
        if save_or_flash(lambda: services.remove_external(credential, actor=current_user)):
            log.info("external credential %s removed by %s", credential_id, current_user.id)
            flash(f"“{title}” has been removed", "success")
        return redirect(back)
    return render_template(
        "credentials/confirm_remove.html", form=form, credential=credential, back=back
    )


# --- the academy's register --------------------------------------------------------------------


def search_credentials(stmt: sa.Select, q: str) -> sa.Select:
    """Credentials whose title, or whose learner's name or email, contains `q` (any case)."""
    if not q:
        return stmt
    needle = q.lower()
    return stmt.where(
        sa.or_(
            sa.func.lower(Credential.title).contains(needle, autoescape=True),
            sa.func.lower(User.name).contains(needle, autoescape=True),
            User.email.contains(needle, autoescape=True),  # emails are stored lower-case
        )
    )


@bp.get("/admin/credentials")
def register():
    require(can_manage_credentials)
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    organisation_id = request.args.get("organisation", type=int)
    stmt = (
        visible_credentials(current_user)
        .join(User, User.id == Credential.user_id)
        .options(joinedload(Credential.user).joinedload(User.organisation))
    )
    stmt = search_credentials(stmt, q)
    if status in STATUSES:
        stmt = stmt.where(status_clause(status, clock.now()))
    else:
        status = ""
    if kind in KINDS:
        stmt = stmt.where(Credential.kind == kind)
    else:
        kind = ""
    if organisation_id is not None:
        stmt = stmt.where(User.organisation_id == organisation_id)
    return render_template(
        "credentials/register.html",
        page=page_of(stmt),
        q=q,
        status=status,
        kind=kind,
        organisation_id=organisation_id,
        organisations=list(db.session.scalars(visible_organisations(current_user))),
        statuses=STATUSES,
        filtered=bool(q or status or kind or organisation_id is not None),
    )


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    label: str
    actor: User | None
    reason: str


def history(credential: Credential) -> list[HistoryEntry]:
    rows = db.session.execute(
        sa.select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == "credential", AuditEvent.object_id == str(credential.id))
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    entries = []
    for event, actor in rows:
        after = event.after or {}
        reason = after.get("reason") or ""
        if event.action == "credential.revoke":
            reason = after.get("revoked_reason") or reason
        elif event.action == "credential.suspend":
            reason = after.get("suspended_reason") or reason
        label = AUDIT_LABELS.get(event.action, event.action)
        entries.append(HistoryEntry(event, label, actor, reason))
    return entries


def _reason_form(action: str, **kwargs) -> ReasonForm:
    """One action's form; prefixed, as all three share a page and their boxes need their own ids
    and labels."""
    form = ReasonForm(prefix=action, **kwargs)
    form.reason.label.text = STATUS_CHANGES[action][2]
    return form


def _render_detail(credential: Credential, reason_forms: dict | None = None, status: int = 200):
    forms = {action: _reason_form(action, formdata=None) for action in STATUS_CHANGES}
    forms.update(reason_forms or {})
    return render_template(
        "credentials/detail.html",
        credential=credential,
        status=credential.status,
        history=history(credential),
        reason_forms=forms,
        confirm_form=ConfirmForm(formdata=None),
        public_link=public_url(credential) if credential.is_issued else None,
        form=next((f for f in (reason_forms or {}).values() if f.errors), None),
    ), status


def _managed_or_404(credential_id: int) -> Credential:
    require(can_manage_credentials)
    return db.first_or_404(visible_credentials(current_user).where(Credential.id == credential_id))


@bp.get("/admin/credentials/<int:credential_id>")
def detail(credential_id: int):
    return _render_detail(_managed_or_404(credential_id))


@bp.post("/admin/credentials/<int:credential_id>/<any(revoke, suspend, reinstate):action>")
def change_status(credential_id: int, action: str):
    credential = _managed_or_404(credential_id)
    change, done, _ = STATUS_CHANGES[action]
    form = _reason_form(action)
    if not form.validate_on_submit():
        return _render_detail(credential, {action: form}, 422)
    try:
        change(credential, actor=current_user, reason=form.reason.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        if error.field != "reason":
            # The credential moved on since the page was drawn (revoked twice, say): say so on
            # the page as it is now.
            flash(error.message, "error")
            return redirect(url_for(".detail", credential_id=credential.id))
        show_domain_error(form, error)
        return _render_detail(credential, {action: form}, error.status)
    log.info("credential %s %s by %s", credential.id, done, current_user.id)
    flash(f"“{credential.title}” of {credential.user.name} has been {done}", "success")
    return redirect(url_for(".detail", credential_id=credential.id))


@bp.post("/admin/credentials/<int:credential_id>/verify")
def verify(credential_id: int):
    credential = _managed_or_404(credential_id)
    if not ConfirmForm().validate_on_submit():  # only its CSRF token to check
        abort(400)
    if save_or_flash(lambda: services.verify_external(credential, actor=current_user)):
        log.info("external credential %s verified by %s", credential.id, current_user.id)
        flash(f"“{credential.title}” of {credential.user.name} is now verified", "success")
    return redirect(url_for(".detail", credential_id=credential.id))
