"""Credential expiry reminders: 90 and 30 days before a valid credential expires, once each, to
its holder and to the current sponsors of their employer and of the organisation that sponsored
their enrolment; none for revoked, suspended or expired credentials; none to those who turned
them off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from academy.core import clock
from academy.core.calendar import UK_TIME
from academy.credentials import services as credentials
from academy.extensions import db
from academy.notifications import scheduled
from tests.queries import counted_queries

#: A credential from elsewhere that expires on Wednesday 30 June 2027.
EXPIRES = date(2027, 6, 30)


def on(day: date, hour=8) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def remind(now):
    with clock.frozen_at(now):
        result = scheduled.send_credential_expiry_reminders(now)
        db.session.commit()
    return result


def reminders(outbox, user) -> list:
    """The expiry reminders `user` got (issuing and revoking send emails of their own)."""
    return [m for m in outbox if m["To"] == user.email and "expires soon" in m["Subject"]]


def all_reminders(outbox) -> list:
    return [m for m in outbox if "expires soon" in m["Subject"]]


def subjects(outbox, user) -> list[str]:
    return [message["Subject"] for message in reminders(outbox, user)]


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def trust(make):
    return make.organisation(name="Leeds Teaching Hospitals")


@pytest.fixture
def funder(make):
    return make.organisation(name="Yorkshire Leadership Academy")


@pytest.fixture
def holder(make, trust, funder):
    learner = make.user("learner", organisation=trust, name="Hana Holder", staff_number="E1234")
    make.enrolment(learner, make.cohort(), sponsor=funder)
    return learner


@pytest.fixture
def sponsors(make, trust, funder):
    ended = make.user("sponsor", scope=trust, name="Former Sponsor")
    ended.roles[0].valid_to = date(2027, 1, 31)
    db.session.commit()
    return {
        "trust": make.user("sponsor", scope=trust, name="Tia Trust"),
        "funder": make.user("sponsor", scope=funder, name="Fin Funder"),
        "elsewhere": make.user("sponsor", scope=make.organisation(), name="Els Where"),
        "ended": ended,
    }


def record(learner, *, expires_on=EXPIRES, title="PRINCE2 Practitioner"):
    with clock.frozen_at(on(date(2027, 1, 15))):
        credential = credentials.record_external(
            learner,
            actor=learner,
            title=title,
            issuer="PeopleCert",
            issued_on=date(2024, 6, 30),
            expires_on=expires_on,
        )
        db.session.commit()
    return credential


def test_holder_and_sponsors_are_reminded_at_90_and_30_days_once_each(
    ctx, trust, funder, holder, sponsors, outbox
):
    record(holder)
    assert remind(on(date(2027, 3, 31))).total == 0

    result = remind(on(date(2027, 4, 1)))
    assert result.counts == {"at 90 days": 3, "at 30 days": 0}
    assert subjects(outbox, holder) == ["Your credential expires soon: PRINCE2 Practitioner"]
    sponsor_subject = "A credential Hana Holder holds expires soon: PRINCE2 Practitioner"
    assert subjects(outbox, sponsors["trust"]) == [sponsor_subject]
    assert subjects(outbox, sponsors["funder"]) == [sponsor_subject]
    for name in ("elsewhere", "ended"):
        assert subjects(outbox, sponsors[name]) == []
    own = next(m for m in outbox if m["To"] == holder.email)
    text = plain(own)
    assert "Your credential expires on Wednesday 30 June 2027, in 90 days:" in text
    assert "PRINCE2 Practitioner\nIssued by PeopleCert" in text
    assert "record the new one with its evidence" in text
    assert "https://academy.test/my/credentials" in text
    assert "https://academy.test/account/emails" in text
    for sponsor, organisation in ((sponsors["trust"], trust), (sponsors["funder"], funder)):
        [message] = reminders(outbox, sponsor)
        text = plain(message)
        assert "A credential Hana Holder (staff number E1234) holds expires on Wednesday" in text
        assert f"https://academy.test/organisations/{organisation.id}/dashboard" in text
        assert f"as a sponsor for {organisation.name}." in text
        assert "See the dashboard" in message.get_body(("html",)).get_content()

    remind(on(date(2027, 4, 1), 20))
    remind(on(date(2027, 5, 30)))
    assert len(all_reminders(outbox)) == 3
    result = remind(on(date(2027, 5, 31)))
    assert result.counts == {"at 90 days": 0, "at 30 days": 3}
    assert "in 30 days" in plain(all_reminders(outbox)[-1])
    remind(on(date(2027, 6, 15)))
    # Still valid on its last day; expired the day after.
    remind(on(date(2027, 6, 30), 22))
    remind(on(date(2027, 7, 1)))
    assert len(subjects(outbox, holder)) == 2
    assert len(subjects(outbox, sponsors["trust"])) == 2
    assert len(all_reminders(outbox)) == 6


def test_a_credential_recorded_close_to_expiry_gets_only_the_nearer_reminder(ctx, holder, outbox):
    record(holder, expires_on=date(2027, 2, 4))
    remind(on(date(2027, 1, 15)))
    remind(on(date(2027, 2, 1)))
    assert subjects(outbox, holder) == ["Your credential expires soon: PRINCE2 Practitioner"]
    assert "in 20 days" in plain(reminders(outbox, holder)[0])


def test_issued_credentials_are_reminded_but_not_once_revoked_or_suspended(
    ctx, make, trust, sponsors, outbox
):
    cohort = make.cohort(
        programme=make.programme(core=[make.module(credential_valid_months=6)]),
        starts_on=date(2027, 1, 11),
    )
    admin = make.user("admin")
    with clock.frozen_at(on(date(2027, 2, 1), 10)):
        assignment = make.assignment(cohort)
        kept, revoked, suspended = (
            make.credential(
                make.learner_in(cohort, organisation=trust),
                cohort,
                actor=admin,
                assignment=assignment,
            )
            for _ in range(3)
        )
        credentials.revoke(revoked, actor=admin, reason="Awarded in error")
        credentials.suspend(suspended, actor=admin, reason="Under investigation")
        db.session.commit()
    expires_on = kept.expires_at.astimezone(UK_TIME).date()
    assert expires_on == date(2027, 8, 1)

    remind(on(expires_on - timedelta(days=90)))
    remind(on(expires_on - timedelta(days=30)))
    kept_subject = f"Your credential expires soon: {kept.title}"
    assert subjects(outbox, kept.user) == [kept_subject, kept_subject]
    text = plain(reminders(outbox, kept.user)[0])
    assert "expires on Sunday 1 August 2027, in 90 days" in text
    assert "anyone who checks it will see that it has expired" in text
    assert subjects(outbox, revoked.user) == [] and subjects(outbox, suspended.user) == []
    # The trust's sponsor hears of the one that is still valid only.
    assert (
        subjects(outbox, sponsors["trust"])
        == [f"A credential {kept.user.name} holds expires soon: {kept.title}"] * 2
    )


def test_those_who_turned_expiry_reminders_off_get_none(ctx, make, holder, sponsors, outbox):
    sponsors["trust"].email_opt_outs = ["credential_expiry"]
    db.session.commit()
    record(holder)
    result = remind(on(date(2027, 4, 1)))
    assert result.counts["at 90 days"] == 2
    assert subjects(outbox, sponsors["trust"]) == []
    assert len(subjects(outbox, holder)) == 1
    assert len(subjects(outbox, sponsors["funder"])) == 1


def test_expiry_reminders_read_a_fixed_number_of_queries(ctx, make, trust, holder, sponsors):
    def reading_queries(now) -> int:
        with clock.frozen_at(now), counted_queries() as statements:
            scheduled.send_credential_expiry_reminders(now)
        db.session.commit()
        return sum("outbox_message" not in statement for statement in statements)

    record(holder)
    small = reading_queries(on(date(2027, 4, 1)))
    for n in range(3):
        learner = make.user("learner", organisation=trust)
        make.enrolment(learner, make.cohort(), sponsor=make.organisation())
        record(learner, title=f"Credential {n}")
    make.user("sponsor", scope=trust)
    assert reading_queries(on(date(2027, 5, 31))) == small
