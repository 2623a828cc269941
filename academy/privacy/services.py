"""Privacy changes: erasing a person's personal data (UK GDPR art. 17) and recording data exports
(art. 15 and 20). Functions flush; the caller commits.

Erasure anonymises the person and deletes what is theirs alone (CPD log, external credentials
and their evidence, emails to them, sign-in secrets), and keeps the assessment record the
academy must be able to confirm: submissions' receipts, marks, results and issued credentials,
which stay valid and verifiable. Files of work still within its retention period stay too;
those past it go now, as the retention job would take them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from academy.assessment.models import Extension, Submission
from academy.audit import services as audit
from academy.auth import services as auth_services
from academy.auth.models import ApiToken, RecoveryCode, User
from academy.cohorts import services as cohort_services
from academy.cohorts.models import Enrolment
from academy.core import blobs, clock
from academy.core.calendar import uk_date
from academy.core.errors import Conflict, DomainError
from academy.cpd.models import CpdEntry
from academy.credentials.models import Credential
from academy.extensions import db
from academy.notifications.models import OutboxMessage
from academy.privacy import retention
from academy.reporting.models import ReportSubscription

log = logging.getLogger(__name__)

MAX_REASON = 2000
#: What an erased person's extension requests say instead of the reason they gave, which may
#: describe their health.
ERASED_TEXT = "Removed when the person's personal data was erased."
#: Enrolments still holding a place are withdrawn so the person leaves cohort lists.
WITHDRAWN_ON_ERASURE = ("active", "deferred")


def erased_name(user_id: int) -> str:
    return f"Erased person {user_id}"


def erased_email(user_id: int) -> str:
    # .invalid is reserved (RFC 2606): nothing can ever be sent to it.
    return f"erased-{user_id}@erased.invalid"


@dataclass
class ErasureSummary:
    cpd_entries_deleted: int = 0
    external_credentials_deleted: int = 0
    outbox_messages_deleted: int = 0
    submissions_files_purged: int = 0
    extension_reasons_removed: int = 0
    enrolments_withdrawn: int = 0
    roles_ended: int = 0
    api_tokens_revoked: int = 0
    recovery_codes_deleted: int = 0
    report_subscriptions_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def check_erasure(user: User, *, actor: User, confirm_email: str, reason: str) -> str:
    """The cleaned reason, or a refusal: already erased (409), the admin themself, the email
    typed not the person's, or no reason."""
    if user.erased_at is not None:
        raise Conflict("This person's personal data has already been erased")
    if actor is not None and actor.id == user.id:
        raise DomainError(
            "You cannot erase your own personal data: ask another academy admin", status=403
        )
    if auth_services.normalise_email(confirm_email or "") != user.email:
        raise DomainError(
            "Type the person's email address exactly as it is shown", field="confirm_email"
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason for erasing this person's data", field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(f"The reason must be {MAX_REASON:,} characters or fewer", field="reason")
    return reason


def erase_user(user: User, *, actor: User, confirm_email: str, reason: str) -> ErasureSummary:
    """Erase `user`'s personal data, keeping their assessment record under an anonymous name.
    Files are deleted after the commit, and only those no other row still names."""
    reason = check_erasure(user, actor=actor, confirm_email=confirm_email, reason=reason)
    now = clock.now()
    summary = ErasureSummary()

    # Emails to them: the address is about to go, and the bodies name them.
    messages = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.attachments).where(
            sa.or_(OutboxMessage.user_id == user.id, OutboxMessage.recipient == user.email)
        )
    ).all()
    if messages:
        db.session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.id.in_([row.id for row in messages]))
        )
        for row in messages:
            for item in row.attachments or []:
                blobs.delete_if_unreferenced(item.get("sha256", ""))
    summary.outbox_messages_deleted = len(messages)

    summary.cpd_entries_deleted = (
        db.session.execute(sa.delete(CpdEntry).where(CpdEntry.user_id == user.id)).rowcount or 0
    )

    externals = db.session.scalars(
        sa.select(Credential).where(Credential.user_id == user.id, Credential.kind == "external")
    ).all()
    for credential in externals:
        if credential.evidence_sha256:
            blobs.delete_if_unreferenced(credential.evidence_sha256)
        db.session.delete(credential)
    summary.external_credentials_deleted = len(externals)

    # Work past its retention period loses its files now; work within it keeps them until then.
    expired = db.session.scalars(
        sa.select(Submission).where(
            Submission.user_id == user.id,
            Submission.id.in_(retention.past_retention(uk_date(now))),
        )
    ).all()
    retention.purge_submission_files(expired, now=now)
    summary.submissions_files_purged = len(expired)

    for extension in db.session.scalars(sa.select(Extension).where(Extension.user_id == user.id)):
        if extension.reason != ERASED_TEXT:
            extension.reason = ERASED_TEXT
            summary.extension_reasons_removed += 1

    for enrolment in db.session.scalars(
        sa.select(Enrolment).where(
            Enrolment.user_id == user.id, Enrolment.status.in_(WITHDRAWN_ON_ERASURE)
        )
    ):
        cohort_services.change_status(
            enrolment, status="withdrawn", reason="Personal data erased", actor=actor
        )
        summary.enrolments_withdrawn += 1

    for assignment in list(user.roles):
        if assignment.ended_at is None:
            auth_services.end_role(assignment, actor=actor)
            summary.roles_ended += 1

    summary.report_subscriptions_deleted = (
        db.session.execute(
            sa.delete(ReportSubscription).where(ReportSubscription.user_id == user.id)
        ).rowcount
        or 0
    )
    summary.api_tokens_revoked = (
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        or 0
    )
    summary.recovery_codes_deleted = (
        db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id)).rowcount
        or 0
    )

    user.name = erased_name(user.id)
    user.email = erased_email(user.id)
    user.staff_number = None
    user.professional_registration = None
    user.password_hash = None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.email_opt_outs = []
    user.shares_marks_with_sponsor = False
    user.active = False
    # Ends every browser session at its next request (academy.core.security), besides `active`.
    user.session_epoch = (user.session_epoch or 0) + 1
    user.erased_at = now
    db.session.flush()
    # The reason and what was done, and nothing that names the person.
    audit.record(
        "privacy.erase", actor=actor, obj=user, after={"reason": reason, **summary.as_dict()}
    )
    log.info("personal data of user %s erased by %s", user.id, getattr(actor, "id", None))
    return summary


def record_export(user: User, *, channel: str, files: int, size: int) -> None:
    """Audit a download of `user`'s own data: who, when, from where, and how much."""
    audit.record(
        "privacy.export",
        actor=user,
        obj=user,
        after={"channel": channel, "files": files, "bytes": size},
    )
    log.info("user %s exported their data (%s, %s bytes)", user.id, channel, size)
