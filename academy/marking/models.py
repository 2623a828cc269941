from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.assessment.models import Submission
from academy.auth.models import User
from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db

#: A mark's life: draft (the first marker is still working) → marked → second_marked (when the
#: script was chosen for second marking) → agreed → ratified (optional exam board) → released.
MARK_STATUSES = ("draft", "marked", "second_marked", "agreed", "ratified", "released")
#: Marks here may be released once everything the rules ask for is done.
MARK_UNRELEASED = ("draft", "marked", "second_marked", "agreed", "ratified")
#: Two decimal places, as marks from rubrics with half marks need.
MarkValue = sa.Numeric(6, 2)


class Mark(TimestampMixin, db.Model):
    """The marking of one submission: first mark, second mark and agreement, penalty, release."""

    __tablename__ = "mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submission.id", ondelete="RESTRICT"), nullable=False, unique=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")
    marker_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    #: The first marker's mark out of the assignment's maximum, before any late penalty.
    raw_mark: Mapped[Decimal | None] = mapped_column(MarkValue)
    #: Rubric level chosen per criterion: `{"0": 2, "1": 0}` (criterion index -> level index).
    rubric_scores: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: Marker-written, shown only through academy.core.richtext, and only after release.
    feedback: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    feedback_file_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    feedback_file_name: Mapped[str | None] = mapped_column(sa.String(255))
    #: Chosen by the assignment's second-marking rule when the first mark was completed.
    needs_second_marking: Mapped[bool] = mapped_column(nullable=False, default=False)
    second_marker_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    second_mark: Mapped[Decimal | None] = mapped_column(MarkValue)
    second_comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: The mark both markers settled on; it replaces the raw mark when present.
    agreed_mark: Mapped[Decimal | None] = mapped_column(MarkValue)
    agreed_comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Late penalty in marks, and the mark the learner gets after it.
    penalty: Mapped[Decimal] = mapped_column(MarkValue, nullable=False, default=Decimal("0"))
    final_mark: Mapped[Decimal | None] = mapped_column(MarkValue)
    #: Why no penalty applies although the work was late (mitigating circumstances).
    penalty_waiver: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    ratified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = version_column()

    submission: Mapped[Submission] = relationship(lazy="joined")
    marker: Mapped[User | None] = relationship(foreign_keys=[marker_id])
    second_marker: Mapped[User | None] = relationship(foreign_keys=[second_marker_id])
    history: Mapped[list[MarkHistory]] = relationship(
        back_populates="mark", order_by="MarkHistory.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('draft', 'marked', 'second_marked', 'agreed', 'ratified', 'released')",
            name="status_known",
        ),
        sa.CheckConstraint("raw_mark IS NULL OR raw_mark >= 0", name="raw_mark_not_negative"),
        sa.CheckConstraint("penalty >= 0", name="penalty_not_negative"),
    )

    def __repr__(self) -> str:
        return f"<Mark {self.id} submission={self.submission_id} {self.status}>"

    @property
    def mark_before_penalty(self) -> Decimal | None:
        return self.agreed_mark if self.agreed_mark is not None else self.raw_mark


class MarkHistory(db.Model):
    """Every change to a mark: who, when, the old and new values, and why."""

    __tablename__ = "mark_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    mark_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mark.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: e.g. `mark.save`, `mark.second`, `mark.agree`, `mark.release`.
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    changed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: Required once the mark has been released.
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    mark: Mapped[Mark] = relationship(back_populates="history")
    changed_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<MarkHistory {self.mark_id} {self.action}>"


class ModuleResult(TimestampMixin, db.Model):
    """A learner's outcome in a module, worked out from released final marks."""

    __tablename__ = "module_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("module.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    cohort_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cohort.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: 1 for the first sit, 2 for the one resit allowed.
    attempt: Mapped[int] = mapped_column(nullable=False, default=1)
    #: Weighted percentage, after any resit cap.
    mark: Mapped[Decimal | None] = mapped_column(MarkValue)
    passed: Mapped[bool] = mapped_column(nullable=False, default=False)
    credits: Mapped[int] = mapped_column(nullable=False, default=0)
    #: A resit mark held down to the pass mark.
    capped: Mapped[bool] = mapped_column(nullable=False, default=False)
    #: `complete` once every assignment of the attempt has a released mark, else `incomplete`.
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="incomplete")
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint(
            "user_id", "module_id", "cohort_id", "attempt", name="uq_module_result_attempt"
        ),
        sa.CheckConstraint("attempt IN (1, 2)", name="one_resit"),
        sa.CheckConstraint("status IN ('incomplete', 'complete')", name="status_known"),
    )

    def __repr__(self) -> str:
        return f"<ModuleResult user={self.user_id} module={self.module_id} {self.mark}>"
