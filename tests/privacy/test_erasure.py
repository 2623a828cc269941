"""Erasing a person's personal data: anonymised, signed out for good, their own extras deleted,
and their assessment record kept, with credentials that still verify but name no one."""

from __future__ import annotations

import sqlalchemy as sa

from academy.assessment.models import Extension, SubmissionFile
from academy.audit.models import AuditEvent
from academy.auth.models import ApiToken, User
from academy.cohorts.models import Enrolment
from academy.core import clock, jobs
from academy.core.storage import storage
from academy.cpd.models import CpdEntry
from academy.credentials.models import Credential
from academy.credentials.verification import verify_document
from academy.extensions import db
from academy.marking.models import Mark, ModuleResult
from academy.notifications.models import OutboxMessage
from academy.privacy import services
from tests.factories import PASSWORD


def erase_events() -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "privacy.erase")
    ).all()


def erase(user, actor, reason="Request ref 42"):
    summary = services.erase_user(user, actor=actor, confirm_email=user.email, reason=reason)
    db.session.commit()
    jobs.run_ready()
    return summary


def test_an_admin_erases_a_person_from_the_confirmation_page(world, client_for, client):
    alice, bob = world.alice, world.bob
    user_id, old_email, old_name = alice.user.id, alice.user.email, alice.user.name
    db.session.add(
        Extension(
            assignment_id=world.essay.id,
            user_id=user_id,
            reason="My asthma flared up",
            requested_due_at=clock.now(),
        )
    )
    db.session.commit()
    assert db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.user_id == user_id))
    admin = client_for(world.admin)

    show = admin.get(f"/users/{user_id}").get_data(as_text=True)
    assert f'href="/users/{user_id}/erase"' in show
    page = admin.get(f"/users/{user_id}/erase")
    assert page.status_code == 200 and "This cannot be undone" in page.get_data(as_text=True)
    wrong = admin.post(
        f"/users/{user_id}/erase", data={"confirm_email": bob.user.email, "reason": "asked"}
    )
    assert wrong.status_code == 422
    assert db.session.get(User, user_id).erased_at is None
    done = admin.post(
        f"/users/{user_id}/erase",
        data={"confirm_email": old_email.upper(), "reason": "Subject access request 2027/15"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/users/{user_id}")
    jobs.run_ready()

    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user.name == f"Erased person {user_id}"
    assert user.email == f"erased-{user_id}@erased.invalid"
    assert (user.staff_number, user.professional_registration, user.password_hash) == (None,) * 3
    assert not user.active and user.erased_at is not None and user.session_epoch == 1
    assert all(role.ended_at is not None for role in user.roles)
    assert db.session.scalar(sa.select(Enrolment.status).where(Enrolment.user_id == user_id)) == (
        "withdrawn"
    )
    # Their own extras are gone, with the evidence file.
    assert not db.session.scalars(sa.select(CpdEntry).where(CpdEntry.user_id == user_id)).all()
    assert db.session.get(Credential, alice.external.id) is None
    assert not storage().exists(alice.external.evidence_sha256)
    assert not db.session.scalars(
        sa.select(OutboxMessage).where(
            sa.or_(OutboxMessage.user_id == user_id, OutboxMessage.recipient == old_email)
        )
    ).all()
    assert db.session.scalar(sa.select(Extension.reason).where(Extension.user_id == user_id)) == (
        services.ERASED_TEXT
    )
    # The assessment record stays: marks, results, the files still within retention.
    assert db.session.scalar(sa.select(Mark).where(Mark.submission_id == alice.submission.id))
    assert db.session.scalars(sa.select(ModuleResult).where(ModuleResult.user_id == user_id)).all()
    assert db.session.scalars(
        sa.select(SubmissionFile).where(SubmissionFile.submission_id == alice.submission.id)
    ).all()
    assert storage().exists(alice.submission.files[0].sha256)
    # And the credential stays valid, verifiable, and nameless on its public page.
    credential = db.session.get(Credential, alice.credential.id)
    assert credential.status == "valid"
    assert verify_document(credential.document).verdict == "valid"
    public = client.get(f"/credentials/{credential.uuid}").get_data(as_text=True)
    assert "Name withheld" in public and old_name not in public
    assert user.name not in public

    # Bob is untouched.
    assert db.session.get(User, bob.user.id).name == "Bob Brennan"
    assert db.session.scalar(sa.select(CpdEntry.id).where(CpdEntry.user_id == bob.user.id))
    assert storage().exists(bob.external.evidence_sha256)

    [event] = erase_events()
    assert event.actor_id == world.admin.id and event.object_id == str(user_id)
    assert event.after["reason"] == "Subject access request 2027/15"
    assert event.after["cpd_entries_deleted"] == 1
    text = str(event.after) + str(event.before)
    assert old_email not in text and old_name not in text and "Alice" not in text

    again = admin.get(f"/users/{user_id}").get_data(as_text=True)
    assert "personal data was erased" in again and f"/users/{user_id}/erase" not in again


def test_the_erased_person_is_signed_out_and_can_never_sign_in(world, client_for, client, api):
    alice = world.alice.user
    email = alice.email
    browser = client_for(alice)
    token_api = api(alice)
    assert browser.get("/account").status_code == 200
    assert token_api.get("/api/v1/me").status_code == 200

    erase(alice, world.admin)

    after = browser.get("/account")
    assert after.status_code == 302 and "/sign-in" in after.headers["Location"]
    assert token_api.get("/api/v1/me").status_code == 401
    assert not db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == alice.id, ApiToken.revoked_at.is_(None))
    ).all()
    for address in (email, alice.email):
        attempt = client.post("/sign-in", data={"email": address, "password": PASSWORD})
        assert attempt.status_code != 302


