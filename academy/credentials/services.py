"""Issuing, revoking, suspending and reinstating credentials; recording external ones.

Issued credentials follow the results: `reconcile` is called whenever a learner's module result
is worked out again, and issues what the results now earn (idempotently: `issue_key` is unique)
and revokes what they no longer do, such as after a released mark is lowered below the pass.
"""

from __future__ import annotations

import uuid as uuid_module
from datetime import date
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from academy.audit import services as audit
from academy.auth.models import User
from academy.catalogue.models import Module, Programme
from academy.cohorts.models import Cohort, ModuleDelivery
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.core.uploads import store_upload
from academy.credentials import document as documents
from academy.credentials import keys, proof
from academy.credentials.models import Credential, StatusList
from academy.extensions import db

EVIDENCE_TYPES = ("pdf", "png", "jpg", "docx", "odt")
EVIDENCE_MAX_MB = 10
REASON_MAX = 1000
AUTOMATIC_REVOCATION = "The result no longer meets the pass: a released mark was changed"
AWARD_REVOCATION = "The award rules are no longer met: a released mark was changed"


def snapshot(credential: Credential) -> dict:
    return {
        "status": credential.status,
        "revoked_reason": credential.revoked_reason or None,
        "suspended_reason": credential.suspended_reason or None,
        "verification": credential.verification,
    }


def _add_months(moment, months: int):
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(moment)


# --- status lists --------------------------------------------------------------------------------


def _allocate(purpose: str) -> tuple[int, int]:
    """The next free index on an open list of `purpose`, as `(list id, index)`. The conditional
    UPDATE ... RETURNING takes the index and moves the counter in one statement, so two issues
    at once never share a bit; a full list makes way for a new one."""
    for _ in range(3):
        list_id = db.session.scalar(
            sa.select(StatusList.id)
            .where(StatusList.purpose == purpose, StatusList.next_index < StatusList.size)
            .order_by(StatusList.id)
            .limit(1)
        )
        if list_id is None:
            status_list = StatusList(purpose=purpose)
            db.session.add(status_list)
            db.session.flush()
            list_id = status_list.id
        taken = db.session.execute(
            sa.update(StatusList)
            .where(StatusList.id == list_id, StatusList.next_index < StatusList.size)
            .values(next_index=StatusList.next_index + 1)
            .returning(StatusList.next_index)
            .execution_options(synchronize_session=False)
        ).scalar()
        if taken is not None:
            return list_id, taken - 1
    raise Conflict("No status list has room; try again")


def _touch_list(list_id: int | None) -> None:
    if list_id is not None:
        db.session.execute(
            sa.update(StatusList)
            .where(StatusList.id == list_id)
            .values(changed_at=clock.now())
            .execution_options(synchronize_session=False)
        )


def status_entries(credential: Credential) -> list[dict]:
    from academy.credentials.statuslist import list_url

    entries = []
    for purpose, list_id, index in (
        ("revocation", credential.revocation_list_id, credential.revocation_index),
        ("suspension", credential.suspension_list_id, credential.suspension_index),
    ):
        status_list = db.session.get(StatusList, list_id)
        url = list_url(status_list)
        entries.append(
            {
                "id": f"{url}#{index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": url,
            }
        )
    return entries


# --- issuing -------------------------------------------------------------------------------------


def _live(issue_key: str) -> Credential | None:
    return db.session.scalar(sa.select(Credential).where(Credential.issue_key == issue_key))


def _issue(credential: Credential, *, actor) -> Credential:
    """Sign and store a new credential. Runs in a savepoint: if another request issued the same
    thing first, the unique issue_key refuses ours and theirs stands."""
    key = keys.signing_key()
    keys.register(key)
    credential.uuid = str(uuid_module.uuid4())
    credential.issuer_name = current_app.config["ACADEMY_ISSUER_NAME"]
    credential.issued_at = clock.now().replace(microsecond=0)
    try:
        with db.session.begin_nested():
            credential.revocation_list_id, credential.revocation_index = _allocate("revocation")
            credential.suspension_list_id, credential.suspension_index = _allocate("suspension")
            unsigned = documents.build(credential, status_entries(credential))
            credential.document = proof.sign(
                unsigned, key.private_key, key.verification_method, credential.issued_at
            )
            db.session.add(credential)
            db.session.flush()
    except sa.exc.IntegrityError:
        existing = _live(credential.issue_key)
        if existing is None:
            raise
        return existing
    audit.record(
        "credential.issue",
        actor=actor,
        obj=credential,
        after={"kind": credential.kind, "title": credential.title, "user_id": credential.user_id},
    )
    _tell_learner(credential, "credential_issued", f"Your credential: {credential.title}")
    return credential


def _tell_learner(credential: Credential, template: str, subject: str, **context) -> None:
    """Email the holder about their credential in the same transaction as the change, so no
    email announces an issue or revocation that was rolled back."""
    from academy.core.urls import external_url
    from academy.notifications.mail import send_email

    learner = credential.user
    send_email(
        learner.email,
        subject,
        template,
        user=learner,
        credential=credential,
        verification_url=documents.public_url(credential),
        wallet_url=external_url("credentials.wallet"),
        **context,
    )


