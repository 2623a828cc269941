"""Working days, by UK nation, for deadlines and lateness.

Bank holidays come from the `holidays` package, which computes them from rules it ships with
(nothing is fetched at run time). Deadlines are instants in UTC; which calendar day they fall on
is decided in UK time (Europe/London), as a learner would read the clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

UK_TIME = ZoneInfo("Europe/London")
#: Our nation names to the `holidays` package's subdivisions of GB.
SUBDIVISIONS = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern_ireland": "NIR",
}


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    subdivision = SUBDIVISIONS.get(nation)
    if subdivision is None:
        raise ValueError(f"unknown nation {nation!r}")
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def bank_holiday_names(nation: str, year: int) -> dict[date, str]:
    subdivision = SUBDIVISIONS[nation]
    return dict(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def is_working_day(day: date, nation: str) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(nation, day.year)


def uk_date(moment: datetime) -> date:
    """The calendar day `moment` falls on in the UK."""
    return moment.astimezone(UK_TIME).date()


def working_days_between(start: date, end: date, nation: str) -> int:
    """Working days in the interval (start, end]: after `start`, up to and including `end`."""
    if end <= start:
        return 0
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        count += is_working_day(day, nation)
        day += timedelta(days=1)
    return count


def add_working_days(start: date, days: int, nation: str) -> date:
    """The date `days` working days after `start` (`days` >= 0; 0 gives `start`)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += timedelta(days=1)
        if is_working_day(day, nation):
            days -= 1
    return day


def working_days_late(due: datetime, submitted: datetime, nation: str) -> int:
    """How late a submission is, in working days: 0 if on time; otherwise the working days from
    the due date to the day it came in, and at least 1 (a piece due at noon and handed in at
    four, or over a weekend, is one working day late)."""
    if submitted <= due:
        return 0
    return max(1, working_days_between(uk_date(due), uk_date(submitted), nation))
