"""Our own verifier, the public form an employer pastes or uploads a credential into, and the
public verification page of each issued credential."""

from __future__ import annotations

import copy
import html
import io
import json
import re
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from academy.core import clock
from academy.credentials import proof, services
from academy.credentials.verification import MAX_DOCUMENT_BYTES, verify_document
from academy.extensions import db

LEARNER_NAME = "Siân O'Brien-Nguyễn 🎓"


@pytest.fixture
def admin(make):
    return make.user("admin")


def _verdict(response) -> str:
    assert response.status_code == 200, response.status_code
    found = re.search(r'data-verdict="([a-z_]+)"', response.get_data(as_text=True))
    assert found, "no verdict on the page"
    return found.group(1)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _paste(client, text: str):
    return client.post("/credentials/verify", data={"credential_json": text})


def _upload(client, content: bytes, name: str = "credential.json"):
    return client.post(
        "/credentials/verify",
        data={"credential_json": "", "credential_file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _tampered(document: dict) -> dict:
    changed = copy.deepcopy(document)
    changed["credentialSubject"]["creditsEarned"] = 60.0
    return changed


# --- our verifier --------------------------------------------------------------------------------


def test_an_issued_credential_is_valid(make):
    credential = make.credential()
    verdict = verify_document(credential.document)
    assert verdict.verdict == "valid" and verdict.ok
    assert verdict.credential == credential
    assert [(name, passed) for name, passed, _ in verdict.checks] == [
        ("Issuer", True),
        ("Signature", True),
        ("Status", True),
        ("Validity period", True),
    ]


def test_a_changed_credential_is_invalid(make):
    credential = make.credential()
    renamed = copy.deepcopy(credential.document)
    renamed["credentialSubject"]["achievement"]["name"] += "!"
    for changed in (_tampered(credential.document), renamed):
        verdict = verify_document(changed)
        assert verdict.verdict == "invalid" and not verdict.ok
        assert ("Signature", False, "The signature does not match the credential's content") in (
            verdict.checks
        )


def test_revoked_and_suspended_credentials_say_so(make, admin):
    revoked = make.credential()
    suspended = make.credential()
    services.revoke(revoked, actor=admin, reason="Issued in error")
    services.suspend(suspended, actor=admin, reason="Under investigation")
    db.session.commit()
    assert verify_document(revoked.document).verdict == "revoked"
    assert verify_document(suspended.document).verdict == "suspended"
    services.reinstate(suspended, actor=admin, reason="Cleared")
    db.session.commit()
    assert verify_document(suspended.document).verdict == "valid"


def test_a_credential_past_its_valid_until_has_expired(make):
    module = make.module(credential_valid_months=12)
    credential = make.credential(cohort=make.cohort(programme=make.programme(modules=[module])))
    assert verify_document(credential.document).verdict == "valid"
    with clock.frozen_at(credential.expires_at + timedelta(seconds=1)):
        verdict = verify_document(credential.document)
    assert verdict.verdict == "expired"
    assert ("Validity period", False) in [(name, passed) for name, passed, _ in verdict.checks]
    with clock.frozen_at(credential.expires_at - timedelta(seconds=1)):
        assert verify_document(credential.document).verdict == "valid"


def test_a_credential_from_another_issuer_cannot_be_checked_here(make):
    foreign = copy.deepcopy(make.credential().document)
    foreign["issuer"]["id"] = "https://university.example/issuer"
    assert verify_document(foreign).verdict == "unknown_issuer"
    foreign["issuer"] = "https://university.example/issuer"
    assert verify_document(foreign).verdict == "unknown_issuer"


def test_a_key_the_academy_never_published_is_invalid(make):
    signed_elsewhere = copy.deepcopy(make.credential().document)
    unknown = proof.public_key_multibase(Ed25519PrivateKey.generate().public_key())
    signed_elsewhere["proof"]["verificationMethod"] = f"https://academy.test/issuer/keys/{unknown}"
    verdict = verify_document(signed_elsewhere)
    assert verdict.verdict == "invalid"
    assert ("Signature", False, "Signed with a key this academy has never published") in (
        verdict.checks
    )


def test_what_is_not_a_credential_is_invalid(make):
    assert verify_document([1, 2]).verdict == "invalid"
    assert verify_document({"type": "Person"}).verdict == "invalid"
    document = copy.deepcopy(make.credential().document)
    del document["@context"]
    assert verify_document(document).verdict == "invalid"


# --- the public form -----------------------------------------------------------------------------


def test_the_form_is_public(client):
    response = client.get("/credentials/verify")
    assert response.status_code == 200
    assert 'name="credential_json"' in response.get_data(as_text=True)


def test_a_pasted_credential_gets_a_verdict(make, client):
    credential = make.credential()
    text = json.dumps(credential.document, ensure_ascii=False, indent=2)
    response = _paste(client, text)
    assert _verdict(response) == "valid"
    assert f"/credentials/{credential.uuid}" in _text(response)
    assert _verdict(_paste(client, json.dumps(_tampered(credential.document)))) == "invalid"


def test_an_uploaded_credential_gets_a_verdict(make, client):
    credential = make.credential()
    content = proof.canonical_json(credential.document).encode()
    assert _verdict(_upload(client, content)) == "valid"
    assert _verdict(_upload(client, json.dumps(_tampered(credential.document)).encode())) == (
        "invalid"
    )


def test_the_form_shows_revocation_with_its_reason(make, client, admin):
    revoked = make.credential()
    services.revoke(revoked, actor=admin, reason="Academic misconduct panel outcome")
    suspended = make.credential()
    services.suspend(suspended, actor=admin, reason="Awaiting the exam board")
    db.session.commit()
    response = _paste(client, json.dumps(revoked.document))
    assert _verdict(response) == "revoked"
    assert "Academic misconduct panel outcome" in _text(response)
    response = _upload(client, json.dumps(suspended.document).encode())
    assert _verdict(response) == "suspended"
    assert "Awaiting the exam board" in _text(response)


def test_the_form_shows_expiry(make, client):
    module = make.module(credential_valid_months=6)
    credential = make.credential(cohort=make.cohort(programme=make.programme(modules=[module])))
    with clock.frozen_at(credential.expires_at + timedelta(days=1)):
        response = _paste(client, json.dumps(credential.document))
    assert _verdict(response) == "expired"


def test_the_form_says_when_it_cannot_check_the_issuer(make, client):
    foreign = copy.deepcopy(make.credential().document)
    foreign["issuer"]["id"] = "https://university.example/issuer"
    assert _verdict(_paste(client, json.dumps(foreign))) == "unknown_issuer"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Paste a credential or choose a file"),
        ("   \n", "Paste a credential or choose a file"),
        ("{not json", "This is not valid JSON"),
        ('{"a": 1', "This is not valid JSON"),
        ("[" * 5000 + "]" * 5000, "This is not valid JSON"),
        ("[1, 2, 3]", "This is not a credential"),
        ('"a string"', "This is not a credential"),
        ("null", "This is not a credential"),
        ("x" * (MAX_DOCUMENT_BYTES + 1), "This is too large to be a credential"),
    ],
)
def test_bad_pastes_are_form_errors(client, text, message):
    response = _paste(client, text)
    assert response.status_code == 200
    body = _text(response)
    assert "There is a problem" in body and message in body
    assert "data-verdict" not in body


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe not text", "This is not valid JSON"),
        (b"<html></html>", "This is not valid JSON"),
        (b"[]", "This is not a credential"),
        (b'{"a": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}', "This is too large to be a credential"),
    ],
)
def test_bad_uploads_are_form_errors(client, content, message):
    response = _upload(client, content)
    assert response.status_code == 200
    body = _text(response)
    assert "There is a problem" in body and message in body
    assert "data-verdict" not in body


