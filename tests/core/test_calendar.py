"""Bank-holiday arithmetic per UK nation."""

from datetime import UTC, date, datetime

import pytest

from academy.core.calendar import (
    add_working_days,
    is_working_day,
    uk_date,
    working_days_between,
    working_days_late,
)

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(
    ("day", "nation", "working"),
    [
        (date(2027, 3, 17), "northern_ireland", False),  # St Patrick's Day
        (date(2027, 3, 17), "england", True),
        (date(2027, 3, 29), "england", False),  # Easter Monday
        (date(2027, 3, 29), "scotland", True),  # not a bank holiday in Scotland
        (
            date(2027, 8, 2),
            "scotland",
            False,
        ),  # Scotland's summer bank holiday is in August's first week
        (date(2027, 8, 2), "wales", True),
        (date(2027, 8, 30), "wales", False),  # late summer bank holiday elsewhere
        (date(2027, 11, 30), "scotland", False),  # St Andrew's Day
        (date(2027, 7, 12), "northern_ireland", False),  # Battle of the Boyne
        (date(2027, 12, 27), "england", False),  # Christmas Day (observed): the 25th is a Saturday
        (date(2027, 1, 4), "scotland", False),  # 2 January holiday, observed on the Monday
        (date(2027, 1, 4), "england", True),
        (date(2027, 1, 9), "england", False),  # a Saturday
    ],
)
def test_working_days_follow_each_nations_bank_holidays(day, nation, working):
    assert is_working_day(day, nation) is working


def test_lateness_across_easter_differs_by_nation():
    due = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)  # Thursday before Good Friday, noon
    submitted = datetime(2027, 3, 30, 9, 0, tzinfo=UTC)  # the Tuesday after Easter Monday
    # England: Good Friday and Easter Monday are holidays, so only Tuesday counts.
    assert working_days_late(due, submitted, "england") == 1
    # Scotland has Good Friday but not Easter Monday: Monday and Tuesday count.
    assert working_days_late(due, submitted, "scotland") == 2


def test_lateness_is_zero_on_time_and_at_least_one_when_late():
    due = datetime(2027, 6, 4, 12, 0, tzinfo=UTC)  # a Friday
    assert working_days_late(due, due, "england") == 0
    assert working_days_late(due, datetime(2027, 6, 4, 15, 0, tzinfo=UTC), "england") == 1
    assert working_days_late(due, datetime(2027, 6, 6, 10, 0, tzinfo=UTC), "england") == 1  # Sunday
    assert working_days_late(due, datetime(2027, 6, 8, 10, 0, tzinfo=UTC), "england") == 2


def test_days_are_read_in_uk_time():
    # 23:30 UTC on 30 June is already 1 July in British Summer Time.
    assert uk_date(datetime(2027, 6, 30, 23, 30, tzinfo=UTC)) == date(2027, 7, 1)
    assert uk_date(datetime(2027, 12, 31, 23, 30, tzinfo=UTC)) == date(2027, 12, 31)


def test_adding_working_days_skips_weekends_and_holidays():
    assert add_working_days(date(2027, 12, 23), 1, "england") == date(2027, 12, 24)
    # From Christmas Eve (Friday): weekend, then the observed Christmas and Boxing days.
    assert add_working_days(date(2027, 12, 24), 1, "england") == date(2027, 12, 29)
    assert add_working_days(date(2027, 3, 15), 5, "northern_ireland") == date(2027, 3, 23)
    assert add_working_days(date(2027, 3, 15), 0, "england") == date(2027, 3, 15)
    assert working_days_between(date(2027, 3, 15), date(2027, 3, 23), "northern_ireland") == 5


def test_an_unknown_nation_is_refused():
    with pytest.raises(ValueError, match="unknown nation"):
        is_working_day(date(2027, 1, 5), "atlantis")
