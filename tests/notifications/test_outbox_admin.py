"""The outbox for admins: a page and an API listing every email newest first, filtered by status
and recipient, each message in detail, and a retry for failed or waiting messages, audited."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.notifications.mail import MAX_ATTEMPTS
from academy.notifications.models import OutboxMessage

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def no_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def _message(recipient: str, status: str = "sent", **fields) -> OutboxMessage:
    """A row as the outbox would hold it, in a given state, with no delivery job of its own, so
    the state stays as set whatever the requests of the test run in-process."""
    message = OutboxMessage(
        idempotency_key=f"test:{next(_keys)}",
        recipient=recipient,
        subject=fields.pop("subject", f"Your mark is ready ({recipient}, {next(_keys)})"),
        template=fields.pop("template", "marks_released"),
        text_body=fields.pop("text_body", "Dear learner,\n\nYour mark is ready.\n"),
        status=status,
        attempts=fields.pop("attempts", 1 if status != "pending" else 0),
        message_id=f"<{next(_keys)}@academy>",
        **fields,
    )
    db.session.add(message)
    db.session.commit()
    return message


def _retries(message) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "outbox.retry", AuditEvent.object_id == str(message.id)
            )
        )
    )


@pytest.fixture
def admin(make):
    return make.user("admin")


@pytest.fixture
def failed():
    return _message(
        "bounced@nhs.test",
        "failed",
        attempts=MAX_ATTEMPTS,
        last_error="SMTPRecipientsRefused: 550 mailbox unavailable",
    )


# --- who may see it ------------------------------------------------------------------------------


def test_only_admins_see_the_outbox(make, client, login_as, failed, api):
    cohort = make.cohort()
    for person in (make.learner_in(cohort), make.user("tutor", scope=cohort)):
        login_as(person)
        assert client.get("/admin/outbox").status_code == 403
        assert client.get(f"/admin/outbox/{failed.id}").status_code == 403
        assert client.post(f"/admin/outbox/{failed.id}/retry").status_code == 403
        assert "/admin/outbox" not in client.get("/account").get_data(as_text=True)
        as_api = api(person)
        assert as_api.get("outbox").status_code == 403
        assert as_api.get(f"outbox/{failed.id}").status_code == 403
        assert as_api.post(f"outbox/{failed.id}/retry", json={}).status_code == 403
    assert api().get("outbox").status_code == 401
    db.session.refresh(failed)
    assert failed.status == "failed" and _retries(failed) == []


def test_signing_in_comes_first(client):
    response = client.get("/admin/outbox")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_admins_have_an_outbox_item_in_the_navigation(admin, client, login_as):
    login_as(admin)
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/admin/outbox"' in page and ">Outbox<" in page


# --- the list ------------------------------------------------------------------------------------


def test_the_list_is_newest_first_and_filters_by_status_and_recipient(admin, client, login_as):
    older = _message("ada.quill@nhs.test", "sent")
    failed = _message("ben.ash@nhs.test", "failed", last_error="timed out")
    newer = _message("ada.quill@nhs.test", "pending")
    login_as(admin)

    page = client.get("/admin/outbox").get_data(as_text=True)
    positions = [page.index(m.subject) for m in (newer, failed, older)]
    assert positions == sorted(positions)
    assert "1 email has failed" in page

    failed_only = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert failed.subject in failed_only and older.subject not in failed_only

    by_address = client.get("/admin/outbox?q=ADA.QUILL").get_data(as_text=True)
    assert older.subject in by_address and newer.subject in by_address
    assert failed.subject not in by_address

    nothing = client.get("/admin/outbox?q=nobody%25").get_data(as_text=True)
    assert "No emails match your search" in nothing
    # An unknown status is no filter at all, not an error.
    assert client.get("/admin/outbox?status=lost").status_code == 200


def test_the_list_is_paginated(admin, client, login_as):
    for n in range(51):
        _message(f"learner{n}@nhs.test")
    login_as(admin)
    first = client.get("/admin/outbox").get_data(as_text=True)
    second = client.get("/admin/outbox?page=2").get_data(as_text=True)
    assert "learner50@nhs.test" in first and "learner0@nhs.test" not in first
    assert "learner0@nhs.test" in second and "learner50@nhs.test" not in second
    assert "All emails (51)" in first


def test_the_api_lists_filters_and_pages(admin, api):
    sent = _message("ada.quill@nhs.test", "sent")
    failed = _message("ben.ash@nhs.test", "failed", last_error="timed out")
    client = api(admin)

    everything = client.get("outbox")
    assert everything.status_code == 200
    assert [m["id"] for m in everything.get_json()][:2] == [failed.id, sent.id]

    only_failed = client.get("outbox?status=failed").get_json()
    assert [m["id"] for m in only_failed] == [failed.id]
    assert only_failed[0]["last_error"] == "timed out"
    assert "text_body" not in only_failed[0]

    by_address = client.get("outbox?q=ada.quill&per_page=1")
    assert [m["id"] for m in by_address.get_json()] == [sent.id]
    assert by_address.headers["X-Total-Count"] == "1"

    assert client.get("outbox?status=lost").status_code == 422
    assert client.get("outbox?per_page=500").status_code == 422


# --- one message ---------------------------------------------------------------------------------


def test_the_detail_page_shows_the_message_and_its_body_escaped(admin, client, login_as, failed):
    failed.text_body = "Dear <script>alert('x')</script>,\n\nYour receipt.\n"
    db.session.commit()
    login_as(admin)
    page = client.get(f"/admin/outbox/{failed.id}").get_data(as_text=True)
    for shown in (failed.subject, failed.recipient, "marks_released", "Failed", str(MAX_ATTEMPTS)):
        assert shown in page
    assert "550 mailbox unavailable" in page
    assert "<pre" in page and "Dear &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;," in page
    assert "<script>alert" not in page
    assert "Send it again now" in page


def test_a_sent_message_offers_no_retry(admin, client, login_as):
    sent = _message("ada.quill@nhs.test", "sent")
    login_as(admin)
    page = client.get(f"/admin/outbox/{sent.id}").get_data(as_text=True)
    assert "Sent" in page and "Send it" not in page
    assert client.get("/admin/outbox/999999").status_code == 404


def test_the_api_shows_one_message_with_its_body(admin, api, failed):
    body = api(admin).get(f"outbox/{failed.id}").get_json()
    assert body["status"] == "failed" and body["attempts"] == MAX_ATTEMPTS
    assert body["text_body"].startswith("Dear learner")
    assert api(admin).get("outbox/999999").status_code == 404


# --- retrying ------------------------------------------------------------------------------------


def test_retrying_a_failed_message_sends_it_and_is_audited(admin, client, login_as, failed, outbox):
    login_as(admin)
    response = client.post(f"/admin/outbox/{failed.id}/retry")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/outbox/{failed.id}")

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The email to bounced@nhs.test will be sent again now" in page
    db.session.refresh(failed)
    assert failed.status == "sent" and failed.sent_at is not None
    assert [m["To"] for m in outbox] == ["bounced@nhs.test"]
    (event,) = _retries(failed)
    assert event.actor_id == admin.id


def test_a_sent_message_cannot_be_retried(admin, client, login_as, api, outbox):
    sent = _message("ada.quill@nhs.test", "sent")
    login_as(admin)
    response = client.post(f"/admin/outbox/{sent.id}/retry", follow_redirects=True)
    assert response.status_code == 200
    assert "Only a failed or waiting message can be retried" in response.get_data(as_text=True)

    by_api = api(admin).post(f"outbox/{sent.id}/retry", json={})
    assert by_api.status_code == 409
    assert "failed or waiting" in by_api.get_json()["message"]
    assert len(outbox) == 0 and _retries(sent) == []


def test_the_api_retries_a_failed_message(admin, api, failed, outbox):
    response = api(admin).post(f"outbox/{failed.id}/retry")  # no body is the same as {}
    assert response.status_code == 200
    assert response.get_json()["id"] == failed.id
    assert len(outbox) == 1
    db.session.refresh(failed)
    assert failed.status == "sent"
    assert [e.actor_id for e in _retries(failed)] == [admin.id]
    assert api(admin).post("outbox/999999/retry", json={}).status_code == 404
    assert api(admin).post(f"outbox/{failed.id}/retry", json={"now": True}).status_code == 422
