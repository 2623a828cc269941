"""Email settings: each person turns optional emails off (and on) on a page or through the API,
audited; essential email cannot be turned off and always goes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from markupsafe import escape

from academy.audit.models import AuditEvent
from academy.core.errors import DomainError
from academy.extensions import db
from academy.notifications import services
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage
from academy.notifications.preferences import OPTIONAL

EVERY_OPTIONAL = list(OPTIONAL)


@pytest.fixture(autouse=True)
def no_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)


def _events(user) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.action == "user.email_preferences",
                AuditEvent.object_id == str(user.id),
            )
            .order_by(AuditEvent.id)
        )
    )


def _opt_outs(user) -> list[str]:
    db.session.refresh(user)
    return user.email_opt_outs


# --- the page ------------------------------------------------------------------------------------


def test_the_account_page_links_to_the_email_settings(make, client, login_as):
    login_as(make.user())
    page = client.get("/account").get_data(as_text=True)
    assert "/account/emails" in page
    assert "You get every email we send" in page


def test_the_page_ticks_what_you_get_and_names_what_always_goes(make, client, login_as):
    user = make.user(email_opt_outs=["admin_digest"])
    login_as(user)
    response = client.get("/account/emails")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for label in OPTIONAL.values():
        assert str(escape(label)) in page
    assert page.count("checked") == len(OPTIONAL) - 1
    assert 'value="admin_digest"' in page
    for essential in ("password reset", "receipts", "marks and feedback", "more time"):
        assert essential in page


def test_unticking_turns_an_email_off_and_ticking_turns_it_back_on(make, client, login_as):
    user = make.user()
    login_as(user)
    wanted = [c for c in EVERY_OPTIONAL if c != "deadline_reminder"]

    saved = client.post("/account/emails", data={"wanted": wanted})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/account")
    assert _opt_outs(user) == ["deadline_reminder"]
    assert "turned off 1 kind" in client.get("/account").get_data(as_text=True)

    client.post("/account/emails", data={"wanted": EVERY_OPTIONAL})
    assert _opt_outs(user) == []

    events = _events(user)
    assert [(e.before, e.after) for e in events] == [
        ({"email_opt_outs": []}, {"email_opt_outs": ["deadline_reminder"]}),
        ({"email_opt_outs": ["deadline_reminder"]}, {"email_opt_outs": []}),
    ]
    assert {e.actor_id for e in events} == {user.id}


def test_ticking_nothing_turns_every_optional_email_off(make, client, login_as):
    user = make.user()
    login_as(user)
    # With CSRF on, the form always carries its token; here an empty form is the same choice.
    assert client.post("/account/emails", data={}).status_code == 302
    assert _opt_outs(user) == EVERY_OPTIONAL


def test_an_unknown_email_is_a_form_error_and_changes_nothing(make, client, login_as):
    user = make.user()
    login_as(user)
    response = client.post("/account/emails", data={"wanted": ["receipts"]})
    assert response.status_code == 422
    assert "Choose emails from the list" in response.get_data(as_text=True)
    assert _opt_outs(user) == []
    assert _events(user) == []


def test_signing_in_comes_first(client):
    response = client.get("/account/emails")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# --- the API -------------------------------------------------------------------------------------


def test_the_api_reads_and_replaces_the_opt_outs(make, api):
    user = make.user()
    client = api(user)

    read = client.get("me/email-preferences")
    assert read.status_code == 200
    assert read.get_json() == {"opt_outs": [], "categories": OPTIONAL}

    put = client.put(
        "me/email-preferences", json={"opt_outs": ["feedback_overdue", "deadline_reminder"]}
    )
    assert put.status_code == 200
    # Kept in the settings page's order whatever order they were sent in.
    assert put.get_json()["opt_outs"] == ["deadline_reminder", "feedback_overdue"]
    assert client.get("me/email-preferences").get_json()["opt_outs"] == put.get_json()["opt_outs"]
    (event,) = _events(user)
    assert event.actor_id == user.id
    assert event.after == {"email_opt_outs": ["deadline_reminder", "feedback_overdue"]}


@pytest.mark.parametrize(
    "body",
    [
        {"opt_outs": ["receipts"]},
        {"opt_outs": ["deadline_reminder", "essential"]},
        {"opt_outs": "deadline_reminder"},
        {"opt_outs": [7]},
        {},
        {"opt_outs": [], "marketing": True},
    ],
)
def test_the_api_refuses_anything_but_a_list_of_optional_emails(make, api, body):
    user = make.user(email_opt_outs=["admin_digest"])
    response = api(user).put("me/email-preferences", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"]
    assert _opt_outs(user) == ["admin_digest"]
    assert _events(user) == []


def test_the_api_needs_a_token(api):
    assert api().get("me/email-preferences").status_code == 401
    assert api().put("me/email-preferences", json={"opt_outs": []}).status_code == 401


# --- the service and sending ---------------------------------------------------------------------


def test_the_service_refuses_essential_email_and_audits_only_real_changes(make, ctx):
    user = make.user()
    with pytest.raises(DomainError) as refused:
        services.set_email_opt_outs(user, ["password_reset"], actor=user)
    assert refused.value.field == "opt_outs"

    services.set_email_opt_outs(user, ["credential_expiry"], actor=user)
    services.set_email_opt_outs(user, ["credential_expiry"], actor=user)
    db.session.commit()
    assert len(_events(user)) == 1


def _queue(user, category):
    return send_email(
        user.email,
        "Reset your Digital Academy password",
        "password_reset",
        category=category,
        user=user,
        link="https://academy.test/reset/token",
        hours=2,
    )


def test_an_email_turned_off_is_not_sent_but_essential_email_is(make, ctx, outbox):
    user = make.user()
    services.set_email_opt_outs(user, EVERY_OPTIONAL, actor=user)
    db.session.commit()

    for category in EVERY_OPTIONAL:
        assert _queue(user, category) is None
    essential = _queue(user, "essential")
    db.session.commit()

    assert [m["To"] for m in outbox] == [user.email]
    stored = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.recipient == user.email)
    ).all()
    assert [m.id for m in stored] == [essential.id]


def test_an_email_turned_back_on_is_sent_again(make, ctx, outbox):
    user = make.user(email_opt_outs=["deadline_reminder"])
    services.set_email_opt_outs(user, [], actor=user)
    assert _queue(user, "deadline_reminder") is not None
    db.session.commit()
    assert len(outbox) == 1
