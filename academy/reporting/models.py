from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.core.models import TimestampMixin, UTCDateTime, version_column
from academy.extensions import db

#: How often a sponsor gets the summary email of each organisation they sponsor.
FREQUENCIES = {"off": "Never", "weekly": "Every week", "monthly": "Every month"}
#: What a sponsor gets before they have chosen.
DEFAULT_FREQUENCY = "monthly"


class ReportSubscription(TimestampMixin, db.Model):
    """A sponsor's choice of summary emails for one organisation, and the last period sent, so a
    scheduler running the command twice in a period sends nothing the second time."""

    __tablename__ = "report_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
    )
    frequency: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=DEFAULT_FREQUENCY)
    #: e.g. "2026-11" for a monthly summary, "2026-W47" for a weekly one.
    last_period: Mapped[str | None] = mapped_column(sa.String(16))
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("user_id", "organisation_id", name="uq_report_subscription"),
        sa.CheckConstraint("frequency IN ('off', 'weekly', 'monthly')", name="frequency_known"),
    )
