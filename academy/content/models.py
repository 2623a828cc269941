from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.catalogue.models import Module
from academy.core import clock
from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db

RESOURCE_KINDS = {
    "page": "Page",
    "file": "File",
    "link": "Link",
    "reading": "Reading",
}
BODY_FORMATS = ("markdown", "html")


class ContentSection(TimestampMixin, db.Model):
    """A part of a module's learning material, e.g. "Week 1: Why informatics matters"."""

    __tablename__ = "content_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("module.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    module: Mapped[Module] = relationship()
    resources: Mapped[list[Resource]] = relationship(
        back_populates="section",
        cascade="all, delete-orphan",
        order_by="(Resource.position, Resource.id)",
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return f"<ContentSection {self.id} {self.title!r}>"


class Resource(TimestampMixin, db.Model):
    """One thing to study: a page of text, a file, an external link or a reading-list entry."""

    __tablename__ = "resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(
        sa.ForeignKey("content_section.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    position: Mapped[int] = mapped_column(nullable=False, default=0)
    #: Page text, or a reading's citation and notes; as written by the author (Markdown or HTML)
    #: and only ever displayed after sanitising.
    body: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    body_format: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="markdown")
    #: For links, and optionally for readings (a DOI or library link).
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    #: For files: the content hash the storage layer keeps the bytes under, and what to call them.
    file_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    file_name: Mapped[str | None] = mapped_column(sa.String(255))
    file_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    file_type: Mapped[str | None] = mapped_column(sa.String(100))
    version: Mapped[int] = version_column()

    section: Mapped[ContentSection] = relationship(back_populates="resources")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("kind IN ('page', 'file', 'link', 'reading')", name="kind_known"),
    )

    def __repr__(self) -> str:
        return f"<Resource {self.id} {self.kind} {self.title!r}>"

    @property
    def kind_label(self) -> str:
        return RESOURCE_KINDS[self.kind]


class ResourceCompletion(db.Model):
    """A learner's tick against a resource they have finished."""

    __tablename__ = "resource_completion"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[int] = mapped_column(
        sa.ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=clock.now)

    def __repr__(self) -> str:
        return f"<ResourceCompletion user={self.user_id} resource={self.resource_id}>"