def test_a_credential_with_an_unsigned_addition_is_not_genuine(make, client):
    document = copy.deepcopy(make.credential().document)
    document["credentialSubject"]["awardedTo"] = "Someone Else"
    response = _paste(client, json.dumps(document))
    assert _verdict(response) == "invalid"
    assert "credentialSubject.awardedTo" in _text(response)


# --- the public page -----------------------------------------------------------------------------


def test_the_public_page_shows_who_and_the_verdict(make, client):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name=LEARNER_NAME)
    credential = make.credential(learner, cohort)
    response = client.get(f"/credentials/{credential.uuid}")
    assert _verdict(response) == "valid"
    assert LEARNER_NAME in _text(response)
    assert credential.title in _text(response)


def test_the_public_page_follows_the_status(make, client, admin):
    module = make.module(credential_valid_months=24)
    credential = make.credential(cohort=make.cohort(programme=make.programme(modules=[module])))
    page = f"/credentials/{credential.uuid}"
    with clock.frozen_at(credential.expires_at + timedelta(days=1)):
        assert _verdict(client.get(page)) == "expired"

    services.suspend(credential, actor=admin, reason="Under investigation")
    db.session.commit()
    response = client.get(page)
    assert _verdict(response) == "suspended" and "Under investigation" in _text(response)

    services.reinstate(credential, actor=admin, reason="Cleared")
    db.session.commit()
    assert _verdict(client.get(page)) == "valid"

    services.revoke(credential, actor=admin, reason="Issued in error")
    db.session.commit()
    response = client.get(page)
    assert _verdict(response) == "revoked" and "Issued in error" in _text(response)


def test_unknown_and_external_credentials_have_no_public_page(make, client):
    assert client.get("/credentials/2f1e7d0c-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/credentials/2f1e7d0c-0000-4000-8000-000000000000.json").status_code == 404
    assert client.get("/credentials/not-a-uuid").status_code == 404
    learner = make.user("learner")
    external = services.record_external(
        learner,
        actor=learner,
        title="PRINCE2 Foundation",
        issuer="PeopleCert",
        issued_on=date(2024, 5, 1),
    )
    db.session.commit()
    assert client.get(f"/credentials/{external.uuid}").status_code == 404
    assert client.get(f"/credentials/{external.uuid}.json").status_code == 404
