"""The events that email someone: an extension decision, a credential issued, revoked, suspended
or reinstated, and the ones that emailed before the outbox (invitation, password reset, receipt,
release notice), each written to the outbox with the change and sent after it commits, and
nothing at all for a change that rolled back."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event, orm
from sqlalchemy.exc import OperationalError

from academy.assessment import services as assessment
from academy.assessment.forms import uk_datetime_text
from academy.credentials import services as credentials
from academy.credentials.document import public_url
from academy.credentials.models import Credential
from academy.extensions import db
from academy.notifications.models import OutboxMessage
from academy.notifications.preferences import OPTIONAL


@pytest.fixture(autouse=True)
def no_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


def subjects(outbox) -> list[str]:
    return [m["Subject"] for m in outbox]


def stored(template: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


# --- extension decisions -------------------------------------------------------------------------


@pytest.fixture
def waiting_request(make):
    """A learner's request for three more weeks: past self-certification, so a tutor decides."""
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Dr Ada Quill")
    assignment = make.assignment(cohort, title="Case study: an EPR go-live")
    extension = assessment.request_extension(
        assignment,
        learner,
        reason="Night shifts all month",
        requested_due_at=assignment.due_at + timedelta(days=21),
    )
    db.session.commit()
    return extension, make.user("tutor", scope=cohort)


def test_an_approved_extension_tells_the_learner_their_new_deadline(waiting_request, api, outbox):
    extension, tutor = waiting_request
    new_due = extension.assignment.due_at + timedelta(days=14)
    response = api(tutor).post(
        f"extensions/{extension.id}/decision",
        json={"approved": True, "due_at": new_due.isoformat(), "comment": "Two weeks, not three"},
    )
    assert response.status_code == 200, response.get_json()

    (message,) = outbox
    assert message["To"] == extension.user.email
    assert message["Subject"] == "Extension approved: Case study: an EPR go-live"
    body = text(message)
    assert "Dear Dr Ada Quill" in body and "has been approved" in body
    assert f"Your new deadline: {uk_datetime_text(new_due)}" in body
    assert "Two weeks, not three" in body
    assert f"https://academy.test/assignments/{extension.assignment_id}" in body
    assert uk_datetime_text(new_due) in html(message)
    (row,) = stored("extension_decision")
    assert row.user_id == extension.user_id and row.category == "essential"


def test_a_declined_extension_gives_the_learner_the_reason(waiting_request, make, ctx, outbox):
    extension, tutor = waiting_request
    extension.user.email_opt_outs = list(OPTIONAL)  # essential: sent whatever they turned off
    assessment.decide_extension(
        extension, actor=tutor, approved=False, comment="Your evidence covers one week only"
    )
    db.session.commit()

    (message,) = outbox
    assert message["Subject"] == "Extension declined: Case study: an EPR go-live"
    body = text(message)
    assert "has been declined" in body
    assert "Your evidence covers one week only" in body
    assert f"Your deadline is still {uk_datetime_text(extension.assignment.due_at)}" in body
    assert "new deadline" not in body


def test_a_refused_decision_sends_nothing(waiting_request, api, outbox):
    extension, tutor = waiting_request
    silent = api(tutor).post(f"extensions/{extension.id}/decision", json={"approved": False})
    assert silent.status_code == 422
    assert len(outbox) == 0 and stored("extension_decision") == []


# --- credentials ---------------------------------------------------------------------------------


def test_a_pass_emails_the_learner_their_credential_with_its_links(make, outbox):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Dr Ada Quill")
    make.passed(learner, cohort, mark=68)
    credential = db.session.scalar(sa.select(Credential).where(Credential.user_id == learner.id))

    (message,) = [m for m in outbox if m["Subject"].startswith("Your credential")]
    assert message["To"] == learner.email
    assert message["Subject"] == f"Your credential: {credential.title}"
    body = text(message)
    assert f"you have passed {credential.title}" in body
    assert public_url(credential) in body
    assert public_url(credential).startswith("https://academy.test/credentials/")
    assert "https://academy.test/my/credentials" in body
    assert f'href="{public_url(credential)}"' in html(message)
    (row,) = stored("credential_issued")
    assert row.user_id == learner.id and row.category == "essential"


def test_the_award_is_emailed_with_its_classification(make, outbox):
    core = [make.module(credits=30), make.module(credits=30)]
    programme = make.programme(modules=[], core=core, credits_required=60)
    cohort = make.cohort(programme=programme)
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    for module in core:
        delivery = next(d for d in cohort.deliveries if d.module_id == module.id)
        make.passed(
            learner,
            cohort,
            mark=72,
            actor=admin,
            assignment=make.assignment(cohort, delivery=delivery),
        )

    (award,) = [m for m in outbox if programme.award_title in m["Subject"]]
    assert "you have been awarded the" in text(award) and "Distinction" in text(award)
    issued = [m for m in subjects(outbox) if m.startswith("Your credential")]
    assert len(issued) == 3  # two modules and the award, once each


def test_a_failed_module_issues_and_emails_nothing(make, outbox):
    cohort = make.cohort()
    make.passed(make.learner_in(cohort), cohort, mark=30)
    assert stored("credential_issued") == []
    assert not [s for s in subjects(outbox) if s.startswith("Your credential")]


