from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.core.models import TimestampMixin, version_column
from academy.extensions import db


class CpdEntry(TimestampMixin, db.Model):
    """A learner's own record of continuing professional development, for appraisal and
    revalidation. Academy study is not stored here: it is worked out from their modules."""

    __tablename__ = "cpd_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    #: e.g. course, conference, reading, e-learning, work-based (see `CPD_ACTIVITY_TYPES`).
    activity_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    provider: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    started_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    ended_on: Mapped[date | None] = mapped_column(sa.Date)
    #: In hours, to one decimal place.
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(6, 1), nullable=False)
    reflection: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("hours > 0", name="hours_positive"),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
    )

    def __repr__(self) -> str:
        return f"<CpdEntry {self.id} user={self.user_id} {self.hours}h {self.title!r}>"

    @property
    def activity_label(self) -> str:
        return CPD_ACTIVITY_TYPES.get(self.activity_type, self.activity_type)


CPD_ACTIVITY_TYPES = {
    "course": "Course or module",
    "conference": "Conference or event",
    "e_learning": "E-learning",
    "reading": "Reading or research",
    "work_based": "Work-based learning",
    "teaching": "Teaching or mentoring",
    "other": "Other",
}
