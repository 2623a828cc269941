"""The organisation report behind the sponsor's dashboard, exports and summary emails: who is on
track and who is at risk and why, credentials held and expiring, coverage, and the trend, in a
fixed number of queries."""

from datetime import UTC, datetime, timedelta

import pytest

from academy.assessment.models import Extension
from academy.auth import services as auth_services
from academy.core import clock
from academy.extensions import db
from academy.reporting.progress import organisation_report
from tests.queries import counted_queries

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def trust(make):
    return make.organisation(credential_target=3)


def _active(user):
    user.last_login_at = NOW - timedelta(days=2)
    db.session.commit()


def _learner(make, cohort, trust, **fields):
    learner = make.learner_in(cohort, organisation=trust, **fields)
    _active(learner)
    return learner


def test_statuses_and_risk_reasons(make, trust):
    with clock.frozen_at(NOW - timedelta(days=30)):
        cohort = make.cohort()
        due = make.assignment(cohort, title="Essay one", due_at=NOW - timedelta(days=10))
    on_track = _learner(make, cohort, trust, name="Ann On-Track")
    _learner(make, cohort, trust, name="Bob Missing")
    extended = _learner(make, cohort, trust, name="Cat Extended")
    sleepy = make.learner_in(cohort, organisation=trust, name="Dan Asleep")
    for learner in (on_track, sleepy):
        make.submission(due, learner)
    make.submission(due, extended, late_working_days=2)
    db.session.add(
        Extension(
            assignment_id=due.id,
            user_id=extended.id,
            reason="Illness",
            requested_due_at=NOW,
            status="approved",
            granted_due_at=NOW + timedelta(days=5),
            granted_cutoff_at=NOW + timedelta(days=9),
        )  # fmt: skip
    )
    db.session.commit()
    with clock.frozen_at(NOW):
        report = organisation_report(trust)
    by_name = {p.user.name: p for p in report.learners}
    assert by_name["Ann On-Track"].status == "on_track"
    assert by_name["Bob Missing"].status == "at_risk"
    assert by_name["Bob Missing"].risks == ["Missed the deadline for “Essay one” with no extension"]
    assert by_name["Cat Extended"].status == "late"
    assert by_name["Dan Asleep"].risks == ["No activity for 4 weeks or more"]
    assert [p.user.name for p in report.at_risk] == ["Bob Missing", "Dan Asleep"]
    assert report.by_enrolment_status == {"active": 4}


def test_a_failed_component_is_a_risk_and_marks_show_only_with_consent(make, trust):
    cohort = make.cohort()
    learner = _learner(make, cohort, trust, name="Eve Failed")
    make.passed(learner, cohort, mark=30)
    _active(learner)
    report = organisation_report(trust)
    (progress,) = report.learners
    assert progress.status == "at_risk"
    assert any(reason.startswith("Failed “") for reason in progress.risks)
    assert any(reason.startswith("Did not pass module") for reason in progress.risks)
    assert progress.marks is None
    auth_services.set_marks_consent(learner, True, actor=learner)
    db.session.commit()
    (progress,) = organisation_report(trust).learners
    assert [(mark, passed) for _, mark, passed in progress.marks] == [(30, False)]


def test_progress_belongs_to_the_sponsor_of_the_enrolment(make, trust):
    other = make.organisation()
    cohort = make.cohort()
    learner = make.learner_in(cohort, organisation=trust)
    learner.organisation_id = other.id  # moved to another employer since
    db.session.commit()
    assert [p.user.id for p in organisation_report(trust).learners] == [learner.id]
    assert organisation_report(other).learners == []


def test_credentials_coverage_expiry_and_trend(make, trust):
    module = make.module(credential_valid_months=3)
    programme = make.programme(core=[module], credits_required=15)
    with clock.frozen_at(NOW - timedelta(days=60)):
        cohort = make.cohort(programme=programme)
        holder = _learner(make, cohort, trust)
        make.passed(holder, cohort, mark=70)
    outsider = make.credential()
    with clock.frozen_at(NOW):
        report = organisation_report(trust)
    summary = report.credentials
    assert {c.user_id for c in summary.held} == {holder.id}
    assert outsider not in summary.held
    assert summary.coverage_text == "1 of 3 credentialed"
    # The module credential expires 3 months after issue, within 90 days now; the award never.
    assert [c.kind for c in summary.expiring] == ["module"]
    assert summary.trend[-1][1] == 1 and summary.trend[0][1] == 0


def test_the_report_reads_a_fixed_number_of_queries(make, trust):
    def build(count):
        cohort = make.cohort()
        assignment = make.assignment(cohort)
        for _ in range(count):
            learner = _learner(make, cohort, trust)
            make.submission(assignment, learner)
        make.passed(_learner(make, cohort, trust), cohort, assignment=assignment)
        db.session.expire_all()
        with counted_queries() as statements:
            organisation_report(trust)
        return len(statements)

    small = build(2)
    large = build(12)
    assert small == large


def test_silence_counts_only_while_there_is_something_to_do(make, trust):
    """A graduate whose cohort has ended, and a learner enrolled last week, are not flagged for
    weeks without activity; a learner quiet for the whole window of a running cohort is."""
    running = make.cohort(
        starts_on=(NOW - timedelta(weeks=10)).date(), ends_on=NOW.date() + timedelta(weeks=20)
    )
    ended = make.cohort(
        starts_on=(NOW - timedelta(weeks=60)).date(), ends_on=(NOW - timedelta(weeks=8)).date()
    )
    with clock.frozen_at(NOW - timedelta(weeks=9)):
        quiet = make.learner_in(running, organisation=trust, name="Quiet Throughout")
        make.learner_in(ended, organisation=trust, name="Graduate")
    with clock.frozen_at(NOW - timedelta(days=6)):
        make.learner_in(running, organisation=trust, name="New This Week")
    with clock.frozen_at(NOW):
        report = organisation_report(trust)
    flagged = {p.user.name for p in report.learners if p.risks}
    assert flagged == {quiet.name}
