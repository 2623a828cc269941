"""Bitstring Status Lists: the encoding the W3C spec fixes, the signed list credentials, and
moving to a new list when one is full."""

from __future__ import annotations

import base64
import gzip
import re

import pytest
import sqlalchemy as sa

from academy.credentials import keys, proof, services, statuslist
from academy.credentials.models import STATUS_LIST_SIZE, StatusList
from academy.extensions import db
from tests.conftest import TEST_PUBLIC_KEY


def test_encoding_round_trips_every_set_bit_and_no_other():
    set_bits = {0, 1, 7, 8, 1000, 65_535, STATUS_LIST_SIZE - 1}
    bits = statuslist.decode(statuslist.encode(STATUS_LIST_SIZE, set_bits))
    assert len(bits) * 8 == STATUS_LIST_SIZE
    assert {i for i in range(STATUS_LIST_SIZE) if statuslist.bit_is_set(bits, i)} == set_bits


def test_index_zero_is_the_most_significant_bit_of_the_first_byte():
    def first_bytes(*indexes):
        return statuslist.decode(statuslist.encode(STATUS_LIST_SIZE, indexes))[:2]

    assert first_bytes(0) == b"\x80\x00"
    assert first_bytes(7) == b"\x01\x00"
    assert first_bytes(8) == b"\x00\x80"
    assert first_bytes(0, 2, 15) == b"\xa0\x01"


def test_the_list_is_gzip_in_multibase_base64url():
    encoded = statuslist.encode(STATUS_LIST_SIZE, [3])
    assert encoded.startswith("u")
    # base64url without padding: no +, / or = anywhere.
    assert re.fullmatch(r"u[A-Za-z0-9_-]+", encoded)
    body = encoded[1:]
    compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed)[0] == 0x10
    with pytest.raises(ValueError, match="multibase"):
        statuslist.decode("z" + body)


def test_lists_hold_at_least_131072_entries(make):
    credential = make.credential()
    for list_id in (credential.revocation_list_id, credential.suspension_list_id):
        status_list = db.session.get(StatusList, list_id)
        assert status_list.size >= 131_072
        signed = statuslist.list_credential(status_list)
        assert len(statuslist.decode(signed["credentialSubject"]["encodedList"])) * 8 >= 131_072


def test_the_signed_list_verifies_and_matches_the_credential(make):
    credential = make.credential()
    for entry in credential.document["credentialStatus"]:
        list_id = (
            credential.revocation_list_id
            if entry["statusPurpose"] == "revocation"
            else credential.suspension_list_id
        )
        signed = statuslist.list_credential(db.session.get(StatusList, list_id))
        proof.verify(signed, proof.public_key_from_multibase(TEST_PUBLIC_KEY))
        assert proof.undefined_terms(signed) == []
        assert signed["id"] == entry["statusListCredential"]
        assert signed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert signed["issuer"] == credential.document["issuer"]["id"] == keys.issuer_id()
        subject = signed["credentialSubject"]
        assert subject["type"] == "BitstringStatusList"
        assert subject["statusPurpose"] == entry["statusPurpose"]
        assert int(entry["statusListIndex"]) < db.session.get(StatusList, list_id).size


def _bit(client, credential, purpose: str) -> bool:
    (entry,) = [
        entry
        for entry in credential.document["credentialStatus"]
        if entry["statusPurpose"] == purpose
    ]
    served = client.get(entry["statusListCredential"].removeprefix("https://academy.test"))
    assert served.status_code == 200
    assert served.mimetype == "application/ld+json"
    bits = statuslist.decode(served.get_json()["credentialSubject"]["encodedList"])
    return statuslist.bit_is_set(bits, int(entry["statusListIndex"]))


def test_the_served_lists_follow_revocation_and_suspension(make, client):
    admin = make.user("admin")
    credential = make.credential()
    neighbour = make.credential()
    assert not _bit(client, credential, "revocation")
    assert not _bit(client, credential, "suspension")

    services.suspend(credential, actor=admin, reason="Under investigation")
    db.session.commit()
    assert _bit(client, credential, "suspension")
    services.reinstate(credential, actor=admin, reason="Cleared")
    db.session.commit()
    assert not _bit(client, credential, "suspension")

    services.revoke(credential, actor=admin, reason="Issued in error")
    db.session.commit()
    assert _bit(client, credential, "revocation")
    assert not _bit(client, neighbour, "revocation")
    assert not _bit(client, neighbour, "suspension")


def test_an_unknown_list_is_not_found(client):
    assert client.get("/credentials/status/999999").status_code == 404


def test_a_full_list_makes_way_for_a_new_one(make):
    first = make.credential()
    full = db.session.get(StatusList, first.revocation_list_id)
    db.session.execute(
        sa.update(StatusList).where(StatusList.id == full.id).values(next_index=full.size)
    )
    db.session.commit()

    second = make.credential()
    assert second.revocation_list_id not in (None, full.id)
    assert second.revocation_index == 0
    fresh = db.session.get(StatusList, second.revocation_list_id)
    assert (fresh.purpose, fresh.size, fresh.next_index) == ("revocation", STATUS_LIST_SIZE, 1)
    # The suspension list still had room, so it carried on.
    assert second.suspension_list_id == first.suspension_list_id
    assert second.suspension_index == first.suspension_index + 1
    (entry,) = [
        e for e in second.document["credentialStatus"] if e["statusPurpose"] == "revocation"
    ]
    assert entry["statusListCredential"] == statuslist.list_url(fresh)
    assert entry["statusListIndex"] == "0"
