"""Feedback-overdue alerts: each tutor, once a working day, gets the handed-in work of their
cohorts whose feedback date (the cohort's working days after submission) has passed with no mark
released; each admin gets a digest by cohort once a week; nothing on weekends and bank holidays,
nothing when nothing is overdue, nothing to those who turned them off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from academy.assessment.services import candidate_number
from academy.core import clock
from academy.extensions import db
from academy.marking import services as marking
from academy.notifications import scheduled
from tests.queries import counted_queries

#: Thursday 18 March 2027: five working days on, feedback is due on Thursday 25 March.
HANDED_IN = datetime(2027, 3, 18, 10, tzinfo=UTC)


def at(month, day, hour=8) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=UTC)


def alert(now):
    with clock.frozen_at(now):
        result = scheduled.send_feedback_alerts(now)
        db.session.commit()
    return result


def to(outbox, user) -> list:
    return [message for message in outbox if message["To"] == user.email]


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def cohort(make):
    return make.cohort(name="2027 spring", feedback_working_days=5)


@pytest.fixture
def tutor(make, cohort):
    return make.user("tutor", scope=cohort, name="Tess Tutor")


@pytest.fixture
def admin(make):
    return make.user("admin", name="Ada Admin")


@pytest.fixture
def overdue_work(ctx, make, cohort, admin):
    """Three pieces overdue from Friday 26 March (one anonymous), one released, one newer."""
    essay = make.assignment(cohort, title="Essay")
    anonymous = make.assignment(cohort, title="Anonymous report", anonymous=True)
    late = make.learner_in(cohort, name="Lee Late")
    marked = make.learner_in(cohort, name="Mo Marked")
    hidden = make.learner_in(cohort, name="Ana Nonymous")
    released = make.learner_in(cohort, name="Rae Released")
    newer = make.learner_in(cohort, name="Nia Newer")
    with clock.frozen_at(HANDED_IN):
        make.passed(released, cohort, assignment=essay, actor=admin)
        make.submission(essay, late)
        submission = make.submission(essay, marked)
        marking.save_mark(submission, actor=admin, expected_version=0, mark=58)
        make.submission(anonymous, hidden)
        db.session.commit()
    with clock.frozen_at(at(3, 23, 12)):
        make.submission(essay, newer)
    return {"anonymous": anonymous, "hidden": hidden}


def test_a_tutor_is_told_of_unreleased_overdue_work_once_a_working_day(
    make, cohort, tutor, admin, overdue_work, outbox
):
    other_cohorts_tutor = make.user("tutor", scope=make.cohort(), name="Otto Other")

    # Due on Thursday 25 March: not overdue that day.
    assert alert(at(3, 25, 20)).total == 0
    # Overdue from Good Friday, but not a word until the next working day, Tuesday 30 March.
    for day in (26, 27, 28, 29):
        assert alert(at(3, day)).total == 0
    assert outbox == []

    result = alert(at(3, 30))
    assert result.counts == {"tutor alerts": 1, "admin digests": 1}
    [message] = to(outbox, tutor)
    assert message["Subject"] == "Feedback overdue: 3 pieces of work past the feedback date"
    text = plain(message)
    assert "As of Tuesday 30 March 2027, 3 pieces of work in your cohorts have passed" in text
    assert "Lee Late" in text and "Mo Marked" in text
    number = candidate_number(overdue_work["anonymous"].id, overdue_work["hidden"].id)
    assert f"- Anonymous report ({cohort.deliveries[0].module.code}, 2027 spring): {number}" in text
    assert "Ana Nonymous" not in text
    assert "Rae Released" not in text and "Nia Newer" not in text
    assert "Submitted Thursday 18 March 2027. Feedback was due Thursday 25 March 2027, " in text
    # Good Friday and Easter Monday are not counted.
    assert "1 working day ago" in text
    assert "https://academy.test/marking" in text
    assert "https://academy.test/account/emails" in text
    html = message.get_body(("html",)).get_content()
    assert "1 working day overdue" in html and number in html
    assert to(outbox, other_cohorts_tutor) == []

    alert(at(3, 30, 16))
    assert len(to(outbox, tutor)) == 1
    alert(at(3, 31))
    assert len(to(outbox, tutor)) == 2
    assert "2 working days ago" in plain(to(outbox, tutor)[-1])


def test_admins_get_a_weekly_digest_by_cohort(make, cohort, tutor, admin, overdue_work, outbox):
    untutored = make.cohort(name="2027 autumn", feedback_working_days=5)
    with clock.frozen_at(HANDED_IN):
        make.submission(make.assignment(untutored), make.learner_in(untutored))
    former_admin = make.user("admin")
    former_admin.roles[0].valid_to = at(3, 1).date()
    db.session.commit()

    alert(at(3, 30))
    [digest] = to(outbox, admin)
    assert digest["Subject"] == "Overdue feedback this week: 4 across 2 cohorts"
    text = plain(digest)
    assert "4 pieces of handed-in work have passed the feedback date" in text
    assert (
        f"- {cohort.programme.title}, 2027 spring: 3 overdue, the oldest due Thursday 25 March"
        in text
    )
    assert "Tutors: Tess Tutor" in text
    assert "2027 autumn: 1 overdue" in text and "Tutors: none assigned" in text
    assert "https://academy.test/reports/academy/feedback-turnaround" in text
    assert "https://academy.test/teaching/caseload" in text
    assert "None assigned" in digest.get_body(("html",)).get_content()
    assert to(outbox, former_admin) == []

    # Once a week: not again on Wednesday, and again in the next ISO week.
    alert(at(3, 31))
    alert(at(4, 2))
    assert len(to(outbox, admin)) == 1
    alert(at(4, 5))
    assert len(to(outbox, admin)) == 2
    # By Monday 5 April the newer piece (due Thursday 1 April) is overdue too.
    assert to(outbox, admin)[-1]["Subject"] == "Overdue feedback this week: 5 across 2 cohorts"


def test_nothing_is_sent_when_nothing_is_overdue(make, cohort, tutor, admin, outbox):
    with clock.frozen_at(at(3, 29)):
        make.submission(make.assignment(cohort), make.learner_in(cohort))
    assert alert(at(3, 31)).total == 0
    assert outbox == []


def test_those_who_turned_alerts_off_get_none(make, cohort, tutor, admin, overdue_work, outbox):
    quiet_tutor = make.user("tutor", scope=cohort, email_opt_outs=["feedback_overdue"])
    quiet_admin = make.user("admin", email_opt_outs=["admin_digest"])
    # Turning one off leaves the other: an admin who tutors too.
    tutoring_admin = make.user("tutor", scope=cohort, email_opt_outs=["admin_digest"])
    make.role(tutoring_admin, "admin")

    result = alert(at(3, 30))
    assert result.counts == {"tutor alerts": 2, "admin digests": 1}
    assert to(outbox, quiet_tutor) == [] and to(outbox, quiet_admin) == []
    assert [m["Subject"] for m in to(outbox, tutoring_admin)] == [
        "Feedback overdue: 3 pieces of work past the feedback date"
    ]


def test_alerts_read_a_fixed_number_of_queries(make, cohort, tutor, admin, overdue_work):
    def reading_queries(now) -> int:
        with clock.frozen_at(now), counted_queries() as statements:
            scheduled.send_feedback_alerts(now)
        db.session.commit()
        return sum("outbox_message" not in statement for statement in statements)

    small = reading_queries(at(3, 30))
    essay = overdue_work["anonymous"]
    with clock.frozen_at(HANDED_IN):
        for _ in range(3):
            make.submission(essay, make.learner_in(cohort))
    make.user("tutor", scope=cohort)
    make.user("admin")
    assert reading_queries(at(3, 31)) == small
