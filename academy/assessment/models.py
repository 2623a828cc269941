from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.auth.models import User
from academy.cohorts.models import ModuleDelivery
from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db

#: File types an assignment may accept, by the extension the content check reports.
SUBMISSION_TYPES = {
    "pdf": "PDF",
    "docx": "Word document (DOCX)",
    "odt": "OpenDocument text (ODT)",
    "txt": "Plain text",
    "pptx": "PowerPoint (PPTX)",
    "xlsx": "Excel (XLSX)",
}
SECOND_MARKING_RULES = {
    "none": "No second marking",
    "all": "Every script second marked",
    "sample": "A sample, plus every fail and every first-class mark",
}
EXTENSION_STATUSES = ("pending", "approved", "declined", "withdrawn")


class Assignment(TimestampMixin, db.Model):
    """A piece of assessed work in a module delivery."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("module_delivery.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: Author-written, shown only through academy.core.richtext.
    brief: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    brief_format: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="markdown")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: After this, nothing is accepted without an extension.
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: Percentage of the module mark this assignment carries.
    weight: Mapped[int] = mapped_column(nullable=False, default=100)
    max_mark: Mapped[int] = mapped_column(nullable=False, default=100)
    allowed_types: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    max_size_mb: Mapped[int] = mapped_column(nullable=False, default=20)
    anonymous: Mapped[bool] = mapped_column(nullable=False, default=False)
    second_marking: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="none")
    #: For the `sample` rule: the share of scripts second marked, besides fails and firsts.
    sample_percent: Mapped[int | None] = mapped_column()
    #: `{"criteria": [{"title", "levels": [{"title", "description", "marks"}]}]}` or null.
    rubric: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    #: Open second marking: the second marker sees the first mark (blind when false).
    open_second_marking: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=sa.false()
    )
    #: First and second marks further apart than this (in marks) are flagged for agreement.
    moderation_tolerance: Mapped[int] = mapped_column(nullable=False, default=5, server_default="5")
    #: 1 for the first sit; 2 for a resit assessment, whose module result is capped.
    attempt: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")
    version: Mapped[int] = version_column()

    delivery: Mapped[ModuleDelivery] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("opens_at <= due_at AND due_at <= cutoff_at", name="times_in_order"),
        sa.CheckConstraint("weight BETWEEN 0 AND 100", name="weight_percentage"),
        sa.CheckConstraint("max_mark > 0", name="max_mark_positive"),
        sa.CheckConstraint("max_size_mb BETWEEN 1 AND 100", name="max_size_sensible"),
        sa.CheckConstraint(
            "second_marking IN ('none', 'all', 'sample')", name="second_marking_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<Assignment {self.id} {self.title!r}>"


class Submission(TimestampMixin, db.Model):
    """One learner's work for one assignment: a draft until they submit it."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assignment.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Working days late by the learner's own deadline (extensions included), 0 if on time.
    late_working_days: Mapped[int | None] = mapped_column()
    #: When the retention job deleted the files (the receipt keeps their names and hashes).
    files_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = version_column()

    assignment: Mapped[Assignment] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission",
        cascade="all, delete-orphan",
        order_by="SubmissionFile.id",
        lazy="selectin",
    )
    receipts: Mapped[list[SubmissionReceipt]] = relationship(
        back_populates="submission", order_by="SubmissionReceipt.id", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # One submission per learner per assignment: two first uploads at once cannot make two.
        sa.UniqueConstraint("assignment_id", "user_id", name="uq_submission_assignment_user"),
        sa.CheckConstraint("status IN ('draft', 'submitted')", name="status_known"),
    )

    def __repr__(self) -> str:
        return f"<Submission {self.id} assignment={self.assignment_id} {self.status}>"


class SubmissionFile(db.Model):
    """A file in a submission; the bytes are in storage under their SHA-256."""

    __tablename__ = "submission_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submission.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: The learner's file name, cleaned of paths and control characters.
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    #: What the content check found, e.g. `pdf`.
    file_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)

    submission: Mapped[Submission] = relationship(back_populates="files")

    def __repr__(self) -> str:
        return f"<SubmissionFile {self.id} {self.name!r}>"


class SubmissionReceipt(db.Model):
    """Proof of what was submitted and when: kept for every submission, even after a reopen."""

    __tablename__ = "submission_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submission.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: SHA-256 over the files' names and hashes in order: one value that names the whole submission.
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: `[{"name", "sha256", "size"}]` as they were at the moment of submission.
    files: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False)
    late_working_days: Mapped[int] = mapped_column(nullable=False, default=0)

    submission: Mapped[Submission] = relationship(back_populates="receipts")

    def __repr__(self) -> str:
        return f"<SubmissionReceipt {self.id} {self.sha256[:12]}>"


class Extension(TimestampMixin, db.Model):
    """A learner's request for more time on one assignment, and the decision on it."""

    __tablename__ = "extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assignment.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    requested_due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    #: Approved automatically within the cohort's self-certification limit.
    self_certified: Mapped[bool] = mapped_column(nullable=False, default=False)
    #: The learner's own deadline once approved; the cut-off moves by the same amount.
    granted_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    granted_cutoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    version: Mapped[int] = version_column()

    assignment: Mapped[Assignment] = relationship(lazy="joined")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'withdrawn')", name="status_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<Extension {self.id} {self.status}>"
