"""The eddsa-rdfc-2022 proof: the Open Badges 3.0 test vector reproduced byte for byte, the
traps of signing in Python (undefined terms, control characters, floats), and the signing keys:
their file, rotation, and the `flask academy keys` commands."""

from __future__ import annotations

import copy
import json
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from academy.credentials import document, keys, proof
from academy.credentials.models import Credential
from academy.credentials.verification import verify_document
from academy.extensions import db
from tests.conftest import TEST_PUBLIC_KEY, TEST_SIGNING_KEY

FIXTURES = Path(__file__).parent / "fixtures"
VECTOR = json.loads((FIXTURES / "vector.json").read_text(encoding="utf-8"))
VECTOR_CREATED = datetime(2010, 1, 1, 19, 23, 24, tzinfo=UTC)


def _vector_key() -> Ed25519PrivateKey:
    seed_then_public = bytes.fromhex(VECTOR["ed25519_private_key_hex_seed_then_public"])
    return Ed25519PrivateKey.from_private_bytes(seed_then_public[:32])


def _sign_like_the_vector(unsigned: dict) -> dict:
    return proof.sign(
        unsigned,
        _vector_key(),
        VECTOR["expected_proof"]["verificationMethod"],
        VECTOR_CREATED,
    )


def _vector_public_key():
    return proof.public_key_from_multibase(VECTOR["public_key_multibase"])


# --- the published test vector -------------------------------------------------------------------


def test_the_document_canonicalises_to_the_published_n_quads():
    expected = (FIXTURES / "document-canon.txt").read_text(encoding="utf-8")
    assert proof.canonical_nquads(VECTOR["unsigned_credential"]) == expected


def test_the_proof_options_canonicalise_to_the_published_n_quads():
    options = {k: v for k, v in VECTOR["expected_proof"].items() if k != "proofValue"}
    options["@context"] = VECTOR["unsigned_credential"]["@context"]
    expected = (FIXTURES / "proof-canon.txt").read_text(encoding="utf-8")
    assert proof.canonical_nquads(options) == expected


def test_the_vector_key_has_the_published_multibase():
    seed_then_public = bytes.fromhex(VECTOR["ed25519_private_key_hex_seed_then_public"])
    public = _vector_key().public_key()
    assert public.public_bytes_raw() == seed_then_public[32:]
    assert proof.public_key_multibase(public) == VECTOR["public_key_multibase"]
    assert proof.public_key_multibase(_vector_public_key()) == VECTOR["public_key_multibase"]


def test_signing_reproduces_the_published_proof_exactly():
    signed = _sign_like_the_vector(VECTOR["unsigned_credential"])
    assert signed["proof"] == VECTOR["expected_proof"]
    assert {k: v for k, v in signed.items() if k != "proof"} == VECTOR["unsigned_credential"]


def test_verify_accepts_the_vector_and_refuses_a_one_character_change():
    signed = {**VECTOR["unsigned_credential"], "proof": VECTOR["expected_proof"]}
    proof.verify(signed, _vector_public_key())

    renamed = copy.deepcopy(signed)
    renamed["name"] = "Teamwork Badgf"
    with pytest.raises(proof.ProofError, match="does not match"):
        proof.verify(renamed, _vector_public_key())

    value = signed["proof"]["proofValue"]
    other_signature = copy.deepcopy(signed)
    other_signature["proof"]["proofValue"] = value[:-1] + ("r" if value[-1] != "r" else "s")
    with pytest.raises(proof.ProofError):
        proof.verify(other_signature, _vector_public_key())

    later = copy.deepcopy(signed)
    later["proof"]["created"] = "2010-01-01T19:23:25Z"
    with pytest.raises(proof.ProofError, match="does not match"):
        proof.verify(later, _vector_public_key())

    with pytest.raises(proof.ProofError, match="does not match"):
        proof.verify(signed, proof.public_key_from_multibase(TEST_PUBLIC_KEY))


def test_verify_refuses_what_is_not_an_eddsa_rdfc_2022_proof():
    signed = {**VECTOR["unsigned_credential"], "proof": VECTOR["expected_proof"]}
    unsigned = VECTOR["unsigned_credential"]
    cases = [
        (unsigned, "no proof"),
        ({**unsigned, "proof": [signed["proof"], signed["proof"]]}, "exactly one proof"),
        ({**unsigned, "proof": {**signed["proof"], "cryptosuite": "eddsa-2022"}}, "eddsa-rdfc"),
        ({**unsigned, "proof": {**signed["proof"], "proofPurpose": "authentication"}}, "purpose"),
        ({**unsigned, "proof": {**signed["proof"], "proofValue": "u123"}}, "multibase"),
        ({**unsigned, "proof": {**signed["proof"], "proofValue": "z0OIl"}}, "base58btc"),
    ]
    for document_, message in cases:
        with pytest.raises(proof.ProofError, match=message):
            proof.verify(document_, _vector_public_key())
    # A single proof in a list is the same proof.
    proof.verify({**unsigned, "proof": [signed["proof"]]}, _vector_public_key())


