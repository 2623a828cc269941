"""The academy's signing keys: where they come from, and the public documents that resolve them.

The private key comes from `ACADEMY_SIGNING_KEY` (a secretKeyMultibase) or else the key file that
`flask academy keys generate` writes. The key file holds every key generated; the newest is the
one that signs. Every public key that has signed anything is also kept in the `issuer_key` table,
so old credentials still verify after rotation, on every node, whichever way keys are supplied.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from academy.core import clock
from academy.core.urls import external_url
from academy.credentials import proof
from academy.credentials.models import IssuerKey
from academy.extensions import db


class SigningKeyMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class SigningKey:
    # Compared and hashed by the public key alone: private key objects compare by identity, and
    # a fresh one is read for every use, which would make each SigningKey a new cache key.
    private_key: Ed25519PrivateKey = field(compare=False)
    public_key_multibase: str

    @property
    def verification_method(self) -> str:
        return verification_method_id(self.public_key_multibase)


def issuer_id() -> str:
    return external_url("credentials_public.issuer")


def verification_method_id(public_key_multibase: str) -> str:
    return external_url("credentials_public.issuer_key", public_key=public_key_multibase)


def _key_file() -> Path:
    return Path(current_app.config["ACADEMY_KEY_FILE"])


def read_key_file(path: Path | None = None) -> list[dict]:
    path = path or _key_file()
    if not path.exists():
        return []
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))["keys"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SigningKeyMissing(f"The key file {path} is not a key file") from exc
    return keys


def generate_key(path: Path | None = None) -> str:
    """Add a new signing key to the key file, which becomes the one that signs; older keys stay
    in the file (and in the database) so their credentials still verify. The file is written
    owner-only and replaced atomically. Returns the new public key."""
    path = path or _key_file()
    keys = read_key_file(path)
    private_key = Ed25519PrivateKey.generate()
    public = proof.public_key_multibase(private_key.public_key())
    keys.append(
        {
            "publicKeyMultibase": public,
            "secretKeyMultibase": proof.secret_key_multibase(private_key),
            "created": proof.iso_seconds(clock.now()),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode above applies only to a new file: one left behind by a crash keeps its own.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"keys": keys}, handle, indent=2)
    os.replace(temporary, path)
    return public


def signing_key() -> SigningKey:
    configured = current_app.config.get("ACADEMY_SIGNING_KEY")
    if configured:
        secret = configured
    else:
        keys = read_key_file()
        if not keys and current_app.config["ACADEMY_ENV"] == "development":
            # A laptop gets a key on first use; production refuses to start without one.
            current_app.logger.warning("No signing key yet: generating %s", _key_file())
            generate_key()
            keys = read_key_file()
        if not keys:
            raise SigningKeyMissing(
                "No signing key: set ACADEMY_SIGNING_KEY or run `flask academy keys generate`"
            )
        secret = keys[-1]["secretKeyMultibase"]
    private_key = proof.private_key_from_multibase(secret)
    return SigningKey(private_key, proof.public_key_multibase(private_key.public_key()))


def register(key: SigningKey) -> None:
    """Remember a public key that is about to sign, so it stays resolvable after rotation."""
    known = db.session.scalar(
        sa.select(IssuerKey.id).where(IssuerKey.public_key_multibase == key.public_key_multibase)
    )
    if known is None:
        # In a savepoint: another request registering the same key first is no error.
        try:
            with db.session.begin_nested():
                db.session.add(IssuerKey(public_key_multibase=key.public_key_multibase))
        except sa.exc.IntegrityError:
            pass


def known_public_keys() -> list[str]:
    """Every public key of the issuer, oldest first: those that have signed, those in the key
    file and the configured one."""
    seen = list(
        db.session.scalars(sa.select(IssuerKey.public_key_multibase).order_by(IssuerKey.id))
    )
    try:
        candidates = [key["publicKeyMultibase"] for key in read_key_file()]
        if current_app.config.get("ACADEMY_SIGNING_KEY"):
            candidates.append(signing_key().public_key_multibase)
    except (SigningKeyMissing, proof.ProofError, KeyError):
        candidates = []
    for public in candidates:
        if public not in seen:
            seen.append(public)
    return seen


def multikey_document(public_key_multibase: str) -> dict:
    return {
        "@context": proof.MULTIKEY_V1,
        "id": verification_method_id(public_key_multibase),
        "type": "Multikey",
        "controller": issuer_id(),
        "publicKeyMultibase": public_key_multibase,
    }


def controller_document() -> dict:
    """The issuer's controller document: every key that may assert credentials for it. Served
    at the issuer's id, which is where verifiers look to see the key is really the issuer's."""
    methods = [multikey_document(public) for public in known_public_keys()]
    for method in methods:
        method.pop("@context")
    return {
        "@context": [proof.DID_V1, proof.MULTIKEY_V1],
        "id": issuer_id(),
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def issuer_profile() -> dict:
    """The Open Badges issuer Profile embedded in every credential."""
    config = current_app.config
    profile = {
        "id": issuer_id(),
        "type": ["Profile"],
        "name": config["ACADEMY_ISSUER_NAME"],
        "url": config.get("ACADEMY_ISSUER_URL") or external_url("core.index"),
    }
    if config.get("ACADEMY_CONTACT_EMAIL"):
        profile["email"] = config["ACADEMY_CONTACT_EMAIL"]
    return profile