def test_revoking_suspending_and_reinstating_tell_the_learner_why(make, api, outbox):
    credential = make.credential()
    admin = make.user("admin")
    outbox.clear()
    as_admin = api(admin)

    suspended = as_admin.post(
        f"credentials/{credential.id}/suspend", json={"reason": "Checking a plagiarism report"}
    )
    reinstated = as_admin.post(
        f"credentials/{credential.id}/reinstate", json={"reason": "The report was unfounded"}
    )
    revoked = as_admin.post(
        f"credentials/{credential.id}/revoke", json={"reason": "Awarded to the wrong learner"}
    )
    assert [r.status_code for r in (suspended, reinstated, revoked)] == [200, 200, 200]

    assert subjects(outbox) == [
        f"Your credential has been suspended: {credential.title}",
        f"Your credential has been reinstated: {credential.title}",
        f"Your credential has been revoked: {credential.title}",
    ]
    assert {m["To"] for m in outbox} == {credential.user.email}
    suspension, reinstatement, revocation = (text(m) for m in outbox)
    assert "Checking a plagiarism report" in suspension and "suspended" in suspension
    assert "The report was unfounded" in reinstatement
    assert "Awarded to the wrong learner" in revocation and "has revoked" in revocation
    assert public_url(credential) in revocation
    assert "Awarded to the wrong learner" in html(outbox[2])


def test_a_lowered_mark_revokes_the_credential_and_says_so(make, ctx, outbox):
    from academy.marking import services as marking

    cohort = make.cohort()
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    mark = make.passed(learner, cohort, mark=60, actor=admin)
    outbox.clear()

    marking.save_mark(
        mark.submission,
        actor=admin,
        expected_version=mark.version,
        mark=40,
        reason="Marking error found at the exam board",
    )
    db.session.commit()

    (message,) = [m for m in outbox if "revoked" in m["Subject"]]
    assert credentials.AUTOMATIC_REVOCATION in text(message)


# --- nothing for a change that rolled back -------------------------------------------------------


@contextmanager
def next_commit_fails():
    """The next commit fails as if the database had gone away; later ones work."""
    failures = []

    def fail_once(session):
        if not failures:
            failures.append(session)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(orm.Session, "before_commit", fail_once)
    try:
        yield failures
    finally:
        event.remove(orm.Session, "before_commit", fail_once)


def test_a_request_that_fails_to_commit_sends_nothing(make, client, login_as, outbox):
    credential = make.credential()
    login_as(make.user("admin"))
    outbox.clear()

    with next_commit_fails() as failures:
        response = client.post(
            f"/admin/credentials/{credential.id}/revoke",
            data={"revoke-reason": "Awarded to the wrong learner"},
        )

    assert response.status_code == 500 and failures
    assert len(outbox) == 0
    assert stored("credential_revoked") == []
    db.session.refresh(credential)
    assert credential.status == "valid"


def test_a_change_rolled_back_in_a_service_call_sends_nothing(make, ctx, outbox):
    credential = make.credential()
    outbox.clear()
    credentials.suspend(credential, actor=make.user("admin"), reason="Checking")
    db.session.rollback()
    db.session.commit()  # a later, unrelated commit must not release the dropped email
    assert len(outbox) == 0 and stored("credential_revoked") == []


# --- the events that emailed before --------------------------------------------------------------


def test_invitations_resets_receipts_and_release_notices_go_through_the_outbox(
    make, api, client, outbox
):
    admin = make.user("admin")
    invited = api(admin).post("users", json={"email": "new.cio@nhs.test", "name": "New CIO"})
    assert invited.status_code == 201
    existing = make.user(email="grace@nhs.test")
    assert client.post("/forgot-password", data={"email": existing.email}).status_code == 200

    cohort = make.cohort()
    learner = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    as_learner = api(learner)
    uploaded = as_learner.post(
        f"assignments/{assignment.id}/submission/files",
        data={"file": (io.BytesIO(b"An essay on an EPR go-live.\n" * 20), "essay.txt")},
        content_type="multipart/form-data",
    )
    submission_id = uploaded.get_json()["submission_id"]
    assert (
        as_learner.post(
            f"submissions/{submission_id}/submit", json={"declaration": True}
        ).status_code
        == 200
    )
    tutor = make.user("tutor", scope=cohort)
    marked = api(tutor).put(f"submissions/{submission_id}/mark", json={"mark": 64, "version": 0})
    assert marked.status_code == 200, marked.get_json()
    assert api(tutor).post(f"assignments/{assignment.id}/release", json={}).status_code == 200

    delivered = {m["To"]: [] for m in outbox}
    for message in outbox:
        delivered[message["To"]].append(message["Subject"])
    rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.template, r.status) for r in rows] == [
        ("invitation", "sent"),
        ("password_reset", "sent"),
        ("submission_receipt", "sent"),
        ("credential_issued", "sent"),
        ("marks_released", "sent"),
    ]
    assert len(delivered["new.cio@nhs.test"]) == 1
    assert len(delivered["grace@nhs.test"]) == 1
    assert len(delivered[learner.email]) == 3
