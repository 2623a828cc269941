"""Bitstring Status Lists (W3C VC Bitstring Status List v1.0): the bits, and the signed list
credential a verifier fetches to see whether a credential was revoked or suspended."""

from __future__ import annotations

import base64
import copy
import gzip
from functools import lru_cache

import sqlalchemy as sa

from academy.core.urls import external_url
from academy.credentials import keys, proof
from academy.credentials.models import Credential, StatusList
from academy.extensions import db


def encode(size: int, set_indexes) -> str:
    """`u` + base64url (no padding) of the gzipped bits, index 0 the most significant bit of
    the first byte, as the spec fixes it."""
    bits = bytearray(size // 8)
    for index in set_indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("The encoded list is not base64url multibase")
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def bit_is_set(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def list_url(status_list: StatusList) -> str:
    return external_url("credentials_public.status_list", list_id=status_list.id)


def set_indexes(status_list: StatusList) -> list[int]:
    """The credentials whose bit is set: revoked ones on a revocation list, currently suspended
    ones on a suspension list."""
    if status_list.purpose == "revocation":
        query = sa.select(Credential.revocation_index).where(
            Credential.revocation_list_id == status_list.id, Credential.revoked_at.is_not(None)
        )
    else:
        query = sa.select(Credential.suspension_index).where(
            Credential.suspension_list_id == status_list.id, Credential.suspended_at.is_not(None)
        )
    return list(db.session.scalars(query))


def list_credential(status_list: StatusList) -> dict:
    """The signed BitstringStatusListCredential for the list as it stands. Signing is
    deterministic for a given state (Ed25519, and `created` is the list's last change), so the
    result is cached by that state."""
    key = keys.signing_key()
    keys.register(key)
    encoded = encode(status_list.size, set_indexes(status_list))
    # A copy, so no caller can change what the cache hands the next one.
    return copy.deepcopy(
        _signed_list(
            list_url(status_list),
            status_list.purpose,
            encoded,
            keys.issuer_id(),
            proof.iso_seconds(status_list.changed_at),
            key,
        )
    )


@lru_cache(maxsize=32)
def _signed_list(url, purpose, encoded, issuer, changed, key) -> dict:
    from datetime import datetime

    document = {
        "@context": [proof.VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": changed,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
        },
    }
    created = datetime.strptime(changed, "%Y-%m-%dT%H:%M:%SZ")
    return proof.sign(document, key.private_key, key.verification_method, created)
