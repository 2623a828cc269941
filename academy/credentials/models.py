from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.auth.models import User
from academy.catalogue.models import Module, Programme
from academy.core import clock
from academy.core.calendar import uk_date
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db

#: `module` and `award` credentials are issued and signed by the academy; `external` ones are
#: held elsewhere and recorded here with evidence.
KINDS = ("module", "award", "external")
#: An external credential is self-declared until an admin has seen the evidence.
VERIFICATIONS = ("self_declared", "verified")
STATUS_PURPOSES = ("revocation", "suspension")
#: The smallest list the Bitstring Status List spec allows, so a set bit says little about who.
STATUS_LIST_SIZE = 131_072


class IssuerKey(db.Model):
    """Every public key the academy has signed with. Private keys live in configuration or the
    key file, never here; public keys stay here after rotation so old credentials still verify."""

    __tablename__ = "issuer_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key_multibase: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)

    def __repr__(self) -> str:
        return f"<IssuerKey {self.public_key_multibase}>"


class StatusList(db.Model):
    """A Bitstring Status List of one purpose. Credentials take the next free index; the bits
    are worked out from the credentials themselves when the list is served."""

    __tablename__ = "status_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    size: Mapped[int] = mapped_column(nullable=False, default=STATUS_LIST_SIZE)
    next_index: Mapped[int] = mapped_column(nullable=False, default=0)
    #: Moved on whenever a bit changes, and used as the list credential's `validFrom`.
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)

    __table_args__ = (
        sa.CheckConstraint("purpose IN ('revocation', 'suspension')", name="purpose_known"),
        sa.CheckConstraint("next_index <= size", name="within_size"),
    )

    def __repr__(self) -> str:
        return f"<StatusList {self.id} {self.purpose} {self.next_index}/{self.size}>"


class Credential(TimestampMixin, db.Model):
    """A credential a learner holds: issued by the academy (module or award, signed Open Badges
    3.0) or recorded from elsewhere (external)."""

    __tablename__ = "credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The public identifier in verification links; the integer id never leaves the API.
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    #: Who issued it: the academy's name for issued credentials, the awarding body for external.
    issuer_name: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    #: Module pass or programme award this was issued for.
    module_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("module.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="RESTRICT"), index=True
    )
    cohort_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cohort.id", ondelete="RESTRICT"), index=True
    )
    #: "Course", "Certificate" or "Diploma" (Open Badges achievementType).
    achievement_type: Mapped[str | None] = mapped_column(sa.String(32))
    #: The award's class: Pass, Merit or Distinction.
    classification: Mapped[str | None] = mapped_column(sa.String(32))
    credits_earned: Mapped[int | None] = mapped_column()
    credits_available: Mapped[int | None] = mapped_column()
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: Holds one live issued credential per learner and module or programme; cleared on
    #: revocation so a later pass can be issued again. Unique, so issuing twice at once fails.
    issue_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: The signed OpenBadgeCredential exactly as issued. Revocation never changes it: the
    #: status lists do.
    document: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    revocation_list_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("status_list.id", ondelete="RESTRICT")
    )
    revocation_index: Mapped[int | None] = mapped_column()
    suspension_list_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("status_list.id", ondelete="RESTRICT")
    )
    suspension_index: Mapped[int | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    # External credentials only.
    issued_on: Mapped[date | None] = mapped_column(sa.Date)
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
    verification: Mapped[str | None] = mapped_column(sa.String(16))
    verified_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    evidence_name: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = version_column()

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    module: Mapped[Module | None] = relationship()
    programme: Mapped[Programme | None] = relationship()
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("kind IN ('module', 'award', 'external')", name="kind_known"),
        sa.CheckConstraint(
            "verification IS NULL OR verification IN ('self_declared', 'verified')",
            name="verification_known",
        ),
        sa.CheckConstraint(
            "kind = 'external' OR document IS NOT NULL", name="issued_credentials_signed"
        ),
        sa.UniqueConstraint("revocation_list_id", "revocation_index", name="uq_revocation_slot"),
        sa.UniqueConstraint("suspension_list_id", "suspension_index", name="uq_suspension_slot"),
    )

    def __repr__(self) -> str:
        return f"<Credential {self.uuid} {self.kind} {self.title!r}>"

    @property
    def is_issued(self) -> bool:
        return self.kind != "external"

    @property
    def expiry(self) -> datetime | date | None:
        return self.expires_at if self.is_issued else self.expires_on

    def status_at(self, moment: datetime) -> str:
        """valid, expired, revoked or suspended: revocation outranks everything, suspension
        outranks expiry (a suspended credential is not to be relied on at all)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.suspended_at is not None:
            return "suspended"
        if self.is_issued:
            if self.expires_at is not None and self.expires_at <= moment:
                return "expired"
        elif self.expires_on is not None and self.expires_on < uk_date(moment):
            return "expired"
        return "valid"

    @property
    def status(self) -> str:
        return self.status_at(clock.now())


def status_clause(status: str, moment: datetime):
    """SQL true exactly where `Credential.status_at(moment)` is `status`, with the same order of
    precedence (revoked, then suspended, then expired, else valid), so lists filter by status
    without loading every row."""
    revoked = Credential.revoked_at.is_not(None)
    suspended = Credential.suspended_at.is_not(None)
    expired = sa.or_(
        sa.and_(
            Credential.kind != "external",
            Credential.expires_at.is_not(None),
            Credential.expires_at <= moment,
        ),
        sa.and_(
            Credential.kind == "external",
            Credential.expires_on.is_not(None),
            Credential.expires_on < uk_date(moment),
        ),
    )
    return {
        "revoked": revoked,
        "suspended": sa.and_(~revoked, suspended),
        "expired": sa.and_(~revoked, ~suspended, expired),
        "valid": sa.and_(~revoked, ~suspended, ~expired),
    }[status]