def test_the_gradebook_keeps_the_row_under_the_anonymous_name(world, client_for):
    erase(world.alice.user, world.admin)
    page = client_for(world.tutor).get(f"/marking/cohorts/{world.cohort.id}/gradebook")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"Erased person {world.alice.user.id}" in text and "Alice Atherton" not in text
    assert "Bob Brennan" in text


def test_the_api_erases_once_then_answers_409(world, api):
    alice = world.alice.user
    admin = api(world.admin)
    body = {"confirm_email": alice.email, "reason": "Request ref 7"}
    first = admin.post(f"/api/v1/users/{alice.id}/erase", json=body)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["name"] == f"Erased person {alice.id}"
    assert first.get_json()["summary"]["external_credentials_deleted"] == 1
    second = admin.post(
        f"/api/v1/users/{alice.id}/erase",
        json={"confirm_email": f"erased-{alice.id}@erased.invalid", "reason": "again"},
    )
    assert second.status_code == 409
    assert len(erase_events()) == 1


def test_the_api_needs_the_persons_email_and_a_reason(world, api):
    alice = world.alice.user
    admin = api(world.admin)
    wrong = admin.post(
        f"/api/v1/users/{alice.id}/erase",
        json={"confirm_email": world.bob.user.email, "reason": "asked"},
    )
    assert wrong.status_code == 422 and "confirm_email" in wrong.get_json()["errors"]
    blank = admin.post(
        f"/api/v1/users/{alice.id}/erase", json={"confirm_email": alice.email, "reason": "  "}
    )
    assert blank.status_code == 422
    assert admin.post(f"/api/v1/users/{alice.id}/erase", json={}).status_code == 422
    assert db.session.get(User, alice.id).erased_at is None and erase_events() == []


def test_only_admins_erase_and_never_themselves(world, client_for, api):
    alice = world.alice.user
    body = {"confirm_email": alice.email, "reason": "asked"}
    # A tutor who can see Alice, and a learner who cannot see users at all: refused.
    tutor = client_for(world.tutor)
    assert tutor.get(f"/users/{alice.id}/erase").status_code == 403
    assert tutor.post(f"/users/{alice.id}/erase", data=body).status_code == 403
    assert client_for(world.bob.user).post(f"/users/{alice.id}/erase", data=body).status_code == 403
    assert api(world.tutor).post(f"/api/v1/users/{alice.id}/erase", json=body).status_code == 403
    assert api(world.bob.user).post(f"/api/v1/users/{alice.id}/erase", json=body).status_code == (
        403
    )
    # Nobody there: 404.
    admin_api = api(world.admin)
    assert admin_api.post("/api/v1/users/999999/erase", json=body).status_code == 404
    assert client_for(world.admin).get("/users/999999/erase").status_code == 404
    # An admin cannot erase themselves.
    own = {"confirm_email": world.admin.email, "reason": "leaving"}
    assert admin_api.post(f"/api/v1/users/{world.admin.id}/erase", json=own).status_code == 403
    assert client_for(world.admin).post(f"/users/{world.admin.id}/erase", data=own).status_code == (
        403
    )
    assert erase_events() == []
    assert db.session.get(User, alice.id).erased_at is None


def test_a_rolled_back_erasure_keeps_every_file(world):
    evidence = world.alice.external.evidence_sha256
    services.erase_user(
        world.alice.user, actor=world.admin, confirm_email=world.alice.user.email, reason="r"
    )
    db.session.rollback()
    jobs.run_ready()
    assert storage().exists(evidence)
    assert db.session.get(User, world.alice.user.id).erased_at is None


def test_files_past_retention_go_at_erasure(make, world):
    from tests.privacy.conftest import submit_with_file

    old = make.cohort(starts_on=clock.today().replace(year=2010), ends_on=clock.today().replace(
        year=2011))  # fmt: skip
    make.enrolment(world.alice.user, old)
    content = f"old work {world.alice.user.id} {clock.now().isoformat()}".encode()
    submission = submit_with_file(make.assignment(old), world.alice.user, content, "old.txt")
    sha = submission.files[0].sha256
    erase(world.alice.user, world.admin)
    db.session.expire_all()
    assert submission.files == [] and submission.files_purged_at is not None
    assert not storage().exists(sha)
    # Work still within its period keeps its files.
    assert storage().exists(world.alice.submission.files[0].sha256)
