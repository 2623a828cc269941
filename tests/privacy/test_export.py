"""A person's download of their own data: everything of theirs, nothing of anyone else's, and
never a mark before it is released."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.credentials.verification import verify_document
from academy.extensions import db
from academy.privacy.export import JSON_FILES


def unzip(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    return {name: archive.read(name) for name in archive.namelist()}


def everything(entries: dict[str, bytes]) -> bytes:
    return b"\n".join(entries.values())


def exports(db_events) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "privacy.export")
    ).all()


def test_the_export_holds_the_learners_data_and_files_and_nothing_of_another(world, client_for):
    alice, bob = world.alice, world.bob
    client = client_for(alice.user)
    page = client.get("/account/your-data")
    assert page.status_code == 200 and "Download your data" in page.get_data(as_text=True)
    entries = unzip(client.post("/account/your-data"))

    assert set(JSON_FILES) | {"README.txt"} <= set(entries)
    data = {name: json.loads(entries[name]) for name in JSON_FILES}
    assert data["profile.json"]["email"] == alice.user.email
    assert data["profile.json"]["staff_number"] == "STAFF-ALICE"
    files = {name: content for name, content in entries.items() if name.startswith("files/")}
    assert sorted(files.values()) == sorted(
        [alice.work, alice.unreleased_work, alice.feedback, alice.evidence]
    )
    assert entries["README.txt"].decode().count("marks.json") == 1

    # Nothing of Bob's: his name, email, numbers, writing or files.
    blob = everything(entries)
    for secret in (
        bob.user.name,
        bob.user.email,
        "STAFF-BOB",
        "GMC-BOB",
        f"CPD of {bob.user.name}",
        bob.work,
        bob.feedback,
        bob.evidence,
        bob.unreleased_work,
    ):
        assert (secret.encode() if isinstance(secret, str) else secret) not in blob
    # Nor the markers' names.
    assert world.tutor.name.encode() not in blob and world.tutor.email.encode() not in blob

    # Released marks only: the reflection's mark and feedback are still with the markers.
    assert b"UNRELEASED" not in blob
    marked = {mark["assignment_id"] for mark in data["marks.json"]}
    assert world.essay.id in marked and world.reflection.id not in marked
    essay_mark = next(m for m in data["marks.json"] if m["assignment_id"] == world.essay.id)
    assert essay_mark["mark"] == 68.0
    assert essay_mark["feedback"] == f"Released feedback for {alice.user.name}"
    assert entries[essay_mark["feedback_file"]["path_in_export"]] == alice.feedback
    reflection = next(
        s for s in data["submissions.json"] if s["assignment_id"] == world.reflection.id
    )
    assert "mark" not in reflection
    assert entries[reflection["files"][0]["path_in_export"]] == alice.unreleased_work

    assert [c["uuid"] for c in data["credentials.json"]] == [alice.credential.uuid]
    assert [c["title"] for c in data["external_credentials.json"]] == [alice.external.title]
    assert [e["title"] for e in data["cpd_entries.json"]] == [f"CPD of {alice.user.name}"]
    assert {r["module_code"] for r in data["module_results.json"]}
    assert data["preferences.json"]["shares_marks_with_sponsor"] is False

    [event] = exports(db)
    assert event.actor_id == alice.user.id and event.object_id == str(alice.user.id)
    assert event.after["channel"] == "web" and event.after["files"] == 4


def test_the_signed_credential_in_the_export_still_verifies(world, client_for):
    entries = unzip(client_for(world.alice.user).post("/account/your-data"))
    [credential] = json.loads(entries["credentials.json"])
    assert verify_document(credential["document"]).verdict == "valid"


def test_staff_exports_list_what_they_did_without_the_learners_data(world, client_for):
    entries = unzip(client_for(world.tutor).post("/account/your-data"))
    events = json.loads(entries["audit_events.json"])
    assert any(event["action"].startswith("mark.") for event in events)
    blob = everything(entries)
    for learner in (world.alice, world.bob):
        assert learner.user.name.encode() not in blob
        assert learner.user.email.encode() not in blob
        assert b"Released feedback" not in blob


def test_the_api_gives_the_same_zip_and_audits_it(world, api):
    response = api(world.alice.user).get("/api/v1/me/export")
    entries = unzip(response)
    assert json.loads(entries["profile.json"])["id"] == world.alice.user.id
    assert [event.after["channel"] for event in exports(db)] == ["api"]


def test_signing_in_is_required(world, client, api):
    response = client.post("/account/your-data")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert api().get("/api/v1/me/export").status_code == 401
    assert exports(db) == []


@pytest.fixture
def two_a_minute(app, monkeypatch):
    monkeypatch.setitem(app.config, "DATA_EXPORT_RATE_LIMIT", "2 per minute")


def test_exports_are_rate_limited_per_person_across_page_and_api(
    world, client_for, api, two_a_minute
):
    client = client_for(world.alice.user)
    assert client.post("/account/your-data").status_code == 200
    assert api(world.alice.user).get("/api/v1/me/export").status_code == 200
    refused = client.post("/account/your-data")
    assert refused.status_code == 429
    assert api(world.alice.user).get("/api/v1/me/export").status_code == 429
    # Someone else's budget is their own.
    assert client_for(world.bob.user).post("/account/your-data").status_code == 200
    assert len(exports(db)) == 3


def test_the_account_page_links_to_the_download(world, client_for):
    page = client_for(world.alice.user).get("/account").get_data(as_text=True)
    assert 'href="/account/your-data"' in page
