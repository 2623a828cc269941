"""Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite over Ed25519 keys.

Canonicalisation is RDF Dataset Canonicalization (URDNA2015) by pyld, with every JSON-LD context
served from this package's pinned copies or pyld's bundled ones: nothing is fetched at run time,
so a context change upstream can neither break nor alter a signature.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld import jsonld
from pyld.documentloader.frozen import BUNDLED_CONTEXTS, FrozenDocumentLoader

CONTEXTS_DIR = Path(__file__).parent / "contexts"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
CRYPTOSUITE = "eddsa-rdfc-2022"

_LOCAL_CONTEXTS = {
    OB_V3: CONTEXTS_DIR / "context-3.0.3.json",
    OB_EXTENSIONS: CONTEXTS_DIR / "extensions.json",
    MULTIKEY_V1: CONTEXTS_DIR / "multikey-v1.json",
}
#: Multicodec prefixes (varint) of an Ed25519 public key and private key.
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"
# C0 controls and DEL: pyld escapes them unlike RDFC-1.0, so signatures over them fail elsewhere.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ProofError(ValueError):
    """A proof that is missing, malformed or does not match the document."""


_loader = None


def document_loader():
    """A loader that serves only the pinned contexts and refuses every other URL."""
    global _loader
    if _loader is None:
        _loader = FrozenDocumentLoader(documents=dict(BUNDLED_CONTEXTS, **_LOCAL_CONTEXTS))
    return _loader


def strip_control_characters(value):
    """A copy of a JSON value with C0 control characters (bar tab and newlines) removed from
    every string, keys included."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [strip_control_characters(item) for item in value]
    if isinstance(value, dict):
        return {
            strip_control_characters(key): strip_control_characters(item)
            for key, item in value.items()
        }
    return value


def canonical_nquads(document: dict) -> str:
    return jsonld.normalize(
        document,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": document_loader(),
        },
    )


def undefined_terms(document: dict) -> list[str]:
    """Properties that no included context defines, and which canonicalisation would therefore
    silently drop from what is signed. Found by expanding and compacting again: anything that
    does not survive the round trip was never defined."""
    options = {"documentLoader": document_loader()}
    compacted = jsonld.compact(
        jsonld.expand(document, options), {"@context": document["@context"]}, options
    )
    compacted.pop("@context", None)
    original = {k: v for k, v in document.items() if k != "@context"}
    missing: list[str] = []

    def walk(before, after, path):
        if isinstance(after, list) and len(after) == 1 and not isinstance(before, list):
            # A context with `@container: @set` compacts a lone value into a list.
            after = after[0]
        if isinstance(before, dict):
            for key, value in before.items():
                if not isinstance(after, dict) or key not in after:
                    missing.append(f"{path}{key}")
                else:
                    walk(value, after[key], f"{path}{key}.")
        elif isinstance(before, list):
            after_list = after if isinstance(after, list) else [after]
            for index, value in enumerate(before):
                if index < len(after_list):
                    walk(value, after_list[index], f"{path}{index}.")

    walk(original, compacted, "")
    return missing


# --- keys ----------------------------------------------------------------------------------------


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "z" + base58.b58encode(_ED25519_PUB + raw).decode()


def secret_key_multibase(private_key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return "z" + base58.b58encode(_ED25519_PRIV + raw).decode()


def _decode_multibase(value: str, prefix: bytes, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError(f"The {what} is not base58btc multibase (it must start with z)")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError(f"The {what} is not valid base58btc") from exc
    if not raw.startswith(prefix) or len(raw) != len(prefix) + 32:
        raise ProofError(f"The {what} is not an Ed25519 key")
    return raw[len(prefix) :]


def private_key_from_multibase(value: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        _decode_multibase(value, _ED25519_PRIV, "secret key")
    )


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_decode_multibase(value, _ED25519_PUB, "public key"))


# --- sign and verify -----------------------------------------------------------------------------


def _hash_data(document: dict, proof_options: dict) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    options = {"@context": document["@context"], **proof_options}
    options.pop("proofValue", None)
    proof_hash = hashlib.sha256(canonical_nquads(options).encode()).digest()
    document_hash = hashlib.sha256(canonical_nquads(unsigned).encode()).digest()
    return proof_hash + document_hash


def iso_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    document: dict,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
) -> dict:
    """A copy of `document` with an embedded `DataIntegrityProof`. Control characters are
    stripped first, since what is signed must be exactly what every verifier canonicalises."""
    unsigned = strip_control_characters(copy.deepcopy(document))
    unsigned.pop("proof", None)
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": iso_seconds(created),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    signature = private_key.sign(_hash_data(unsigned, proof))
    proof["proofValue"] = "z" + base58.b58encode(signature).decode()
    return {**unsigned, "proof": proof}


def verify(document: dict, public_key: Ed25519PublicKey) -> None:
    """Raise ProofError unless `document` carries a valid eddsa-rdfc-2022 proof by this key."""
    proof = document.get("proof")
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError("Only a credential with exactly one proof can be checked")
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("The credential has no proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"The proof is not a DataIntegrityProof with {CRYPTOSUITE}")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("The proof's purpose is not assertionMethod")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("The proof value is not base58btc multibase")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("The proof value is not valid base58btc") from exc
    if "@context" not in document:
        raise ProofError("The credential has no @context, so it cannot be canonicalised")
    try:
        data = _hash_data(document, proof)
        try:
            public_key.verify(signature, data)
        except InvalidSignature as exc:
            raise ProofError("The signature does not match the credential's content") from exc
        # Canonicalisation drops what no context defines, so the signature still holds with
        # such properties added; strict verifiers refuse them, and so must we.
        undefined = undefined_terms(document)
    except jsonld.JsonLdError as exc:
        raise ProofError(f"The credential cannot be canonicalised: {_jsonld_reason(exc)}") from exc
    except RecursionError as exc:
        raise ProofError("The credential is nested too deeply to be checked") from exc
    if undefined:
        raise ProofError(
            "The credential has properties that no context defines, which the signature does "
            f"not cover: {', '.join(undefined[:5])}"
        )


def _jsonld_reason(exc: jsonld.JsonLdError) -> str:
    # pyld wraps the refused URL a few causes deep, under generic messages.
    cause = exc
    while cause is not None:
        url = (getattr(cause, "details", None) or {}).get("url")
        if url:
            return f"it uses a context this verifier does not hold ({url})"
        cause = cause.__cause__
    return str(exc.args[0] if exc.args else exc).splitlines()[0]


def canonical_json(document: dict) -> str:
    """Stable JSON text for storage and download."""
    return json.dumps(document, ensure_ascii=False, indent=2)
