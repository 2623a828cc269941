"""The academy reports' numbers, on small crafted datasets: exact counts and rates, working days
on the nation's calendar, filters, and a fixed number of queries whatever the data's size."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.assessment.models import Assignment, Extension, Submission
from academy.cohorts.models import ModuleDelivery
from academy.core import calendar, clock
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking import services as marking
from academy.marking.models import Mark, ModuleResult
from academy.reporting.academy_reports import REPORTS, ReportFilters, build_report
from tests.queries import counted_queries


def rows(report, table_key: str) -> dict[str, list[str]]:
    """A table's rows as the page shows them, keyed by their first cell."""
    table = report.table(table_key)
    return {row[0]: row[1:] for row in table.text_rows()}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- a. completion and pass rates -------------------------------------------------------------


def _result(user, module, cohort, *, attempt=1, complete=True, passed=False):
    db.session.add(
        ModuleResult(
            user_id=user.id,
            module_id=module.id,
            cohort_id=cohort.id,
            attempt=attempt,
            status="complete" if complete else "incomplete",
            passed=passed,
            mark=65 if passed else 40,
            credits=module.credits if passed else 0,
        )
    )
    db.session.commit()


@pytest.fixture
def completion_data(make):
    m1, m2 = make.module(code="DHL701"), make.module(code="DHL702")
    programme = make.programme(modules=[m1, m2], title="Digital Health Leadership")
    spring = make.cohort(programme, name="2027 spring", starts_on=date(2027, 1, 11))
    autumn = make.cohort(programme, modules=[m1], name="2027 autumn", starts_on=date(2027, 9, 6))
    first, resat, failed, unfinished = (make.user("learner") for _ in range(4))
    make.enrolment(first, spring, status="completed")
    make.enrolment(resat, spring, status="completed")
    make.enrolment(failed, spring, status="withdrawn")
    make.enrolment(unfinished, spring)
    _result(first, m1, spring, passed=True)
    _result(resat, m1, spring)
    _result(resat, m1, spring, attempt=2, passed=True)
    _result(failed, m1, spring)
    _result(unfinished, m1, spring, complete=False)
    _result(first, m2, spring, passed=True)
    autumn_learner = make.user("learner")
    make.enrolment(autumn_learner, autumn)
    _result(autumn_learner, m1, autumn, passed=True)
    other = make.cohort(name="Elsewhere")  # another programme: filtered out below
    make.learner_in(other)
    return {"programme": programme, "spring": spring, "autumn": autumn}


def test_completion_and_pass_rates_by_cohort_and_module(completion_data):
    report = build_report("completion", ReportFilters(programme_id=completion_data["programme"].id))

    assert report.table("cohorts").header == [
        "Programme",
        "Cohort",
        "Enrolments",
        "Completed",
        "Withdrawn",
        "Completion rate",
        "Module results complete",
        "Passed at first attempt",
        "First-attempt pass rate",
        "Passed, resits included",
        "Pass rate after resit",
    ]
    cohorts = {row[1]: row[2:] for row in report.table("cohorts").text_rows()}
    assert cohorts == {
        "2027 spring": ["4", "2", "1", "50.0%", "4", "2", "50.0%", "3", "75.0%"],
        "2027 autumn": ["1", "0", "0", "0.0%", "1", "1", "100.0%", "1", "100.0%"],
    }
    assert rows(report, "modules") == {
        "DHL701": [completion_data["spring"].deliveries[0].module.title, "2", "4", "2", "50.0%",
                   "3", "75.0%"],
        "DHL702": [completion_data["spring"].deliveries[1].module.title, "1", "1", "1", "100.0%",
                   "1", "100.0%"],
    }  # fmt: skip


def test_completion_filters_by_cohort_and_start_date(completion_data):
    by_cohort = build_report("completion", ReportFilters(cohort_id=completion_data["autumn"].id))
    assert [row[1] for row in by_cohort.table("cohorts").rows] == ["2027 autumn"]
    assert [row[0] for row in by_cohort.table("modules").rows] == ["DHL701"]

    by_start = build_report(
        "completion",
        ReportFilters(
            programme_id=completion_data["programme"].id,
            date_from=date(2027, 1, 1),
            date_to=date(2027, 6, 30),
        ),
    )
    assert [row[1] for row in by_start.table("cohorts").rows] == ["2027 spring"]


