"""Issuing follows results: a released pass issues a module credential, once; the award follows
the programme's rules; a mark lowered below the pass revokes automatically."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.credentials import keys, proof, services, statuslist
from academy.credentials.models import Credential, StatusList
from academy.extensions import db
from academy.marking import services as marking
from tests.signing import TEST_PUBLIC_KEY


def _credentials(user):
    return db.session.scalars(
        sa.select(Credential).where(Credential.user_id == user.id).order_by(Credential.id)
    ).all()


def test_a_released_pass_issues_one_signed_module_credential(make):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Siân O'Brien-Nguyễn 🎓")
    credential = make.credential(learner, cohort)
    assert credential is not None and credential.kind == "module"
    document = credential.document
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["credentialSubject"]["achievement"]["achievementType"] == "Course"
    assert document["credentialSubject"]["creditsEarned"] == 15.0
    assert document["proof"]["verificationMethod"].endswith(TEST_PUBLIC_KEY)
    assert learner.email not in str(document) and learner.name not in str(document)
    proof.verify(document, proof.public_key_from_multibase(TEST_PUBLIC_KEY))
    assert proof.undefined_terms(document) == []
    # Releasing again, or recomputing, issues nothing new.
    marking.recompute_result(learner.id, cohort.deliveries[0])
    assert len(_credentials(learner)) == 1
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "credential.issue")
        )
        == 1
    )


def test_a_fail_issues_nothing(make):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    make.passed(learner, cohort, mark=30)
    assert _credentials(learner) == []


def test_a_mark_lowered_below_the_pass_revokes_with_the_reason(make):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    mark = make.passed(learner, cohort, actor=admin)
    (credential,) = _credentials(learner)
    marking.save_mark(mark.submission, actor=admin, expected_version=mark.version, mark=20,
                      reason="Academic misconduct panel outcome")  # fmt: skip
    db.session.commit()
    assert credential.status == "revoked"
    assert credential.revoked_reason == services.AUTOMATIC_REVOCATION
    status_list = db.session.get(StatusList, credential.revocation_list_id)
    signed = statuslist.list_credential(status_list)
    bits = statuslist.decode(signed["credentialSubject"]["encodedList"])
    assert statuslist.bit_is_set(bits, credential.revocation_index)
    # Raised back over the pass, the learner gets a new credential; the revoked one stays so.
    marking.save_mark(mark.submission, actor=admin, expected_version=mark.version, mark=58,
                      reason="Appeal upheld")  # fmt: skip
    db.session.commit()
    statuses = [(c.status, c.uuid == credential.uuid) for c in _credentials(learner)]
    assert statuses == [("revoked", True), ("valid", False)]


def test_revoke_suspend_reinstate_are_audited_and_need_a_reason(make):
    credential = make.credential()
    admin = make.user("admin")
    with pytest.raises(DomainError):
        services.suspend(credential, actor=admin, reason=" ")
    services.suspend(credential, actor=admin, reason="Under investigation")
    assert credential.status == "suspended"
    services.reinstate(credential, actor=admin, reason="Cleared")
    assert credential.status == "valid"
    services.revoke(credential, actor=admin, reason="Issued in error")
    assert credential.status == "revoked"
    with pytest.raises(Conflict):
        services.reinstate(credential, actor=admin, reason="no")
    actions = db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == "credential")
        .order_by(AuditEvent.id)
    ).all()
    assert actions[-3:] == ["credential.suspend", "credential.reinstate", "credential.revoke"]


def test_module_credentials_expire_after_the_modules_validity(make):
    module = make.module(credential_valid_months=24)
    cohort = make.cohort(programme=make.programme(modules=[module]))
    with clock.frozen_at(datetime(2027, 3, 31, 12, tzinfo=UTC)):
        credential = make.credential(cohort=cohort)
    assert credential.expires_at == datetime(2029, 3, 31, 12, tzinfo=UTC)
    assert credential.document["validUntil"] == "2029-03-31T12:00:00Z"
    assert (
        credential.status_at(datetime(2029, 3, 31, 12, tzinfo=UTC) - timedelta(seconds=1))
        == "valid"
    )
    assert credential.status_at(datetime(2029, 3, 31, 12, tzinfo=UTC)) == "expired"


def test_the_public_documents_resolve(make, client):
    credential = make.credential()
    assert client.get(f"/credentials/{credential.uuid}").status_code == 200
    body = client.get(f"/credentials/{credential.uuid}.json").get_json()
    assert body == credential.document
    issuer = client.get("/issuer").get_json()
    assert issuer["id"] == "https://academy.test/issuer"
    method = client.get(f"/issuer/keys/{TEST_PUBLIC_KEY}").get_json()
    assert method["publicKeyMultibase"] == TEST_PUBLIC_KEY
    status_url = credential.document["credentialStatus"][0]["statusListCredential"]
    listed = client.get(status_url.removeprefix("https://academy.test")).get_json()
    assert listed["credentialSubject"]["statusPurpose"] == "revocation"
    with client.application.test_request_context():
        assert keys.issuer_id() == listed["issuer"]
