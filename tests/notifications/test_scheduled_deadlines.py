"""Deadline reminders: on the UK day three working days before the due day (each nation's bank
holidays counted) and in the last 24 hours, each once however often the scheduler runs, only to
learners with active enrolments who have not submitted, by their own deadline (an extension's),
never after it, and not to those who turned deadline reminders off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.assessment import services as assessment
from academy.core import clock
from academy.extensions import db
from academy.notifications import scheduled
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage
from tests.queries import counted_queries

#: Tuesday 30 March 2027 at 5pm UK time (British Summer Time began on the 28th), the day after
#: Easter Monday, which is a bank holiday in England but not in Scotland.
DUE = datetime(2027, 3, 30, 16, tzinfo=UTC)
OPENS = datetime(2027, 3, 1, 9, tzinfo=UTC)
TITLE = "Case study: an EPR go-live"


def at(year, month, day, hour=8, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def remind(now):
    with clock.frozen_at(now):
        result = scheduled.send_deadline_reminders(now)
        db.session.commit()
    return result


def subjects(outbox, user) -> list[str]:
    return [message["Subject"] for message in outbox if message["To"] == user.email]


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def england(make):
    return make.cohort(nation="england")


@pytest.fixture
def scotland(make):
    return make.cohort(nation="scotland")


@pytest.mark.parametrize(
    ("due", "nation", "reminded_on"),
    [
        # Due on a Monday: the Wednesday before, across the weekend.
        (at(2027, 4, 12, 11), "england", date(2027, 4, 7)),
        # Due on the Tuesday after Easter: Good Friday and Easter Monday are not working days
        # in England; in Scotland Easter Monday is.
        (DUE, "england", date(2027, 3, 23)),
        (DUE, "scotland", date(2027, 3, 24)),
        # Due at 12.30am on a Friday in summer, 11.30pm on Thursday in UTC: the UK day decides.
        (at(2027, 6, 3, 23, 30), "england", date(2027, 6, 1)),
    ],
)
def test_the_reminder_day_is_three_working_days_before_the_uk_due_day(due, nation, reminded_on):
    assert scheduled.reminder_day(due, nation) == reminded_on


def test_reminders_come_three_working_days_before_and_in_the_last_day_once_each(
    make, england, scotland, outbox
):
    english = make.assignment(england, title=TITLE, opens_at=OPENS, due_at=DUE)
    make.assignment(scotland, title=TITLE, opens_at=OPENS, due_at=DUE)
    ann = make.learner_in(england, name="Ann England")
    sam = make.learner_in(scotland, name="Sam Scotland")

    assert remind(at(2027, 3, 22, 20)).total == 0
    assert outbox == []

    # Tuesday 23 March: three working days before in England (Good Friday, Easter Monday).
    result = remind(at(2027, 3, 23, 7))
    assert result.counts == {"3 working days before": 1, "1 day before": 0}
    assert subjects(outbox, ann) == [f"Reminder: {TITLE} is due Tuesday 30 March 2027 at 5pm"]
    assert subjects(outbox, sam) == []
    [message] = outbox
    text = plain(message)
    assert "Dear Ann England," in text
    assert "is due on Tuesday 30 March 2027 at 5pm (UK time)" in text
    assert "You have not submitted it yet." in text
    assert f"https://academy.test/assignments/{english.id}\n" in text
    assert f"https://academy.test/assignments/{english.id}/extension" in text
    assert "https://academy.test/account/emails" in text
    assert "extension you were given" not in text
    html = message.get_body(("html",)).get_content()
    assert "Go to the assignment" in html and "Tuesday 30 March 2027 at 5pm" in html

    # Running again, later the same day or the next, sends Ann nothing more.
    remind(at(2027, 3, 23, 18))
    # Wednesday 24 March: three working days before in Scotland, where Easter Monday is worked.
    remind(at(2027, 3, 24, 7))
    remind(at(2027, 3, 26, 12))
    assert len(subjects(outbox, ann)) == 1
    assert subjects(outbox, sam) == [f"Reminder: {TITLE} is due Tuesday 30 March 2027 at 5pm"]

    # Twenty-five hours before the deadline is not yet the last day.
    assert remind(DUE - timedelta(hours=25)).total == 0
    result = remind(DUE - timedelta(hours=23))
    assert result.counts == {"3 working days before": 0, "1 day before": 2}
    last = f"Last reminder: {TITLE} is due Tuesday 30 March 2027 at 5pm"
    assert subjects(outbox, ann)[-1] == last
    assert subjects(outbox, sam)[-1] == last
    assert "due within 24 hours, by Tuesday 30 March 2027 at 5pm" in plain(outbox[-1])

    remind(DUE - timedelta(minutes=5))
    remind(DUE + timedelta(minutes=5))
    remind(DUE + timedelta(days=2))
    assert len(outbox) == 4


def test_only_learners_who_have_not_submitted_are_reminded(make, england, outbox):
    assignment = make.assignment(england, title=TITLE, opens_at=OPENS, due_at=DUE)
    submitted = make.learner_in(england)
    drafting = make.learner_in(england)
    not_started = make.learner_in(england)
    with clock.frozen_at(at(2027, 3, 20)):
        make.submission(assignment, submitted)
        make.submission(assignment, drafting, status="draft")

    remind(at(2027, 3, 23))
    remind(DUE - timedelta(hours=2))
    assert subjects(outbox, submitted) == []
    assert len(subjects(outbox, drafting)) == 2
    assert len(subjects(outbox, not_started)) == 2


def test_only_active_enrolments_in_started_cohorts_with_open_work_are_reminded(make, outbox):
    cohort = make.cohort()
    make.assignment(cohort, title=TITLE, opens_at=OPENS, due_at=DUE)
    active = make.learner_in(cohort)
    others = {}
    for status in ("deferred", "withdrawn", "completed"):
        others[status] = make.user("learner")
        make.enrolment(others[status], cohort, status=status)
    deactivated = make.learner_in(cohort, active=False)
    # Work not open yet, and a cohort that has not started, remind no one.
    make.assignment(cohort, title="Not open yet", opens_at=at(2027, 3, 24), due_at=DUE)
    later = make.cohort(starts_on=date(2027, 4, 5))
    make.assignment(later, title="Early bird", opens_at=OPENS, due_at=DUE)
    early = make.learner_in(later)

    remind(at(2027, 3, 23))
    assert subjects(outbox, active) == [f"Reminder: {TITLE} is due Tuesday 30 March 2027 at 5pm"]
    for user in [*others.values(), deactivated, early]:
        assert subjects(outbox, user) == []


def test_an_extension_moves_the_reminders_to_the_new_deadline(ctx, make, england, outbox):
    assignment = make.assignment(england, title=TITLE, opens_at=OPENS, due_at=DUE)
    extended = make.learner_in(england, name="Ext Ended")
    on_time = make.learner_in(england)
    remind(at(2027, 3, 23))
    assert len(subjects(outbox, extended)) == 1

    # Thursday 1 April at 5pm: two working days more, so self-certified and approved at once.
    new_due = datetime(2027, 4, 1, 16, tzinfo=UTC)
    with clock.frozen_at(at(2027, 3, 24, 9)):
        extension = assessment.request_extension(
            assignment, extended, reason="Covering a colleague's go-live", requested_due_at=new_due
        )
        db.session.commit()
    assert extension.status == "approved"

    # Three working days before Thursday 1 April in England is Thursday 25 March.
    assert remind(at(2027, 3, 24, 18)).total == 0
    remind(at(2027, 3, 25, 7))
    assert (
        subjects(outbox, extended)[-1] == f"Reminder: {TITLE} is due Thursday 1 April 2027 at 5pm"
    )
    text = plain([m for m in outbox if m["To"] == extended.email][-1])
    assert "This is the deadline of the extension you were given." in text

    # The original deadline's last day passes with a reminder for the others only.
    remind(DUE - timedelta(hours=2))
    assert subjects(outbox, on_time)[-1].startswith("Last reminder:")
    assert len(subjects(outbox, extended)) == 2
    # After the original deadline the extended learner is still reminded of their own.
    remind(new_due - timedelta(hours=3))
    assert subjects(outbox, extended)[-1] == (
        f"Last reminder: {TITLE} is due Thursday 1 April 2027 at 5pm"
    )
    remind(new_due + timedelta(hours=1))
    assert len(subjects(outbox, extended)) == 3
    assert len(subjects(outbox, on_time)) == 2


def test_a_learner_who_turned_reminders_off_gets_none_but_still_gets_essential_mail(
    make, england, outbox
):
    make.assignment(england, title=TITLE, opens_at=OPENS, due_at=DUE)
    quiet = make.learner_in(england, email_opt_outs=["deadline_reminder"])
    other_choices = make.learner_in(england, email_opt_outs=["credential_expiry"])

    remind(at(2027, 3, 23))
    remind(DUE - timedelta(hours=1))
    assert subjects(outbox, quiet) == []
    assert len(subjects(outbox, other_choices)) == 2
    send_email(
        quiet.email,
        "Reset your Digital Academy password",
        "password_reset",
        user=quiet,
        link="https://academy.test/reset-password/token",
        hours=2,
    )
    db.session.commit()
    assert subjects(outbox, quiet) == ["Reset your Digital Academy password"]


def test_a_late_start_sends_only_the_last_reminder(make, england, outbox):
    # Set the day before it is due: the three-working-day reminder would only be noise.
    make.assignment(england, title=TITLE, opens_at=DUE - timedelta(hours=20), due_at=DUE)
    learner = make.learner_in(england)
    result = remind(DUE - timedelta(hours=19))
    assert result.counts == {"3 working days before": 0, "1 day before": 1}
    assert subjects(outbox, learner) == [
        f"Last reminder: {TITLE} is due Tuesday 30 March 2027 at 5pm"
    ]


def test_reminders_read_a_fixed_number_of_queries_whatever_the_cohort_size(make, england):
    def reading_queries(now) -> int:
        with clock.frozen_at(now), counted_queries() as statements:
            scheduled.send_deadline_reminders(now)
        db.session.commit()
        return sum("outbox_message" not in statement for statement in statements)

    make.assignment(england, opens_at=OPENS, due_at=DUE)
    make.assignment(england, title="Second piece", opens_at=OPENS, due_at=DUE + timedelta(days=1))
    make.learner_in(england)
    small = reading_queries(at(2027, 3, 23))
    for _ in range(4):
        make.learner_in(england)
    large = reading_queries(at(2027, 3, 24))
    assert small == large
    sent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.category == "deadline_reminder")
    )
    assert sent == 10
