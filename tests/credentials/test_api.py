"""/api/v1 credentials: who sees which, the computed status and its filter, revoking,
suspending, reinstating and verifying, and external credentials recorded as JSON or with an
evidence file; every refusal answers a clear error and changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.audit.models import AuditEvent
from academy.core import clock
from academy.credentials import services
from academy.credentials.models import Credential
from academy.extensions import db
from tests.content.files import EXE, PDF

FIELDS = {"id", "uuid", "user_id", "kind", "title", "issued_at", "expires_at", "status"}


@pytest.fixture
def world(make, api):
    """A learner at one trust holding an issued credential, their sponsor, an admin, and a
    learner at another trust with a credential of their own."""
    trust = make.organisation()
    cohort = make.cohort()
    learner = make.learner_in(cohort, organisation=trust)
    credential = make.credential(learner, cohort)
    other_cohort = make.cohort()
    other = make.learner_in(other_cohort)
    other_credential = make.credential(other, other_cohort)
    admin = make.user("admin")
    sponsor = make.user("sponsor", scope=trust)
    return SimpleNamespace(
        trust=trust,
        cohort=cohort,
        learner=learner,
        credential=credential,
        other=other,
        other_credential=other_credential,
        admin=admin,
        sponsor=sponsor,
        as_learner=api(learner),
        as_other=api(other),
        as_admin=api(admin),
        as_sponsor=api(sponsor),
    )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()}


def external(learner, **fields) -> Credential:
    values = {
        "actor": learner,
        "title": "Clinical Safety Officer (DCB0129/0160)",
        "issuer": "NHS England",
        "issued_on": date(2024, 5, 1),
        **fields,
    }
    credential = services.record_external(learner, **values)
    db.session.commit()
    return credential


def credential_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Credential.id)))


def audited(action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == action)
    )


# --- scope -------------------------------------------------------------------------------------


def test_learners_see_only_their_own_credentials(world):
    assert ids(world.as_learner.get("credentials")) == {world.credential.id}
    assert ids(world.as_other.get("credentials")) == {world.other_credential.id}


def test_a_sponsor_sees_their_staffs_credentials_only(world):
    assert ids(world.as_sponsor.get("credentials")) == {world.credential.id}
    assert world.as_sponsor.get(f"credentials/{world.credential.id}").status_code == 200
    assert world.as_sponsor.get(f"credentials/{world.other_credential.id}").status_code == 404


def test_admins_see_every_credential(world):
    assert ids(world.as_admin.get("credentials")) >= {
        world.credential.id,
        world.other_credential.id,
    }


def test_another_learners_credential_is_404_and_not_listed(world):
    response = world.as_learner.get(f"credentials/{world.other_credential.id}")

    assert response.status_code == 404
    assert response.get_json()["code"] == 404 and response.get_json()["message"]
    listed = world.as_learner.get(f"credentials?user_id={world.other.id}")
    assert ids(listed) == set()


def test_no_token_is_401(world, api):
    response = api().get("credentials")

    assert response.status_code == 401
    assert response.get_json()["code"] == 401


# --- reading -----------------------------------------------------------------------------------


def test_the_detail_has_the_contract_fields_and_the_signed_document(world):
    credential = world.credential
    body = world.as_learner.get(f"credentials/{credential.id}").get_json()

    assert set(body) >= FIELDS
    assert body["uuid"] == credential.uuid and body["user_id"] == world.learner.id
    assert body["kind"] == "module" and body["status"] == "valid"
    assert body["public_url"] == f"https://academy.test/credentials/{credential.uuid}"
    assert body["issued_at"].endswith("+00:00") and body["expires_at"] is None
    assert body["achievement_type"] == "Course"
    assert body["credits_earned"] == 15 and body["credits_available"] == 15
    assert body["document"] == credential.document
    assert body["document"]["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_lists_leave_the_document_out_and_are_paginated(world, make):
    for _ in range(2):
        cohort = make.cohort()
        make.enrolment(world.learner, cohort)
        make.credential(world.learner, cohort)

    response = world.as_learner.get("credentials?per_page=2")

    assert len(response.get_json()) == 2
    assert "document" not in response.get_json()[0]
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"] and 'rel="last"' in response.headers["Link"]
    second = world.as_learner.get("credentials?per_page=2&page=2").get_json()
    assert len(second) == 1


def test_filters_by_learner_and_kind(world):
    recorded = external(world.learner)

    assert ids(world.as_admin.get(f"credentials?user_id={world.learner.id}")) == {
        world.credential.id,
        recorded.id,
    }
    assert ids(world.as_learner.get("credentials?kind=external")) == {recorded.id}
    assert ids(world.as_learner.get("credentials?kind=module")) == {world.credential.id}


@pytest.mark.parametrize(
    "query", ["status=lost", "kind=badge", "user_id=abc", "user_id=0", "per_page=201", "page=0"]
)
def test_bad_filters_are_422_naming_the_field(world, query):
    response = world.as_admin.get(f"credentials?{query}")

    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]


def test_status_is_worked_out_as_the_model_does_and_filters_in_sql(make, api):
    """Issued on 3 March; read on 10 April, when a one-month credential has expired. Revocation
    outranks suspension, and suspension outranks expiry."""
    issued, read = datetime(2027, 3, 3, 12, tzinfo=UTC), datetime(2027, 4, 10, 12, tzinfo=UTC)
    learner = make.user("learner")
    admin = make.user("admin")

    def issue(months=None):
        module = make.module(credential_valid_months=months)
        cohort = make.cohort(programme=make.programme(modules=[module]))
        make.enrolment(learner, cohort)
        return make.credential(learner, cohort)

    with clock.frozen_at(issued):
        valid, expired = issue(), issue(months=1)
        revoked_and_expired, suspended_and_expired = issue(months=1), issue(months=1)
        services.revoke(revoked_and_expired, actor=admin, reason="Issued in error")
        services.suspend(suspended_and_expired, actor=admin, reason="Under investigation")
        lapsed = external(learner, expires_on=date(2027, 4, 9))
        last_day = external(learner, expires_on=date(2027, 4, 10))
        lasting = external(learner)
        db.session.commit()

    expected = {
        "valid": {valid.id, last_day.id, lasting.id},
        "expired": {expired.id, lapsed.id},
        "revoked": {revoked_and_expired.id},
        "suspended": {suspended_and_expired.id},
    }
    with clock.frozen_at(read):
        as_admin = api(admin)
        for status, wanted in expected.items():
            response = as_admin.get(f"credentials?user_id={learner.id}&status={status}")
            assert ids(response) == wanted, status
            assert {item["status"] for item in response.get_json()} == {status}
        for credential in (valid, expired, revoked_and_expired, lapsed, last_day):
            assert credential.status_at(read) == next(
                status for status, wanted in expected.items() if credential.id in wanted
            )
        body = as_admin.get(f"credentials/{expired.id}").get_json()
    assert body["expires_at"] == "2027-04-03T12:00:00+00:00"


def test_an_external_credential_expires_at_the_end_of_its_last_uk_day(world):
    summer = external(world.learner, expires_on=date(2027, 6, 30))
    winter = external(world.learner, expires_on=date(2027, 12, 31))

    summer_body = world.as_learner.get(f"credentials/{summer.id}").get_json()
    winter_body = world.as_learner.get(f"credentials/{winter.id}").get_json()

    assert summer_body["expires_on"] == "2027-06-30"
    assert summer_body["expires_at"] == "2027-06-30T23:00:00+00:00"
    assert winter_body["expires_at"] == "2028-01-01T00:00:00+00:00"


# --- revoking, suspending, reinstating ---------------------------------------------------------


def test_an_admin_revokes_with_a_reason_once(world, client):
    path = f"credentials/{world.credential.id}/revoke"

    response = world.as_admin.post(path, json={"reason": "Academic misconduct"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "revoked" and body["revoked_reason"] == "Academic misconduct"
    assert body["revoked_at"] is not None
    assert audited("credential.revoke") == 1
    assert "revoked" in client.get(f"/credentials/{world.credential.uuid}").get_data(as_text=True)
    again = world.as_admin.post(path, json={"reason": "Again"})
    assert again.status_code == 409
    assert again.get_json()["message"] == "This credential is already revoked"


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate", "verify"])
def test_only_admins_manage_credentials(world, action):
    path = f"credentials/{world.credential.id}/{action}"
    body = {} if action == "verify" else {"reason": "Because"}

    assert world.as_learner.post(path, json=body).status_code == 403
    assert world.as_sponsor.post(path, json=body).status_code == 403
    # Someone who cannot see it is not told it exists.
    assert world.as_other.post(path, json=body).status_code == 404
    db.session.expire_all()
    assert world.credential.status == "valid"


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate"])
@pytest.mark.parametrize(
    ("body", "field"),
    [({"reason": "   "}, "reason"), ({}, "reason"), ({"reason": 5}, "reason"),
     ({"reason": "x" * 1001}, "reason"), ({"reason": "ok", "extra": 1}, "extra")],
)  # fmt: skip
def test_a_reason_is_needed_and_checked(world, action, body, field):
    if action == "reinstate":
        services.suspend(world.credential, actor=world.admin, reason="Checking")
        db.session.commit()
    before = world.credential.status

    response = world.as_admin.post(f"credentials/{world.credential.id}/{action}", json=body)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    assert world.credential.status == before


def test_a_malformed_body_is_400(world):
    response = world.as_admin.post(
        f"credentials/{world.credential.id}/revoke",
        data="{reason:",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.get_json()["code"] == 400


def test_suspend_and_reinstate(world):
    path = f"credentials/{world.credential.id}"

    suspended = world.as_admin.post(f"{path}/suspend", json={"reason": "Under investigation"})
    twice = world.as_admin.post(f"{path}/suspend", json={"reason": "Still"})
    reinstated = world.as_admin.post(f"{path}/reinstate", json={"reason": "Cleared"})
    again = world.as_admin.post(f"{path}/reinstate", json={"reason": "Cleared"})

    assert suspended.status_code == 200
    assert suspended.get_json()["status"] == "suspended"
    assert suspended.get_json()["suspended_reason"] == "Under investigation"
    assert twice.status_code == 409
    assert reinstated.status_code == 200 and reinstated.get_json()["status"] == "valid"
    assert reinstated.get_json()["suspended_reason"] is None
    assert again.status_code == 409
    assert audited("credential.suspend") == 1 and audited("credential.reinstate") == 1


def test_a_revoked_credential_cannot_be_suspended(world):
    path = f"credentials/{world.credential.id}"
    world.as_admin.post(f"{path}/revoke", json={"reason": "Issued in error"})

    assert world.as_admin.post(f"{path}/suspend", json={"reason": "x"}).status_code == 409
    assert world.as_admin.post(f"{path}/reinstate", json={"reason": "x"}).status_code == 409


def test_external_credentials_are_not_revoked_or_suspended(world):
    recorded = external(world.learner)

    for action in ("revoke", "suspend"):
        response = world.as_admin.post(f"credentials/{recorded.id}/{action}", json={"reason": "x"})
        assert response.status_code == 409


def test_an_admin_verifies_an_external_credential_once(world):
    recorded = external(world.learner)
    path = f"credentials/{recorded.id}/verify"

    response = world.as_admin.post(path, json={})
    twice = world.as_admin.post(path)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["verification"] == "verified" and body["verified_by_id"] == world.admin.id
    assert twice.status_code == 409
    issued = world.as_admin.post(f"credentials/{world.credential.id}/verify", json={})
    assert issued.status_code == 409


# --- external credentials ----------------------------------------------------------------------

RECORD = {"title": "PRINCE2 Practitioner", "issuer": "PeopleCert", "issued_on": "2023-09-14"}


def test_a_learner_records_their_own_external_credential_as_json(world):
    response = world.as_learner.post(
        f"users/{world.learner.id}/external-credentials",
        json={**RECORD, "expires_on": "2026-09-14"},
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["kind"] == "external" and body["title"] == "PRINCE2 Practitioner"
    assert body["issuer_name"] == "PeopleCert" and body["issued_on"] == "2023-09-14"
    assert body["expires_on"] == "2026-09-14"
    assert body["verification"] == "self_declared" and body["recorded_by_id"] == world.learner.id
    assert body["public_url"] is None and body["document"] is None and body["evidence"] is None
    assert audited("credential.record_external") == 1
    assert db.session.get(Credential, body["id"]).user_id == world.learner.id


def test_a_sponsor_records_for_their_staff_and_an_admin_for_anyone(world):
    by_sponsor = world.as_sponsor.post(
        f"users/{world.learner.id}/external-credentials", json=RECORD
    )
    by_admin = world.as_admin.post(f"users/{world.other.id}/external-credentials", json=RECORD)

    assert by_sponsor.status_code == 201
    assert by_sponsor.get_json()["recorded_by_id"] == world.sponsor.id
    assert by_admin.status_code == 201 and by_admin.get_json()["user_id"] == world.other.id


def test_recording_for_someone_out_of_reach(world, make, api):
    tutor = make.user("tutor", scope=world.cohort)
    before = credential_count()

    # Outside your scope: not told they exist.
    assert (
        world.as_sponsor.post(f"users/{world.other.id}/external-credentials", json=RECORD)
    ).status_code == 404
    assert (
        world.as_other.post(f"users/{world.learner.id}/external-credentials", json=RECORD)
    ).status_code == 404
    assert world.as_admin.post("users/999999/external-credentials", json=RECORD).status_code == 404
    # A tutor sees their learner but does not record credentials for them.
    response = api(tutor).post(f"users/{world.learner.id}/external-credentials", json=RECORD)
    assert response.status_code == 403
    assert credential_count() == before


def upload(client, user, fields: dict, file: tuple[bytes, str] | None = None):
    """Post a form, its body built in memory: the test client would spool a large one to a
    temporary file that nothing closes."""
    data = dict(fields)
    if file is not None:
        data["evidence"] = FileStorage(io.BytesIO(file[0]), filename=file[1])
    boundary, body = encode_multipart(data)
    return client.post(
        f"users/{user.id}/external-credentials",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_form_with_evidence_is_recorded_and_the_evidence_downloads(world, make, api):
    response = upload(
        world.as_learner, world.learner, {**RECORD, "expires_on": ""}, (PDF, "certificate.pdf")
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_on"] is None and body["expires_at"] is None
    evidence = body["evidence"]
    assert evidence["name"] == "certificate.pdf" and len(evidence["sha256"]) == 64
    assert evidence["url"] == f"https://academy.test/api/v1/credentials/{body['id']}/evidence"
    path = f"credentials/{body['id']}/evidence"
    for reader in (world.as_learner, world.as_sponsor, world.as_admin):
        download = reader.get(path)
        content = download.data
        download.close()
        assert download.status_code == 200
        assert content == PDF
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.mimetype == "application/pdf"
    assert world.as_other.get(path).status_code == 404


def test_a_form_without_a_file_is_recorded_without_evidence(world):
    response = upload(world.as_learner, world.learner, RECORD, (b"", ""))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["evidence"] is None
    assert world.as_learner.get(f"credentials/{body['id']}/evidence").status_code == 404


def test_an_issued_credential_has_no_evidence_to_download(world):
    assert world.as_learner.get(f"credentials/{world.credential.id}/evidence").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in RECORD.items() if k != "title"}, "title"),
        ({**RECORD, "title": "   "}, "title"),
        ({**RECORD, "issuer": ""}, "issuer"),
        ({**RECORD, "title": "x" * 301}, "title"),
        ({**RECORD, "title": "Nul\x00"}, "title"),
        ({**RECORD, "issued_on": "14/09/2023"}, "issued_on"),
        ({**RECORD, "issued_on": "2099-01-01"}, "issued_on"),
        ({**RECORD, "issued_on": "0001-01-01"}, "issued_on"),
        ({**RECORD, "expires_on": "2023-09-14"}, "expires_on"),
        ({**RECORD, "expires_on": "9999-12-31"}, "expires_on"),
        ({**RECORD, "issued_on": None}, "issued_on"),
        ({**RECORD, "verification": "verified"}, "verification"),
        ({**RECORD, "evidence": "certificate.pdf"}, "evidence"),
    ],
)
def test_bad_json_is_422_naming_the_field_and_nothing_is_recorded(world, body, field):
    before = credential_count()

    response = world.as_learner.post(f"users/{world.learner.id}/external-credentials", json=body)

    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["code"] == 422 and error["status"] and error["message"]
    assert field in error["errors"]
    assert credential_count() == before and audited("credential.record_external") == 0


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": "{title:", "headers": {"Content-Type": "application/json"}},
        {"data": "title=x", "headers": {"Content-Type": "text/plain"}},
    ],
)
def test_a_body_that_is_not_json_or_a_form_is_400(world, request_kwargs):
    response = world.as_learner.post(
        f"users/{world.learner.id}/external-credentials", **request_kwargs
    )

    assert response.status_code == 400
    assert response.get_json()["message"]


@pytest.mark.parametrize(
    ("fields", "file", "status", "field"),
    [
        (RECORD, (EXE, "certificate.pdf"), 415, "evidence"),
        (RECORD, (b"", "certificate.pdf"), 422, "evidence"),
        (RECORD, (b"%PDF-1.7\n" + b"x" * (10 * 1024 * 1024), "big.pdf"), 413, "evidence"),
        ({**RECORD, "issued_on": "tomorrow"}, (PDF, "certificate.pdf"), 422, "issued_on"),
        ({**RECORD, "expires_on": "2020-01-01"}, (PDF, "certificate.pdf"), 422, "expires_on"),
        ({**RECORD, "evidence": "not a file"}, None, 422, "evidence"),
        ({**RECORD, "colour": "blue"}, None, 422, "colour"),
    ],
)
def test_a_bad_form_is_refused_and_nothing_is_recorded(world, fields, file, status, field):
    before = credential_count()

    response = upload(world.as_learner, world.learner, fields, file)

    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["errors"]
    assert credential_count() == before and audited("credential.record_external") == 0


# --- removing external credentials -------------------------------------------------------------


def test_a_learner_removes_their_self_declared_credential(world):
    recorded = external(world.learner)
    recorded_id = recorded.id

    response = world.as_learner.delete(f"credentials/{recorded_id}")

    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(Credential, recorded_id) is None
    assert audited("credential.remove_external") == 1
    assert world.as_learner.get(f"credentials/{recorded_id}").status_code == 404


def test_a_sponsor_removes_their_staffs_self_declared_credential(world):
    recorded = external(world.learner)

    assert world.as_sponsor.delete(f"credentials/{recorded.id}").status_code == 204


def test_once_verified_only_an_admin_removes_it(world):
    recorded = external(world.learner)
    world.as_admin.post(f"credentials/{recorded.id}/verify", json={})

    refused = world.as_learner.delete(f"credentials/{recorded.id}")
    by_sponsor = world.as_sponsor.delete(f"credentials/{recorded.id}")
    removed = world.as_admin.delete(f"credentials/{recorded.id}")

    assert refused.status_code == 403 and by_sponsor.status_code == 403
    assert removed.status_code == 204


def test_issued_credentials_are_not_removed_and_others_are_not_seen(world):
    recorded = external(world.other)

    issued = world.as_admin.delete(f"credentials/{world.credential.id}")
    own_issued = world.as_learner.delete(f"credentials/{world.credential.id}")
    unseen = world.as_learner.delete(f"credentials/{recorded.id}")

    assert issued.status_code == 409 and own_issued.status_code == 409
    assert unseen.status_code == 404
    assert db.session.get(Credential, world.credential.id) is not None
    assert db.session.get(Credential, recorded.id) is not None


# --- the OpenAPI document ----------------------------------------------------------------------


def test_the_openapi_document_describes_the_credential_endpoints(api):
    response = api().get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert {"get"} <= set(paths["/api/v1/credentials"])
    assert {"get", "delete"} <= set(paths["/api/v1/credentials/{credential_id}"])
    for action in ("revoke", "suspend", "reinstate", "verify"):
        assert "post" in paths[f"/api/v1/credentials/{{credential_id}}/{action}"]
    assert "get" in paths["/api/v1/credentials/{credential_id}/evidence"]
    record = paths["/api/v1/users/{user_id}/external-credentials"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(record["requestBody"]["content"])
    listed = paths["/api/v1/credentials"]["get"]
    assert {"user_id", "kind", "status"} <= {p["name"] for p in listed["parameters"]}


def test_timestamps_are_utc(world):
    body = world.as_learner.get(f"credentials/{world.credential.id}").get_json()
    issued_at = datetime.fromisoformat(body["issued_at"])

    assert issued_at.utcoffset() == timedelta(0)
