from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db
from academy.organisations.models import Organisation

ROLES = ("learner", "tutor", "sponsor", "examiner", "admin")
ROLE_LABELS = {
    "learner": "Learner",
    "tutor": "Tutor",
    "sponsor": "Sponsor",
    "examiner": "Examiner",
    "admin": "Academy admin",
}


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-case, which makes the unique constraint case-insensitive on every database.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: argon2id hash; null until the user sets a password from their invitation.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    #: GMC, NMC or HCPC number, when the person is registered.
    professional_registration: Mapped[str | None] = mapped_column(sa.String(32))
    #: ESR assignment number.
    staff_number: Mapped[str | None] = mapped_column(sa.String(32))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The learner's choice to let their sponsoring organisations see their marks and feedback.
    #: Off until they opt in; changed only by them, and audited.
    shares_marks_with_sponsor: Mapped[bool] = mapped_column(nullable=False, default=False)
    #: Optional email categories (academy.notifications.preferences.OPTIONAL) turned off.
    email_opt_outs: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    #: Every session carries the epoch it began in; "sign out everywhere" moves the epoch on, so
    #: sessions on every other device stop working at their next request.
    session_epoch: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    #: The TOTP secret, encrypted with a key derived from SECRET_KEY (academy.auth.mfa), so a
    #: copy of the database alone cannot mint codes. Null until the user enrols.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last 30-second step a code was accepted for: a code is good once (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Set when an admin erased the person's personal data (UK GDPR art. 17); the row stays so
    #: assessment and credential records that must be retained keep their foreign keys.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = version_column()

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user",
        foreign_keys="RoleAssignment.user_id",
        order_by="RoleAssignment.id",
        lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lower_case"),)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    # Flask-Login: a deactivated account cannot sign in or keep a session.
    @property
    def is_active(self) -> bool:
        return self.active

    def active_roles(self, on: date | None = None) -> list[RoleAssignment]:
        on = on or clock.today()
        return [r for r in self.roles if r.is_current(on)]

    def has_role(self, *names: str) -> bool:
        return any(r.role in names for r in self.active_roles())


class RoleAssignment(TimestampMixin, db.Model):
    """A role held by a user within a scope and a date range.

    Sponsors are scoped to an organisation, tutors to a cohort, examiners to a programme; admins
    and learners hold unscoped roles (a learner's reach comes from their enrolments).
    """

    __tablename__ = "role_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    cohort_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cohort.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="RESTRICT"), index=True
    )
    #: Inclusive dates; `valid_to` null means open-ended.
    valid_from: Mapped[date] = mapped_column(sa.Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    granted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('learner', 'tutor', 'sponsor', 'examiner', 'admin')", name="role_known"
        ),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="dates_in_order"),
    )

    def __repr__(self) -> str:
        return f"<RoleAssignment {self.id} user={self.user_id} {self.role}>"

    def is_current(self, on: date) -> bool:
        return (
            self.ended_at is None
            and self.valid_from <= on
            and (self.valid_to is None or on <= self.valid_to)
        )

    @property
    def label(self) -> str:
        return ROLE_LABELS[self.role]


class ApiToken(TimestampMixin, db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: Hex SHA-256 of the token. Tokens are 256 random bits, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What the token may do (academy.auth.api_auth.TOKEN_SCOPES). Tokens made before scopes
    #: existed keep the full reach they were issued with.
    scopes: Mapped[list[str]] = mapped_column(
        sa.JSON,
        nullable=False,
        default=lambda: ["read", "write"],
        server_default='["read", "write"]',
    )

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id} {self.label!r}>"

    def is_usable(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class RecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code when the authenticator is lost.
    Only a keyed hash is stored; the codes are shown once, when made."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_code"),)


class LoginThrottle(db.Model):
    """Failed sign-ins counted per account name and per client address, in the database so every
    app node sees the same count. `key` is a hash of ("account" or "ip", value), so the table
    holds no email addresses, and unknown addresses are throttled exactly like real ones."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(nullable=False, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
