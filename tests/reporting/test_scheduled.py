"""Sponsors' summary emails: one per organisation per period as each sponsor chose (monthly by
default, weekly, or off), never twice in a period, nothing for ended roles, the staff-credentials
CSV attached, a dry run that sends nothing, and one failure not stopping the rest."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.core import clock
from academy.extensions import db
from academy.notifications import mail
from academy.reporting import scheduled
from academy.reporting.models import ReportSubscription

#: A Sunday, the last day of ISO week 47 of 2026.
NOW = datetime(2026, 11, 22, 7, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Leeds Teaching Hospitals", credential_target=3)


@pytest.fixture
def sponsor(make, trust):
    return make.user("sponsor", scope=trust, name="Sam Sponsor", email="sam@trust.test")


@pytest.fixture
def cohort(make):
    return make.cohort(
        programme=make.programme(core=[make.module(credential_valid_months=2)]),
        starts_on=date(2026, 9, 1),
    )


def subscription(user, organisation) -> ReportSubscription | None:
    return db.session.scalars(
        sa.select(ReportSubscription)
        .where(
            ReportSubscription.user_id == user.id,
            ReportSubscription.organisation_id == organisation.id,
        )
        .execution_options(populate_existing=True)
    ).one_or_none()


def choose(user, organisation, frequency):
    db.session.add(
        ReportSubscription(user_id=user.id, organisation_id=organisation.id, frequency=frequency)
    )
    db.session.commit()


def send(now=NOW, **options):
    with clock.frozen_at(now):
        outcomes = scheduled.send_summaries(**options)
        db.session.commit()
    return outcomes


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=["academy", "reports", "send-summaries", *args])


def test_a_monthly_summary_has_the_headline_numbers_links_and_the_csv(
    make, trust, sponsor, cohort, outbox
):
    assignment = make.assignment(cohort)
    holder = make.learner_in(cohort, organisation=trust, name="Zoë Holder", staff_number="123")
    holder.last_login_at = NOW
    credential = make.credential(holder, cohort, assignment=assignment)
    with clock.frozen_at(NOW - timedelta(weeks=8)):
        # Enrolled long enough ago for weeks of silence to count.
        make.learner_in(cohort, organisation=trust, name="<b>Quiet</b> Learner")
    make.learner_in(cohort, name="Someone Elsewhere")
    outbox.clear()  # the holder's credential email

    [outcome] = send()
    assert outcome.result == "sent"
    [message] = outbox
    assert message["To"] == "sam@trust.test"
    assert message["Subject"] == (
        "Leeds Teaching Hospitals: monthly learning summary, November 2026"
    )
    text = plain(message)
    assert "2 sponsored enrolments" in text
    assert "2 sponsored enrolments.\n- At risk: 1\n- Work missing: 0\n" in text
    assert "- On track: 1" in text
    assert "AT RISK: 1\n- <b>Quiet</b> Learner: No activity for 4 weeks or more" in text
    assert "Someone Elsewhere" not in text
    assert "Coverage: 0 of 3 credentialed." in text
    # The module credential lasts two months: within the 90 days.
    assert "Expiring in the next 90 days: 1\n- Zoë Holder: " in text
    assert f"https://academy.test/organisations/{trust.id}/dashboard" in text
    assert f"https://academy.test/organisations/{trust.id}/reports/staff-credentials.xlsx" in text
    assert "https://academy.test/account/report-emails" in text
    body = html(message)
    assert "&lt;b&gt;Quiet&lt;/b&gt; Learner" in body and "<b>Quiet</b>" not in body
    assert "0 of 3 credentialed" in body

    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "RJ1-staff-credentials-2026-11-22.csv"
    assert attachment.get_content_type() == "text/csv"
    raw = attachment.get_payload(decode=True)
    assert raw.startswith("\ufeff".encode()) and attachment.get_content_charset() == "utf-8"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [(row["name"], row["staff_number"]) for row in rows] == [("Zoë Holder", "123")]
    assert rows[0]["verification_url"].endswith(credential.uuid)

    row = subscription(sponsor, trust)
    assert (row.frequency, row.last_period, row.last_sent_at) == ("monthly", "2026-11", NOW)


def test_a_summary_goes_once_a_period_however_often_the_command_runs(make, trust, sponsor, outbox):
    assert [o.result for o in send()] == ["sent"]
    assert send() == [] and send(NOW + timedelta(days=8)) == []
    assert len(outbox) == 1
    december = datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert [o.summary.period for o in send(december)] == ["2026-12"]
    assert send(december + timedelta(hours=5)) == []
    assert len(outbox) == 2


def test_weekly_summaries_go_once_an_iso_week(make, trust, sponsor, outbox):
    choose(sponsor, trust, "weekly")
    assert [o.summary.period for o in send()] == ["2026-W47"]
    assert send() == []
    monday = datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert [o.summary.period for o in send(monday)] == ["2026-W48"]
    assert send(monday + timedelta(days=6)) == []
    assert len(outbox) == 2
    assert outbox[1]["Subject"].endswith("weekly learning summary, week beginning 23 November 2026")


def test_frequency_limits_a_run_and_off_sends_nothing(make, trust, sponsor, outbox):
    weekly_trust = make.organisation(ods_code="RR8")
    make.role(sponsor, "sponsor", scope=weekly_trust)
    choose(sponsor, weekly_trust, "weekly")
    quiet_trust = make.organisation(ods_code="RYJ")
    make.role(sponsor, "sponsor", scope=quiet_trust)
    choose(sponsor, quiet_trust, "off")

    assert [o.summary.organisation.ods_code for o in send(frequency="weekly")] == ["RR8"]
    assert [o.summary.organisation.ods_code for o in send(frequency="monthly")] == ["RJ1"]
    assert send() == []
    assert len(outbox) == 2 and subscription(sponsor, quiet_trust).last_period is None


def test_each_sponsor_gets_each_of_their_organisations(make, trust, sponsor, outbox):
    other = make.organisation(ods_code="RR8")
    make.role(sponsor, "sponsor", scope=other)
    colleague = make.user("sponsor", scope=trust, email="colleague@trust.test")
    sent = {(o.summary.sponsor.email, o.summary.organisation.ods_code) for o in send()}
    assert sent == {
        ("sam@trust.test", "RJ1"),
        ("sam@trust.test", "RR8"),
        (colleague.email, "RJ1"),
    }
    assert len(outbox) == 3


def test_sponsors_whose_role_ended_or_has_not_started_get_nothing(make, trust, outbox):
    ended = make.user(email="ended@trust.test")
    make.role(ended, "sponsor", scope=trust, valid_to=date(2026, 11, 21))
    withdrawn = make.user(email="withdrawn@trust.test")
    role = make.role(withdrawn, "sponsor", scope=trust)
    role.ended_at = NOW - timedelta(days=1)
    future = make.user(email="future@trust.test")
    make.role(future, "sponsor", scope=trust, valid_from=date(2026, 12, 1))
    make.user("sponsor", scope=trust, email="left@trust.test", active=False)
    make.user("admin")
    make.user("learner")
    assert send() == [] and outbox == []
    assert scheduled.due_summaries(datetime(2026, 12, 1, 6, tzinfo=UTC)) != []


def test_a_dry_run_sends_and_records_nothing(make, trust, sponsor, outbox):
    [outcome] = send(dry_run=True)
    assert outcome.result == "would_send"
    assert outbox == [] and subscription(sponsor, trust) is None
    assert [o.result for o in send()] == ["sent"]


def test_one_failure_does_not_stop_the_others_and_is_retried(
    make, trust, sponsor, outbox, monkeypatch
):
    make.user("sponsor", scope=trust, email="colleague@trust.test")
    real_send = mail.send_email

    def flaky(to, *args, **kwargs):
        if to == "colleague@trust.test":
            raise ConnectionRefusedError("mail server down")
        return real_send(to, *args, **kwargs)

    monkeypatch.setattr(scheduled, "send_email", flaky)
    results = {o.summary.sponsor.email: o for o in send()}
    assert results["sam@trust.test"].result == "sent"
    failed = results["colleague@trust.test"]
    assert failed.result == "failed" and "mail server down" in failed.describe()
    assert [m["To"] for m in outbox] == ["sam@trust.test"]
    colleague = failed.summary.sponsor
    assert subscription(colleague, trust) is None  # nothing recorded: the next run tries again

    monkeypatch.setattr(scheduled, "send_email", real_send)
    assert [o.summary.sponsor.email for o in send()] == ["colleague@trust.test"]


def test_the_command_prints_what_it_sent(app, make, trust, sponsor, outbox):
    dry = run_cli(app, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would send monthly summary 2026-11 of RJ1 (Leeds Teaching Hospitals) to " in dry.output
    assert "Dry run: 1 summaries due, none sent." in dry.output
    assert outbox == []

    result = run_cli(app)
    assert result.exit_code == 0, result.output
    assert "Sent monthly summary 2026-11 of RJ1" in result.output
    assert "1 summaries sent, 0 failed." in result.output
    assert len(outbox) == 1
    assert subscription(sponsor, trust).last_period == "2026-11"

    again = run_cli(app, "--frequency", "monthly")
    assert again.exit_code == 0 and "0 summaries sent" in again.output
    assert len(outbox) == 1
    assert run_cli(app, "--frequency", "daily").exit_code == 2


def test_the_command_fails_loudly_when_a_summary_fails(app, make, trust, sponsor, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(scheduled, "send_email", broken)
    result = run_cli(app)
    assert result.exit_code == 1
    assert "FAILED monthly summary 2026-11 of RJ1" in result.output
    assert "1 summaries failed" in result.output
    assert subscription(sponsor, trust) is None


def test_a_run_racing_another_sends_nothing_the_other_sent(
    make, trust, sponsor, outbox, monkeypatch
):
    # Both runs found the summary due before either recorded it; the first sends it.
    seen_by_both = scheduled.due_summaries(NOW)
    assert [o.result for o in send()] == ["sent"]
    monkeypatch.setattr(scheduled, "due_summaries", lambda *args, **kwargs: seen_by_both)
    [late] = send()
    assert late.result == "skipped" and late.describe().startswith("Left for the next run")
    assert len(outbox) == 1
    assert subscription(sponsor, trust).last_period == "2026-11"