def issue_module_credential(
    user: User, module: Module, *, cohort_id: int, credits: int, actor=None
):
    """The learner's credential for passing `module`; the one they hold already if any."""
    issue_key = f"module:{user.id}:{module.id}"
    existing = _live(issue_key)
    if existing is not None:
        return existing
    now = clock.now().replace(microsecond=0)
    credential = Credential(
        user=user,
        user_id=user.id,
        kind="module",
        title=f"{module.code} {module.title}",
        module=module,
        module_id=module.id,
        cohort_id=cohort_id,
        achievement_type="Course",
        credits_earned=credits,
        credits_available=module.credits,
        issue_key=issue_key,
        expires_at=(
            _add_months(now, module.credential_valid_months)
            if module.credential_valid_months
            else None
        ),
    )
    return _issue(credential, actor=actor)


def issue_award_credential(user: User, cohort: Cohort, standing: dict, *, actor=None):
    programme: Programme = cohort.programme
    issue_key = f"award:{user.id}:{programme.id}"
    existing = _live(issue_key)
    if existing is not None:
        return existing
    now = clock.now().replace(microsecond=0)
    credential = Credential(
        user=user,
        user_id=user.id,
        kind="award",
        title=programme.award_title,
        programme=programme,
        programme_id=programme.id,
        cohort_id=cohort.id,
        achievement_type=programme.award_type,
        classification=standing["classification"],
        credits_earned=standing["credits"],
        credits_available=programme.credits_required,
        issue_key=issue_key,
        expires_at=(
            _add_months(now, programme.credential_valid_months)
            if programme.credential_valid_months
            else None
        ),
    )
    return _issue(credential, actor=actor)


def _award_earned(user_id: int, cohort: Cohort, standing: dict) -> bool:
    from academy.assessment.models import Assignment, Submission
    from academy.marking.models import Mark, ModuleResult

    programme = cohort.programme
    if standing["credits"] < programme.credits_required:
        return False
    if set(standing["core_required"]) - set(standing["core_passed"]):
        return False
    if standing["classification"] in (None, "Fail"):
        return False
    if programme.award_needs_ratification:
        # Every released mark behind a passed module of this cohort must have been ratified.
        passed_modules = sa.select(ModuleResult.module_id).where(
            ModuleResult.user_id == user_id,
            ModuleResult.cohort_id == cohort.id,
            ModuleResult.passed.is_(True),
        )
        unratified = db.session.scalar(
            sa.select(sa.func.count(Mark.id))
            .join(Mark.submission)
            .join(Submission.assignment)
            .join(Assignment.delivery)
            .where(
                Submission.user_id == user_id,
                ModuleDelivery.cohort_id == cohort.id,
                ModuleDelivery.module_id.in_(passed_modules),
                Mark.status == "released",
                Mark.ratified_at.is_(None),
            )
        )
        if unratified:
            return False
    return True


def reconcile(user_id: int, delivery: ModuleDelivery, *, actor=None) -> None:
    """Make the learner's issued credentials match their results: issue a module credential for
    a pass, the award once its rules are met, and revoke either when a changed mark means it is
    no longer earned."""
    from academy.marking.models import ModuleResult
    from academy.marking.services import programme_standing

    user = db.session.get(User, user_id)
    module = delivery.module
    passed = db.session.scalar(
        sa.select(ModuleResult)
        .where(
            ModuleResult.user_id == user_id,
            ModuleResult.module_id == module.id,
            ModuleResult.passed.is_(True),
            ModuleResult.status == "complete",
        )
        .order_by(ModuleResult.attempt.desc())
        .limit(1)
    )
    held = _live(f"module:{user_id}:{module.id}")
    if passed is not None:
        issue_module_credential(
            user, module, cohort_id=passed.cohort_id, credits=passed.credits, actor=actor
        )
    elif held is not None:
        revoke(held, actor=actor, reason=AUTOMATIC_REVOCATION)

    cohort = delivery.cohort
    standing = programme_standing(user_id, cohort)
    award = _live(f"award:{user_id}:{cohort.programme_id}")
    if _award_earned(user_id, cohort, standing):
        issue_award_credential(user, cohort, standing, actor=actor)
    elif award is not None and award.cohort_id == cohort.id:
        revoke(award, actor=actor, reason=AWARD_REVOCATION)


# --- revocation and suspension -------------------------------------------------------------------


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"Keep the reason to {REASON_MAX} characters", field="reason")
    return reason


def _issued(credential: Credential) -> None:
    if not credential.is_issued:
        raise Conflict("Only credentials the academy issued can be revoked or suspended")


def _record_change(
    credential: Credential, action, actor, before, list_id, template, subject, **context
) -> None:
    """What every status change does after changing the row: move its status list on (so the
    signed list is re-issued), audit it with the reason, and tell the learner."""
    _touch_list(list_id)
    db.session.flush()
    audit.record(
        f"credential.{action}",
        actor=actor,
        obj=credential,
        before=before,
        after={**snapshot(credential), "reason": context.get("reason")},
    )
    _tell_learner(credential, template, subject, **context)


