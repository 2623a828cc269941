from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.auth.models import User
from academy.catalogue.models import Module, Programme
from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db
from academy.organisations.models import Organisation

ENROLMENT_STATUSES = ("active", "deferred", "withdrawn", "completed")
#: Allowed status changes. Withdrawn and completed are final; a deferral can resume.
TRANSITIONS = {
    "active": {"deferred", "withdrawn", "completed"},
    "deferred": {"active", "withdrawn"},
    "withdrawn": set(),
    "completed": set(),
}
#: Statuses that hold a place in the cohort (a withdrawal frees one).
HOLDS_A_PLACE = ("active", "deferred", "completed")


class Cohort(TimestampMixin, db.Model):
    """One intake of a programme, e.g. "2027 spring"."""

    __tablename__ = "cohort"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    starts_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    capacity: Mapped[int] = mapped_column(nullable=False)
    #: Places held by enrolments, kept by the enrolment services with a conditional UPDATE so
    #: that two admins enrolling at once cannot overfill the cohort (the CHECK is the backstop).
    places_taken: Mapped[int] = mapped_column(nullable=False, default=0)
    #: Picks the bank-holiday calendar for working-day deadlines.
    nation: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="england")
    #: Extensions up to this many working days are approved without a tutor (self-certified).
    self_certified_extension_days: Mapped[int] = mapped_column(
        nullable=False, default=5, server_default="5"
    )
    #: Late penalty policy: `none`, `per_day` (minus late_penalty_marks per working day late, up
    #: to late_penalty_max_days, then zero) or `cap_at_pass` (late work can reach the pass mark).
    late_penalty_kind: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default="per_day", server_default="per_day"
    )
    #: Percentage points of the maximum mark taken per working day late.
    late_penalty_marks: Mapped[int] = mapped_column(nullable=False, default=5, server_default="5")
    late_penalty_max_days: Mapped[int] = mapped_column(
        nullable=False, default=5, server_default="5"
    )
    #: Feedback is due this many working days after submission.
    feedback_working_days: Mapped[int] = mapped_column(
        nullable=False, default=15, server_default="15"
    )
    version: Mapped[int] = version_column()

    programme: Mapped[Programme] = relationship(lazy="joined")
    deliveries: Mapped[list[ModuleDelivery]] = relationship(
        back_populates="cohort",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(ModuleDelivery.starts_on, ModuleDelivery.id)",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "name", name="uq_cohort_programme_name"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint(
            "places_taken >= 0 AND places_taken <= capacity", name="places_within_capacity"
        ),
        sa.CheckConstraint(
            "late_penalty_kind IN ('none', 'per_day', 'cap_at_pass')", name="late_penalty_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<Cohort {self.id} {self.name!r}>"

    @property
    def places_left(self) -> int:
        return self.capacity - self.places_taken


class ModuleDelivery(db.Model):
    """A module as a cohort runs it, with its own dates."""

    __tablename__ = "module_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cohort.id", ondelete="CASCADE"), nullable=False, index=True
    )
    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("module.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    starts_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(sa.Date, nullable=False)

    cohort: Mapped[Cohort] = relationship(back_populates="deliveries")
    module: Mapped[Module] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("cohort_id", "module_id", name="uq_module_delivery_cohort_module"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
    )

    def __repr__(self) -> str:
        return f"<ModuleDelivery cohort={self.cohort_id} module={self.module_id}>"


class Enrolment(TimestampMixin, db.Model):
    """A learner in a cohort, sponsored by an organisation (normally their employer)."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    cohort_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cohort.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: The organisation that sponsored this enrolment, kept even if the learner moves on, so
    #: history stays with the trust that paid for it.
    sponsor_organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)
    version: Mapped[int] = version_column()

    user: Mapped[User] = relationship(lazy="joined")
    cohort: Mapped[Cohort] = relationship(lazy="joined")
    sponsor_organisation: Mapped[Organisation] = relationship(lazy="joined")
    history: Mapped[list[EnrolmentStatusChange]] = relationship(
        back_populates="enrolment",
        order_by="EnrolmentStatusChange.id",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("user_id", "cohort_id", name="uq_enrolment_user_cohort"),
        sa.CheckConstraint(
            "status IN ('active', 'deferred', 'withdrawn', 'completed')", name="status_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<Enrolment {self.id} user={self.user_id} cohort={self.cohort_id} {self.status}>"


class EnrolmentStatusChange(db.Model):
    """Every status an enrolment has had: who changed it, when and why."""

    __tablename__ = "enrolment_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrolment.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: Null for the enrolment itself.
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    changed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)

    enrolment: Mapped[Enrolment] = relationship(back_populates="history")
    changed_by: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<EnrolmentStatusChange {self.enrolment_id} {self.from_status}->{self.to_status}>"