def test_a_cohort_with_no_one_in_it_has_no_rates(make):
    cohort = make.cohort(name="Empty")

    report = build_report("completion", ReportFilters(cohort_id=cohort.id))

    assert report.table("cohorts").text_rows()[0][2:] == ["0", "0", "0", "–", "0", "0", "–",
                                                          "0", "–"]  # fmt: skip


# --- b. feedback turnaround -------------------------------------------------------------------


def _submitted(make, assignment, moment, *, mark=None, released=None):
    learner = make.user("learner")
    with clock.frozen_at(moment):
        submission = make.submission(assignment, learner)
    if mark is not None:
        db.session.add(Mark(submission_id=submission.id, status=mark, released_at=released))
        db.session.commit()
    return submission


@pytest.fixture
def turnaround_cohort(make):
    m1, m2 = make.module(code="DHL711"), make.module(code="DHL712")
    programme = make.programme(modules=[m1, m2])
    with clock.frozen_at(at(2027, 2, 1, 9)):
        cohort = make.cohort(programme, name="Turnaround", feedback_working_days=5)
        essay = make.assignment(cohort, due_at=at(2027, 3, 1, 12))
        report = make.assignment(cohort, delivery=cohort.deliveries[1], due_at=at(2027, 3, 24, 12))
    # Submitted Monday 1 March 2027: feedback due 5 working days later, Monday 8 March.
    monday = at(2027, 3, 1, 10)
    _submitted(make, essay, monday, mark="released", released=at(2027, 3, 5, 15))  # 4 days
    _submitted(make, essay, monday, mark="released", released=at(2027, 3, 8, 16))  # 5 days
    _submitted(make, essay, monday, mark="released", released=at(2027, 3, 9, 9))  # 6: late
    _submitted(make, essay, monday)  # unmarked, overdue from 9 March
    _submitted(make, essay, at(2027, 3, 9, 10), mark="marked")  # due 16 March
    # Wednesday 24 March 2027, before Easter: Good Friday and Easter Monday are not working
    # days, so feedback is due Friday 2 April, and Thursday 1 April is 4 working days on.
    _submitted(make, report, at(2027, 3, 24, 10), mark="released", released=at(2027, 4, 1, 11))
    return cohort


def test_feedback_turnaround_counts_working_days_on_the_cohorts_calendar(turnaround_cohort):
    with clock.frozen_at(at(2027, 3, 10, 12)):
        report = build_report("feedback-turnaround", ReportFilters(cohort_id=turnaround_cohort.id))

    assert report.table("cohorts").header[2:] == [
        "Target (working days)",
        "Marks released",
        "Released within target",
        "Released late",
        "Compliance",
        "Median working days",
        "Overdue, not yet released",
    ]
    [cohort_row] = report.table("cohorts").text_rows()
    assert cohort_row[2:] == ["5", "4", "3", "1", "75.0%", "4.5", "1"]
    modules = rows(report, "modules")
    assert modules["DHL711"][1:] == ["3", "2", "1", "66.7%", "5", "1"]
    assert modules["DHL712"][1:] == ["1", "1", "0", "100.0%", "4", "0"]


def test_the_crafted_due_dates_are_the_marking_queues(turnaround_cohort):
    submissions = db.session.scalars(
        sa.select(Submission)
        .join(Submission.assignment)
        .join(Assignment.delivery)
        .where(ModuleDelivery.cohort_id == turnaround_cohort.id)
    ).all()

    due = {calendar.uk_date(s.submitted_at): marking.feedback_due(s) for s in submissions}

    assert due == {
        date(2027, 3, 1): date(2027, 3, 8),
        date(2027, 3, 9): date(2027, 3, 16),
        date(2027, 3, 24): date(2027, 4, 2),
    }


def test_turnaround_filters_by_the_day_work_was_submitted(turnaround_cohort):
    with clock.frozen_at(at(2027, 4, 20, 12)):
        report = build_report(
            "feedback-turnaround",
            ReportFilters(
                cohort_id=turnaround_cohort.id,
                date_from=date(2027, 3, 2),
                date_to=date(2027, 3, 24),
            ),
        )

    [cohort_row] = report.table("cohorts").text_rows()
    # Only the work of 9 March (marked, not released, now overdue) and of 24 March.
    assert cohort_row[3:] == ["1", "1", "0", "100.0%", "4", "1"]


