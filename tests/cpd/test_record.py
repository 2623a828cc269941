"""The worked-out CPD record: Academy study lines from the modules a learner has taken (10
notional hours a credit, outcomes from released results only), CPD years from 1 April, and
totals by kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from academy.cohorts.models import Enrolment
from academy.cpd.record import CpdYear, build_record
from academy.credentials import services as credentials
from academy.extensions import db
from academy.marking import services as marking


def lines_of(learner, year=None):
    return build_record(learner, year).academy


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2026, 3, 31), 2025),
        (date(2026, 4, 1), 2026),
        (date(2027, 3, 31), 2026),
        (date(2027, 4, 1), 2027),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),
    ],
)
def test_cpd_years_run_from_1_april_to_31_march(day, year):
    assert CpdYear.of(day) == CpdYear(year)
    assert day in CpdYear(year)
    assert day not in CpdYear(year - 1) and day not in CpdYear(year + 1)


def test_cpd_years_are_read_from_links_and_refused_when_nonsense():
    assert CpdYear.parse("2026") == CpdYear(2026)
    assert CpdYear.parse("all") is None and CpdYear.parse(None) is None
    assert CpdYear(2026).long_label == "1 April 2026 to 31 March 2027"
    for bad in ("26", "２０２６", "2026.0", "-2026", "1898", "9999", "next", "20260"):
        with pytest.raises(ValueError):
            CpdYear.parse(bad)


def test_a_module_in_progress_counts_ten_notional_hours_a_credit(learner, cohort, module):
    (line,) = lines_of(learner)
    assert (line.module_code, line.module_title) == ("DHL701", "Leading digital change")
    assert (line.starts_on, line.ends_on) == (date(2027, 4, 12), date(2028, 3, 17))
    assert line.hours == Decimal(150)
    assert line.outcome == "in_progress" and line.outcome_label == "In progress"
    assert line.credential is None


def test_a_released_pass_shows_passed_with_its_credential(make, learner, cohort):
    credential = make.credential(learner, cohort)
    (line,) = lines_of(learner)
    assert line.outcome == "passed"
    assert line.credential.uuid == credential.uuid


def test_a_mark_not_yet_released_never_shows_as_passed(make, learner, cohort):
    assignment = make.assignment(cohort)
    submission = make.submission(assignment, learner)
    marking.save_mark(submission, actor=make.user("admin"), expected_version=0, mark=88)
    db.session.commit()
    (line,) = lines_of(learner)
    assert line.outcome == "in_progress" and line.credential is None


def test_a_released_fail_shows_not_passed(make, learner, cohort):
    make.passed(learner, cohort, mark=30)
    (line,) = lines_of(learner)
    assert line.outcome == "not_passed"


def test_a_revoked_credential_is_not_linked(make, learner, cohort):
    credential = make.credential(learner, cohort)
    credentials.revoke(credential, actor=make.user("admin"), reason="Issued in error")
    db.session.commit()
    (line,) = lines_of(learner)
    assert line.credential is None


def test_modules_not_started_or_left_before_a_result_are_not_study(make, module):
    programme = make.programme(modules=[module])
    later = make.cohort(programme, starts_on=date(2027, 9, 6), ends_on=date(2028, 6, 30))
    withdrawn_from = make.cohort(programme, starts_on=date(2027, 1, 4), ends_on=date(2027, 12, 1))
    learner = make.learner_in(later)
    make.enrolment(learner, withdrawn_from, status="withdrawn")
    assert lines_of(learner) == []


def test_a_result_counts_even_after_withdrawing(make, learner, cohort):
    make.passed(learner, cohort, mark=72)
    enrolment = db.session.scalar(sa.select(Enrolment).where(Enrolment.user_id == learner.id))
    enrolment.status = "withdrawn"
    db.session.commit()
    (line,) = lines_of(learner)
    assert line.outcome == "passed"


def test_each_cohort_a_module_is_taken_in_is_its_own_line(make, module, learner, cohort):
    programme = make.programme(modules=[module])
    earlier = make.cohort(programme, starts_on=date(2026, 1, 12), ends_on=date(2026, 12, 4))
    make.enrolment(learner, earlier)
    make.passed(learner, earlier, mark=35)
    lines = lines_of(learner)
    assert [(line.cohort_id, line.outcome) for line in lines] == [
        (cohort.id, "in_progress"),
        (earlier.id, "not_passed"),
    ]


def test_the_year_filter_and_totals_split_on_1_april(make, learner, log_entry):
    log_entry(learner, title="Last day of 2026-27", started_on=date(2027, 3, 31), hours="4")
    log_entry(learner, title="First day of 2027-28", started_on=date(2027, 4, 1), hours="1.5")
    log_entry(learner, title="Years ago", started_on=date(2019, 7, 1), hours="10")

    earlier = build_record(learner, CpdYear(2026))
    assert [e.title for e in earlier.entries] == ["Last day of 2026-27"]
    assert earlier.academy == []  # the module started on 12 April 2027
    assert (earlier.in_period.self_logged, earlier.in_period.academy) == (Decimal(4), Decimal(0))

    current = build_record(learner, CpdYear(2027))
    assert [e.title for e in current.entries] == ["First day of 2027-28"]
    assert current.in_period.total == Decimal("151.5")

    everything = build_record(learner)
    assert [e.title for e in everything.entries] == [
        "First day of 2027-28",
        "Last day of 2026-27",
        "Years ago",
    ]
    assert everything.this_year.self_logged == Decimal("1.5")
    assert everything.this_year.academy == Decimal(150)
    assert everything.all_time.total == Decimal("165.5")
    assert [year.start for year in everything.years] == [2027, 2026, 2019]


def test_nobody_else_s_entries_or_study_appear(make, learner, log_entry):
    someone = make.user("learner")
    log_entry(someone, title="Someone else's reading")
    record = build_record(learner)
    assert record.entries == [] and len(record.academy) == 1
    assert build_record(someone).academy == []