def test_a_context_nobody_pinned_is_refused_not_fetched():
    signed = _sign_like_the_vector(VECTOR["unsigned_credential"])
    signed["@context"] = [*signed["@context"], "https://contexts.example/unpinned.json"]
    with pytest.raises(proof.ProofError, match=r"does not hold \(https://contexts.example/"):
        proof.verify(signed, _vector_public_key())


# --- the traps -----------------------------------------------------------------------------------


def test_control_characters_are_stripped_but_whitespace_kept():
    messy = {
        "name\x01": "Siân\x01 O\x08Brien\x0c 🎓\x7f",
        "lines": ["one\ttwo\nthree\r\n", {"deep": "\x00\x1fok"}],
        "credits": 15.0,
        "hashed": True,
    }
    assert proof.strip_control_characters(messy) == {
        "name": "Siân OBrien 🎓",
        "lines": ["one\ttwo\nthree\r\n", {"deep": "ok"}],
        "credits": 15.0,
        "hashed": True,
    }


def test_names_with_accents_emoji_and_control_characters_sign_and_verify():
    unsigned = copy.deepcopy(VECTOR["unsigned_credential"])
    unsigned["name"] = "Zoë\x01 Ní Bhriain\x08 – Café\x0c 🎓🏥\x7f\tTeamwork"
    unsigned["credentialSubject"]["achievement"]["name"] = "Travail d’équipe 👩‍⚕️"
    signed = _sign_like_the_vector(unsigned)
    assert signed["name"] == "Zoë Ní Bhriain – Café 🎓🏥\tTeamwork"
    proof.verify(signed, _vector_public_key())
    # What was signed survives a trip through JSON text, as a download or a paste would be.
    proof.verify(json.loads(proof.canonical_json(signed)), _vector_public_key())
    # Put a control character back and the proof no longer holds: it covered the clean text.
    signed["name"] = "Zoë\x01 Ní Bhriain – Café 🎓🏥\tTeamwork"
    with pytest.raises(proof.ProofError):
        proof.verify(signed, _vector_public_key())


def test_undefined_terms_are_found():
    unsigned = copy.deepcopy(VECTOR["unsigned_credential"])
    assert proof.undefined_terms(unsigned) == []
    unsigned["favouriteColour"] = "green"
    unsigned["credentialSubject"]["achievement"]["shoeSize"] = 9
    assert sorted(proof.undefined_terms(unsigned)) == [
        "credentialSubject.achievement.shoeSize",
        "favouriteColour",
    ]


def test_verify_refuses_properties_the_signature_does_not_cover():
    """Canonicalisation drops an undefined property, so the signature alone would still hold
    with one added; strict verifiers refuse such a document, and so does ours."""
    signed = _sign_like_the_vector(VECTOR["unsigned_credential"])
    signed["credentialSubject"]["awardedTo"] = "Someone Else"
    with pytest.raises(proof.ProofError, match="no context defines.*credentialSubject.awardedTo"):
        proof.verify(signed, _vector_public_key())


def test_verify_refuses_documents_it_cannot_canonicalise():
    signed = _sign_like_the_vector(VECTOR["unsigned_credential"])
    without_context = {k: v for k, v in signed.items() if k != "@context"}
    with pytest.raises(proof.ProofError, match="no @context"):
        proof.verify(without_context, _vector_public_key())
    nested = copy.deepcopy(signed)
    for _ in range(800):
        nested["credentialSubject"] = {"achievement": nested["credentialSubject"]}
    with pytest.raises(proof.ProofError, match="nested too deeply"):
        proof.verify(nested, _vector_public_key())


def test_issued_documents_define_every_term_and_verify(make):
    module = make.module(
        title="Leadership\x01 in digital health – Zoë 🏥",
        summary="Café\x08 culture\x7f and\tteams",
    )
    programme = make.programme(core=[module], credits_required=module.credits)
    cohort = make.cohort(programme=programme)
    learner = make.learner_in(cohort, name="Siân O'Brien-Nguyễn 🎓")
    credential = make.credential(learner, cohort)
    award = db.session.scalar(
        sa.select(Credential).where(Credential.user_id == learner.id, Credential.kind == "award")
    )
    for issued in (credential.document, award.document):
        assert proof.undefined_terms(issued) == []
        proof.verify(issued, proof.public_key_from_multibase(TEST_PUBLIC_KEY))
        assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in json.dumps(issued))
    achievement = credential.document["credentialSubject"]["achievement"]
    assert achievement["name"].endswith("Leadership in digital health – Zoë 🏥")
    assert achievement["description"] == "Café culture and\tteams"


def test_credits_are_rounded_floats(make):
    assert document.credits(15) == 15.0 and isinstance(document.credits(15), float)
    assert document.credits(Decimal("7.25")) == 7.3
    assert document.credits(0.1 + 0.2) == 0.3
    assert document.credits(2.449999) == 2.4
    issued = make.credential().document["credentialSubject"]
    for value in (issued["creditsEarned"], issued["achievement"]["creditsAvailable"]):
        assert isinstance(value, float) and value == round(value, 1)


# --- keys ----------------------------------------------------------------------------------------