# --- c. credentials by region, sector and nation ----------------------------------------------


def _credential(user, kind="module", *, issued, **fields):
    credential = Credential(
        uuid=str(uuid.uuid4()),
        user_id=user.id,
        kind=kind,
        title=f"A {kind} credential",
        issuer_name="Digital Academy",
        issued_at=issued,
        document=None if kind == "external" else {"type": ["VerifiableCredential"]},
        **fields,
    )
    db.session.add(credential)
    db.session.commit()
    return credential


@pytest.fixture
def credential_holders(make):
    london = make.organisation(sector="acute", nation="england", region="london")
    midlands = make.organisation(sector="mental_health", nation="england", region="midlands")
    wales = make.organisation(sector="health_board", nation="wales")
    no_region = make.organisation(sector="icb", nation="england")
    holders = {
        "london": make.user("learner", organisation=london),
        "london_revoked": make.user("learner", organisation=london),
        "midlands": make.user("learner", organisation=midlands),
        "wales": make.user("learner", organisation=wales),
        "no_region": make.user("learner", organisation=no_region),
        "nobody": make.user("learner"),
    }
    _credential(holders["london"], issued=at(2027, 3, 1))
    _credential(holders["london_revoked"], issued=at(2026, 5, 1), revoked_at=at(2027, 1, 10))
    _credential(holders["midlands"], issued=at(2025, 1, 1), expires_at=at(2026, 1, 1))
    _credential(holders["midlands"], "award", issued=at(2027, 5, 1), suspended_at=at(2027, 5, 2))
    # Late on New Year's Eve in the UK: last year.
    _credential(holders["wales"], issued=at(2026, 12, 31, 23, 30))
    _credential(
        holders["wales"],
        "external",
        issued=at(2027, 2, 2),
        issued_on=date(2027, 2, 1),
        verification="self_declared",
    )
    _credential(holders["no_region"], issued=at(2027, 4, 1))
    _credential(holders["nobody"], issued=at(2024, 1, 1))
    return holders


def test_credentials_by_region_sector_and_nation(credential_holders):
    with clock.frozen_at(at(2027, 6, 1, 12)):
        report = build_report("credentials", ReportFilters())

    assert report.table("regions").header == [
        "Region or nation",
        "Held (valid)",
        "Issued this year",
        "Revoked",
        "Expired",
        "Suspended",
    ]
    regions = rows(report, "regions")
    assert regions["London"] == ["1", "1", "1", "0", "0"]
    assert regions["Midlands"] == ["0", "1", "0", "1", "1"]
    assert regions["South West"] == ["0", "0", "0", "0", "0"]
    assert regions["Wales"] == ["2", "1", "0", "0", "0"]
    assert regions["Scotland"] == ["0", "0", "0", "0", "0"]
    assert regions["England, region not recorded"] == ["1", "1", "0", "0", "0"]
    assert regions["No employer recorded"] == ["1", "0", "0", "0", "0"]
    assert "England" not in regions  # England is split into its regions
    sectors = rows(report, "sectors")
    assert sectors["Acute trust"] == ["1", "1", "1", "0", "0"]
    assert sectors["Mental health trust"] == ["0", "1", "0", "1", "1"]
    assert sectors["Health board"] == ["2", "1", "0", "0", "0"]
    assert sectors["Integrated care board"] == ["1", "1", "0", "0", "0"]
    assert sectors["No employer recorded"] == ["1", "0", "0", "0", "0"]
    nations = rows(report, "nations")
    assert nations["England"] == ["2", "3", "1", "1", "1"]
    assert nations["Wales"] == ["2", "1", "0", "0", "0"]
    assert nations["Northern Ireland"] == ["0", "0", "0", "0", "0"]
    assert nations["No employer recorded"] == ["1", "0", "0", "0", "0"]


def test_credentials_filter_by_kind(credential_holders):
    with clock.frozen_at(at(2027, 6, 1, 12)):
        report = build_report("credentials", ReportFilters(kind="external"))

    held = {label: cells for label, cells in rows(report, "nations").items() if cells[0] != "0"}
    assert held == {"Wales": ["1", "1", "0", "0", "0"]}
    assert "No employer recorded" not in rows(report, "nations")


