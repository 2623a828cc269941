from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.core.models import TimestampMixin, version_column
from academy.extensions import db

TOPICS = {
    "informatics": "Health informatics",
    "change_management": "Change management",
    "leadership": "Leadership",
    "data_analytics": "Data and analytics",
    "clinical_safety": "Clinical safety",
    "digital_transformation": "Digital transformation",
}
#: FHEQ levels: 7 is a master's-level (postgraduate) module.
LEVELS = (4, 5, 6, 7, 8)
DEFAULT_PASS_MARK = 50
AWARD_TYPES = ("Certificate", "Diploma")


class Module(TimestampMixin, db.Model):
    __tablename__ = "module"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored upper-case, e.g. DHL701.
    code: Mapped[str] = mapped_column(sa.String(20), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    topic: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    credits: Mapped[int] = mapped_column(nullable=False)
    level: Mapped[int] = mapped_column(nullable=False, default=7)
    pass_mark: Mapped[int] = mapped_column(nullable=False, default=DEFAULT_PASS_MARK)
    #: Ordered list of outcome statements.
    learning_outcomes: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: How long a credential for passing the module stays valid; none means it never expires.
    credential_valid_months: Mapped[int | None] = mapped_column()
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("credits > 0", name="credits_positive"),
        sa.CheckConstraint("pass_mark BETWEEN 0 AND 100", name="pass_mark_percentage"),
        sa.CheckConstraint(
            "credential_valid_months IS NULL OR credential_valid_months > 0",
            name="credential_validity_positive",
        ),
    )

    def __repr__(self) -> str:
        return f"<Module {self.code} {self.title!r}>"

    @property
    def topic_label(self) -> str:
        return TOPICS.get(self.topic, self.topic)


class Programme(TimestampMixin, db.Model):
    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: The award conferred, e.g. "Postgraduate Certificate in Digital Health Leadership".
    award_title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    credits_required: Mapped[int] = mapped_column(nullable=False)
    #: Classification bands: the lowest overall mark for each class of award.
    pass_band: Mapped[int] = mapped_column(nullable=False, default=50)
    merit_band: Mapped[int] = mapped_column(nullable=False, default=60)
    distinction_band: Mapped[int] = mapped_column(nullable=False, default=70)
    #: Open Badges achievementType of the award credential: "Certificate" or "Diploma".
    award_type: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="Certificate")
    #: The award is issued only once the exam board has ratified every mark behind it.
    award_needs_ratification: Mapped[bool] = mapped_column(nullable=False, default=False)
    credential_valid_months: Mapped[int | None] = mapped_column()
    version: Mapped[int] = version_column()

    modules: Mapped[list[ProgrammeModule]] = relationship(
        back_populates="programme",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ProgrammeModule.position",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("credits_required > 0", name="credits_required_positive"),
        sa.CheckConstraint(
            "pass_band <= merit_band AND merit_band <= distinction_band", name="bands_in_order"
        ),
        sa.CheckConstraint("award_type IN ('Certificate', 'Diploma')", name="award_type_known"),
        sa.CheckConstraint(
            "credential_valid_months IS NULL OR credential_valid_months > 0",
            name="credential_validity_positive",
        ),
    )

    def __repr__(self) -> str:
        return f"<Programme {self.code} {self.title!r}>"

    @property
    def core_modules(self) -> list[Module]:
        return [link.module for link in self.modules if link.is_core]

    @property
    def optional_modules(self) -> list[Module]:
        return [link.module for link in self.modules if not link.is_core]

    @property
    def credits_available(self) -> int:
        return sum(link.module.credits for link in self.modules)


class ProgrammeModule(db.Model):
    """A module offered in a programme, core (every learner must pass it) or optional."""

    __tablename__ = "programme_module"

    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme.id", ondelete="CASCADE"), primary_key=True
    )
    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("module.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    is_core: Mapped[bool] = mapped_column(nullable=False, default=False)
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    programme: Mapped[Programme] = relationship(back_populates="modules")
    module: Mapped[Module] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ProgrammeModule {self.programme_id}:{self.module_id} core={self.is_core}>"