def revoke(credential: Credential, *, actor, reason: str) -> Credential:
    """Permanent: the revocation bit is set and the public page says why. Frees the learner's
    slot so a later pass (a resit, say) is issued afresh."""
    _issued(credential)
    reason = _reason(reason)
    if credential.revoked_at is not None:
        raise Conflict("This credential is already revoked")
    before = snapshot(credential)
    credential.revoked_at = clock.now()
    credential.revoked_reason = reason
    credential.issue_key = None
    _record_change(
        credential, "revoke", actor, before, credential.revocation_list_id,
        "credential_revoked", f"Your credential has been revoked: {credential.title}",
        change="revoked", reason=reason,
    )  # fmt: skip
    return credential


def suspend(credential: Credential, *, actor, reason: str) -> Credential:
    """Temporary: the suspension bit is set until an admin reinstates it."""
    _issued(credential)
    reason = _reason(reason)
    if credential.revoked_at is not None:
        raise Conflict("A revoked credential cannot be suspended")
    if credential.suspended_at is not None:
        raise Conflict("This credential is already suspended")
    before = snapshot(credential)
    credential.suspended_at = clock.now()
    credential.suspended_reason = reason
    _record_change(
        credential, "suspend", actor, before, credential.suspension_list_id,
        "credential_revoked", f"Your credential has been suspended: {credential.title}",
        change="suspended", reason=reason,
    )  # fmt: skip
    return credential


def reinstate(credential: Credential, *, actor, reason: str) -> Credential:
    _issued(credential)
    reason = _reason(reason)
    if credential.suspended_at is None or credential.revoked_at is not None:
        raise Conflict("Only a suspended credential can be reinstated")
    before = snapshot(credential)
    credential.suspended_at = None
    credential.suspended_reason = ""
    _record_change(
        credential, "reinstate", actor, before, credential.suspension_list_id,
        "credential_reinstated", f"Your credential has been reinstated: {credential.title}",
        reason=reason,
    )  # fmt: skip
    return credential


# --- external credentials ------------------------------------------------------------------------


def _text(value, field: str, label: str, limit: int = 300) -> str:
    value = proof.strip_control_characters((value or "").strip())
    if not value:
        raise DomainError(f"Enter the {label}", field=field)
    if len(value) > limit:
        raise DomainError(f"The {label} must be {limit} characters or fewer", field=field)
    return value


def record_external(
    user: User,
    *,
    actor,
    title: str,
    issuer: str,
    issued_on: date,
    expires_on: date | None = None,
    evidence: tuple[BinaryIO, str] | None = None,
) -> Credential:
    """A credential held elsewhere. Self-declared until an admin has checked the evidence,
    whoever records it."""
    title = _text(title, "title", "credential's title")
    issuer = _text(issuer, "issuer", "awarding body")
    if issued_on is None:
        raise DomainError("Enter the date it was awarded", field="issued_on")
    if issued_on > clock.today():
        raise DomainError("The award date cannot be in the future", field="issued_on")
    if expires_on is not None and expires_on <= issued_on:
        raise DomainError("The expiry date must be after the award date", field="expires_on")
    stored = None
    if evidence is not None:
        stored = store_upload(
            *evidence,
            allowed_types=EVIDENCE_TYPES,
            max_mb=EVIDENCE_MAX_MB,
            field="evidence",
            what="The evidence file",
        )
    credential = Credential(
        uuid=str(uuid_module.uuid4()),
        user_id=user.id,
        kind="external",
        title=title,
        issuer_name=issuer,
        issued_at=clock.now(),
        issued_on=issued_on,
        expires_on=expires_on,
        verification="self_declared",
        recorded_by_id=getattr(actor, "id", None),
        evidence_sha256=stored.sha256 if stored else None,
        evidence_name=stored.name if stored else None,
    )
    db.session.add(credential)
    db.session.flush()
    audit.record(
        "credential.record_external",
        actor=actor,
        obj=credential,
        after={"user_id": user.id, "title": title, "issuer": issuer},
    )
    return credential


def verify_external(credential: Credential, *, actor) -> Credential:
    if credential.kind != "external":
        raise Conflict("Only external credentials are verified by hand")
    if credential.verification == "verified":
        raise Conflict("This credential is already verified")
    before = snapshot(credential)
    credential.verification = "verified"
    credential.verified_by_id = actor.id
    credential.verified_at = clock.now()
    db.session.flush()
    audit.record(
        "credential.verify_external",
        actor=actor,
        obj=credential,
        before=before,
        after=snapshot(credential),
    )
    return credential


def remove_external(credential: Credential, *, actor) -> None:
    """Learners and sponsors remove what they recorded while it is self-declared; admins
    remove any external credential. The audit record keeps what it was."""
    if credential.kind != "external":
        raise Conflict("Issued credentials are revoked, not removed")
    audit.record(
        "credential.remove_external",
        actor=actor,
        obj=credential,
        before={
            "title": credential.title,
            "issuer": credential.issuer_name,
            **snapshot(credential),
        },
    )
    db.session.delete(credential)
    db.session.flush()