def test_a_credential_follows_its_holders_current_employer(make, credential_holders):
    moved = credential_holders["london"]
    moved.organisation_id = make.organisation(nation="scotland", sector="health_board").id
    db.session.commit()

    with clock.frozen_at(at(2027, 6, 1, 12)):
        report = build_report("credentials", ReportFilters())

    assert rows(report, "regions")["London"][0] == "0"
    assert rows(report, "regions")["Scotland"][0] == "1"


# --- d. extensions and late work --------------------------------------------------------------


def _extension(assignment, user, status):
    db.session.add(
        Extension(
            assignment_id=assignment.id,
            user_id=user.id,
            reason="Illness",
            requested_due_at=assignment.due_at + timedelta(days=7),
            status=status,
        )
    )
    db.session.commit()


@pytest.fixture
def lateness_cohort(make):
    m1, m2 = make.module(code="DHL721"), make.module(code="DHL722")
    with clock.frozen_at(at(2027, 2, 1, 9)):
        cohort = make.cohort(make.programme(modules=[m1, m2]), name="Lateness")
        essay = make.assignment(cohort, due_at=at(2027, 3, 5, 12))
        report = make.assignment(cohort, delivery=cohort.deliveries[1], due_at=at(2027, 4, 5, 12))
    learners = [make.user("learner") for _ in range(4)]
    for learner, late in zip(learners, (0, 2, 0), strict=False):
        make.submission(essay, learner, late_working_days=late)
    make.submission(essay, learners[3], status="draft")  # not handed in: not counted
    make.submission(report, learners[0], late_working_days=1)
    make.submission(report, learners[1])
    for learner, status in zip(learners, ("approved", "declined", "pending"), strict=False):
        _extension(essay, learner, status)
    _extension(report, learners[0], "withdrawn")
    _extension(report, learners[1], "approved")
    return cohort


def test_extension_and_late_rates_by_cohort_and_module(lateness_cohort):
    report = build_report("extensions", ReportFilters(cohort_id=lateness_cohort.id))

    assert report.table("cohorts").header[2:] == [
        "Submissions",
        "Late submissions",
        "Late rate",
        "Extension requests",
        "Approved",
        "Refused",
    ]
    [cohort_row] = report.table("cohorts").text_rows()
    assert cohort_row[2:] == ["5", "2", "40.0%", "5", "2", "1"]
    modules = rows(report, "modules")
    assert modules["DHL721"][1:] == ["3", "1", "33.3%", "3", "1", "1"]
    assert modules["DHL722"][1:] == ["2", "1", "50.0%", "2", "1", "0"]


def test_lateness_filters_by_due_date(lateness_cohort):
    report = build_report(
        "extensions", ReportFilters(cohort_id=lateness_cohort.id, date_to=date(2027, 3, 31))
    )

    [cohort_row] = report.table("cohorts").text_rows()
    assert cohort_row[2:] == ["3", "1", "33.3%", "3", "1", "1"]
    assert rows(report, "modules")["DHL722"][1:] == ["0", "0", "–", "0", "0", "0"]


# --- the API's raw numbers and fixed query counts ---------------------------------------------


def test_records_give_raw_numbers(lateness_cohort):
    report = build_report("extensions", ReportFilters(cohort_id=lateness_cohort.id))

    [record] = report.table("cohorts").records()
    assert record["late_rate"] == 0.4
    assert record["submissions"] == 5 and record["cohort"] == "Lateness"


def _grow(make, size: int):
    """A cohort of `size` learners, each with submitted, marked, released, extended work, a
    result and a credential."""
    organisation = make.organisation(region="london")
    cohort = make.cohort()
    assignment = make.assignment(cohort)
    for _ in range(size):
        learner = make.learner_in(cohort, organisation=organisation)
        submission = make.submission(assignment, learner, late_working_days=1)
        db.session.add(
            Mark(submission_id=submission.id, status="released", released_at=clock.now())
        )
        _extension(assignment, learner, "approved")
        _result(learner, cohort.deliveries[0].module, cohort, passed=True)
        _credential(learner, issued=clock.now())


@pytest.mark.parametrize("key", list(REPORTS))
def test_each_report_reads_a_fixed_number_of_queries(make, key):
    _grow(make, 1)
    with counted_queries() as small:
        build_report(key, ReportFilters())
    _grow(make, 6)
    _grow(make, 3)
    with counted_queries() as large:
        build_report(key, ReportFilters())

    assert len(large) == len(small)
    assert len(small) <= 4
