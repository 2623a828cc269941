"""Our own verifier, for the public form where an employer pastes or uploads a credential.

It checks what any verifier would: the proof against the issuer's published key, the validity
period, and the status lists. It needs no network, so it checks credentials issued by this
academy only, and says so of anything else rather than pretending to a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from academy.core import clock
from academy.credentials import keys, proof, statuslist
from academy.credentials.models import Credential, StatusList
from academy.extensions import db

#: Verdicts, worst first where several apply.
VERDICTS = (
    "invalid",
    "unknown_issuer",
    "revoked",
    "suspended",
    "expired",
    "not_yet_valid",
    "valid",
)
MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass
class Verdict:
    verdict: str
    summary: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    credential: Credential | None = None
    document: dict | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "valid"


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _issuer_id(document: dict) -> str | None:
    issuer = document.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _status_bit(entry: dict) -> tuple[str, bool] | None:
    """`(purpose, set?)` for one of our BitstringStatusListEntry objects, or None if it does not
    point at one of our lists."""
    if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
        return None
    url = entry.get("statusListCredential")
    for status_list in db.session.scalars(sa.select(StatusList)):
        if statuslist.list_url(status_list) != url:
            continue
        if entry.get("statusPurpose") != status_list.purpose:
            return None
        try:
            index = int(entry.get("statusListIndex"))
        except (TypeError, ValueError):
            return None
        if not 0 <= index < status_list.size:
            return None
        return status_list.purpose, index in set(statuslist.set_indexes(status_list))
    return None


def verify_document(document) -> Verdict:
    if not isinstance(document, dict):
        return Verdict("invalid", "This is not a credential: expected a JSON object.")
    types = document.get("type") or []
    if not isinstance(types, list):
        types = [types]
    if "VerifiableCredential" not in types:
        return Verdict("invalid", "This is not a verifiable credential (its type says otherwise).")
    checks: list[tuple[str, bool, str]] = []
    if _issuer_id(document) != keys.issuer_id():
        return Verdict(
            "unknown_issuer",
            "This credential was not issued by this academy, so this service cannot check it. "
            "Use a verifier that can fetch its issuer's keys.",
            document=document,
        )
    checks.append(("Issuer", True, "Issued by this academy"))

    proof_block = document.get("proof")
    method = proof_block.get("verificationMethod") if isinstance(proof_block, dict) else None
    public = None
    for candidate in keys.known_public_keys():
        if keys.verification_method_id(candidate) == method:
            public = candidate
    if public is None:
        checks.append(("Signature", False, "Signed with a key this academy has never published"))
        return Verdict("invalid", "The signature cannot be checked.", checks, document=document)
    try:
        proof.verify(document, proof.public_key_from_multibase(public))
    except proof.ProofError as error:
        checks.append(("Signature", False, str(error)))
        return Verdict(
            "invalid",
            "The credential has been changed since it was issued, or was never issued by us.",
            checks,
            document=document,
        )
    checks.append(("Signature", True, "The content is exactly as the academy signed it"))

    credential = None
    identifier = document.get("id")
    if isinstance(identifier, str) and identifier.startswith("urn:uuid:"):
        credential = db.session.scalar(
            sa.select(Credential).where(Credential.uuid == identifier.removeprefix("urn:uuid:"))
        )

    verdict, summary = "valid", "This credential is genuine and in force."
    entries = document.get("credentialStatus") or []
    if isinstance(entries, dict):
        entries = [entries]
    for entry in entries:
        bit = _status_bit(entry)
        if bit is None:
            checks.append(("Status", False, "A status entry does not point at our status lists"))
            return Verdict("invalid", "Its status cannot be checked.", checks, credential, document)
        purpose, is_set = bit
        if is_set and purpose == "revocation":
            verdict, summary = "revoked", "This credential has been revoked."
        elif is_set and verdict != "revoked":
            verdict, summary = "suspended", "This credential is suspended."
    checks.append(
        ("Status", verdict == "valid", {"valid": "Not revoked or suspended"}.get(verdict, summary))
    )

    now = clock.now()
    valid_from = _parse_time(document.get("validFrom"))
    valid_until = _parse_time(document.get("validUntil"))
    if valid_from is not None and valid_from > now and verdict == "valid":
        verdict, summary = "not_yet_valid", "This credential is not valid yet."
    if valid_until is not None and valid_until <= now and verdict == "valid":
        verdict, summary = "expired", "This credential has expired."
    checks.append(
        (
            "Validity period",
            verdict not in ("expired", "not_yet_valid"),
            "No expiry" if valid_until is None else f"Valid until {valid_until:%d %B %Y}",
        )
    )
    return Verdict(verdict, summary, checks, credential, document)
