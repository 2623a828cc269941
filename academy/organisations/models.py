from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.core.models import TimestampMixin, version_column
from academy.extensions import db

SECTORS = {
    "acute": "Acute trust",
    "mental_health": "Mental health trust",
    "community": "Community trust",
    "ambulance": "Ambulance trust",
    "icb": "Integrated care board",
    "csu": "Commissioning support unit",
    "primary_care": "Primary care",
    "health_board": "Health board",
    "national": "National body",
    "other": "Other",
}

#: The nation picks the bank-holiday calendar used for working-day deadlines.
NATIONS = {
    "england": "England",
    "scotland": "Scotland",
    "wales": "Wales",
    "northern_ireland": "Northern Ireland",
}

#: NHS England's seven regions; organisations in the other nations are reported by nation.
REGIONS = {
    "london": "London",
    "south_east": "South East",
    "south_west": "South West",
    "east_of_england": "East of England",
    "midlands": "Midlands",
    "north_east_and_yorkshire": "North East and Yorkshire",
    "north_west": "North West",
}

#: The Wachter review's "at least five" clinician-informaticians per trust.
DEFAULT_CREDENTIAL_TARGET = 5


class Organisation(TimestampMixin, db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: NHS Organisation Data Service code, stored upper-case (e.g. RJ1, 15N).
    ods_code: Mapped[str] = mapped_column(sa.String(10), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    sector: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    nation: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    #: How many credentialed clinician-informaticians the organisation aims to hold.
    credential_target: Mapped[int] = mapped_column(
        nullable=False, default=DEFAULT_CREDENTIAL_TARGET
    )
    #: An NHS England region (see REGIONS); empty outside England.
    region: Mapped[str | None] = mapped_column(sa.String(32))
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("credential_target >= 0", name="credential_target_not_negative"),
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.ods_code} {self.name!r}>"

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, self.sector)

    @property
    def nation_label(self) -> str:
        return NATIONS.get(self.nation, self.nation)

    @property
    def region_label(self) -> str:
        """The NHS England region, or the nation for organisations elsewhere."""
        if self.region:
            return REGIONS.get(self.region, self.region)
        return self.nation_label