@pytest.fixture
def key_file(app, tmp_path, monkeypatch):
    """Keys from a file of this test's own, not from configuration."""
    path = tmp_path / "keys" / "issuer-keys.json"
    monkeypatch.setitem(app.config, "ACADEMY_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "ACADEMY_KEY_FILE", str(path))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_key_writes_an_owner_only_file(key_file):
    # A temporary file left behind by an interrupted write must not pass its mode on.
    key_file.parent.mkdir()
    key_file.with_suffix(".tmp").write_text("{}")
    key_file.with_suffix(".tmp").chmod(0o644)
    public = keys.generate_key()
    assert _mode(key_file) == 0o600
    (stored,) = keys.read_key_file()
    assert stored["publicKeyMultibase"] == public
    private = proof.private_key_from_multibase(stored["secretKeyMultibase"])
    assert proof.public_key_multibase(private.public_key()) == public
    assert keys.signing_key().public_key_multibase == public


def test_rotation_signs_with_the_new_key_and_old_credentials_still_verify(make, client, key_file):
    old = keys.generate_key()
    signed_before = make.credential()
    new = keys.generate_key()
    assert _mode(key_file) == 0o600
    signed_after = make.credential()

    assert signed_before.document["proof"]["verificationMethod"].endswith("/issuer/keys/" + old)
    assert signed_after.document["proof"]["verificationMethod"].endswith("/issuer/keys/" + new)
    issuer = client.get("/issuer").get_json()
    methods = {
        method["publicKeyMultibase"]: method["id"] for method in issuer["verificationMethod"]
    }
    assert set(methods) == {old, new}
    assert sorted(issuer["assertionMethod"]) == sorted(methods.values())
    resolved = client.get(f"/issuer/keys/{old}").get_json()
    assert resolved["publicKeyMultibase"] == old
    assert resolved["id"] == signed_before.document["proof"]["verificationMethod"]
    assert resolved["controller"] == issuer["id"]
    assert verify_document(signed_before.document).verdict == "valid"
    assert verify_document(signed_after.document).verdict == "valid"
    never_used = VECTOR["public_key_multibase"]
    assert client.get(f"/issuer/keys/{never_used}").status_code == 404


def test_a_rotated_configured_key_stays_published(make, client, app, monkeypatch):
    """Keys supplied by configuration rotate too: once a key has signed, the academy keeps
    publishing it after the configuration moves on."""
    signed_before = make.credential()
    replacement = Ed25519PrivateKey.generate()
    monkeypatch.setitem(app.config, "ACADEMY_SIGNING_KEY", proof.secret_key_multibase(replacement))
    signed_after = make.credential()
    new = proof.public_key_multibase(replacement.public_key())
    assert signed_after.document["proof"]["verificationMethod"].endswith(new)
    assert client.get(f"/issuer/keys/{TEST_PUBLIC_KEY}").status_code == 200
    assert verify_document(signed_before.document).verdict == "valid"
    assert verify_document(signed_after.document).verdict == "valid"


# --- flask academy keys --------------------------------------------------------------------------


def run(app, *args):
    return app.test_cli_runner().invoke(args=["academy", "keys", *args])


def test_the_keys_commands_generate_rotate_and_list(app, key_file):
    listed = run(app, "list")
    assert listed.exit_code == 0, listed.output
    assert "No signing keys yet" in listed.output

    first = run(app, "generate")
    assert first.exit_code == 0, first.output
    (created,) = keys.read_key_file()
    assert created["publicKeyMultibase"] in first.output
    assert str(key_file) in first.output
    assert _mode(key_file) == 0o600

    unchanged = run(app, "generate", "--if-missing")
    assert unchanged.exit_code == 0, unchanged.output
    assert "nothing to do" in unchanged.output
    assert len(keys.read_key_file()) == 1

    rotated = run(app, "generate")
    assert rotated.exit_code == 0, rotated.output
    old, new = (key["publicKeyMultibase"] for key in keys.read_key_file())
    assert old == created["publicKeyMultibase"] and new in rotated.output

    listed = run(app, "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split()[:2] for line in lines] == [[old, "verifies"], [new, "signs"]]
    assert lines[0].endswith(f"https://academy.test/issuer/keys/{old}")


def test_the_keys_commands_with_a_configured_key(app, key_file, monkeypatch):
    monkeypatch.setitem(app.config, "ACADEMY_SIGNING_KEY", TEST_SIGNING_KEY)
    unchanged = run(app, "generate", "--if-missing")
    assert unchanged.exit_code == 0, unchanged.output
    assert "nothing to do" in unchanged.output and not key_file.exists()

    listed = run(app, "list")
    assert listed.output.split()[:2] == [TEST_PUBLIC_KEY, "signs"]

    generated = run(app, "generate")
    assert generated.exit_code == 0, generated.output
    assert "ACADEMY_SIGNING_KEY is set, so that key still signs" in generated.output


def test_a_damaged_key_file_is_reported_not_a_traceback(app, key_file):
    key_file.parent.mkdir()
    key_file.write_text("not a key file")
    result = run(app, "generate")
    assert result.exit_code == 1
    assert "is not a key file" in result.output
