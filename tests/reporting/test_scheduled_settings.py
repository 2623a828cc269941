"""A sponsor's choice of summary emails, on the settings page and through the API: monthly by
default, changed per organisation, audited, refused whole when stale, and only for organisations
they sponsor now."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.reporting.models import ReportSubscription

PATH = "/account/report-emails"
API = "me/report-subscriptions"


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Leeds Teaching Hospitals")


@pytest.fixture
def other_trust(make):
    return make.organisation(ods_code="RR8", name="Airedale")


@pytest.fixture
def sponsor(make, trust, other_trust):
    user = make.user("sponsor", scope=trust)
    make.role(user, "sponsor", scope=other_trust)
    return user


def frequencies(user) -> dict[str, str]:
    rows = db.session.scalars(
        sa.select(ReportSubscription)
        .where(ReportSubscription.user_id == user.id)
        .execution_options(populate_existing=True)
    )
    return {row.organisation_id: row.frequency for row in rows}


def audit_events() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "report_subscription.update")
            .order_by(AuditEvent.id)
        )
    )


def form(
    trust, other_trust, *, trust_frequency="weekly", other_frequency="monthly", versions=(0, 0)
):
    return {
        f"frequency_{trust.id}": trust_frequency,
        f"version_{trust.id}": str(versions[0]),
        f"frequency_{other_trust.id}": other_frequency,
        f"version_{other_trust.id}": str(versions[1]),
    }


# --- the page ----------------------------------------------------------------------------------


def test_the_page_lists_each_sponsored_organisation_monthly_by_default(
    login_as, sponsor, trust, other_trust
):
    page = login_as(sponsor).get(PATH)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Airedale (RR8)" in text and "Leeds Teaching Hospitals (RJ1)" in text
    assert text.index("Airedale") < text.index("Leeds Teaching")
    assert text.count('value="monthly" checked') == 2
    assert 'name="csrf_token"' in text or "csrf_token" in text
    assert "None sent yet" in text


def test_saving_changes_only_what_changed_and_is_audited(login_as, sponsor, trust, other_trust):
    client = login_as(sponsor)
    response = client.post(PATH, data=form(trust, other_trust))
    assert response.status_code == 302 and response.headers["Location"] == PATH
    assert frequencies(sponsor) == {trust.id: "weekly"}
    [event] = audit_events()
    assert event.actor_id == sponsor.id and event.object_type == "report_subscription"
    assert event.before == {"frequency": "monthly"}
    assert event.after == {"frequency": "weekly", "organisation_id": trust.id}
    page = client.get(PATH).get_data(as_text=True)
    assert "Your summary email choices have been saved" in page
    assert page.count('value="weekly" checked') == 1

    response = client.post(
        PATH, data=form(trust, other_trust, trust_frequency="off", other_frequency="off",
                        versions=(1, 0))
    )  # fmt: skip
    assert response.status_code == 302
    assert frequencies(sponsor) == {trust.id: "off", other_trust.id: "off"}
    assert len(audit_events()) == 3


def test_a_stale_page_changes_nothing(login_as, sponsor, trust, other_trust):
    client = login_as(sponsor)
    assert client.post(PATH, data=form(trust, other_trust)).status_code == 302
    # Both saved from pages drawn before that change.
    stale = client.post(PATH, data=form(trust, other_trust, trust_frequency="off",
                                        other_frequency="weekly"))  # fmt: skip
    assert stale.status_code == 409
    assert "changed somewhere else" in stale.get_data(as_text=True)
    assert frequencies(sponsor) == {trust.id: "weekly"}
    for versions in (("", "0"), ("x", "0"), ("1" * 12, "0")):
        data = form(trust, other_trust, other_frequency="weekly")
        data[f"version_{trust.id}"], data[f"version_{other_trust.id}"] = versions
        response = client.post(PATH, data=data)
        assert response.status_code == 422
        assert "This page is out of date" in response.get_data(as_text=True)
    assert frequencies(sponsor) == {trust.id: "weekly"}
    assert len(audit_events()) == 1


def test_an_unknown_frequency_is_a_form_error(login_as, sponsor, trust, other_trust):
    response = login_as(sponsor).post(PATH, data=form(trust, other_trust, trust_frequency="daily"))
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    data = form(trust, other_trust)
    del data[f"frequency_{other_trust.id}"]
    response = login_as(sponsor).post(PATH, data=data)
    assert response.status_code == 422
    assert "Choose how often to get the summary of Airedale" in response.get_data(as_text=True)
    assert frequencies(sponsor) == {} and audit_events() == []


def test_only_current_sponsors_have_the_page(make, app, login_as, trust, client):
    assert client.get(PATH).status_code == 302
    ended = make.user()
    make.role(ended, "sponsor", scope=trust, valid_to=date(2020, 12, 31))
    for user in (make.user("learner"), make.user("admin"), ended):
        assert login_as(user, the_client=app.test_client()).get(PATH).status_code == 403


def test_the_account_page_links_sponsors_to_it(make, app, login_as, sponsor):
    assert PATH in login_as(sponsor).get("/account").get_data(as_text=True)
    learner = login_as(make.user("learner"), the_client=app.test_client())
    assert PATH not in learner.get("/account").get_data(as_text=True)


# --- the API -----------------------------------------------------------------------------------


def test_the_api_lists_and_changes_choices(api, sponsor, trust, other_trust):
    client = api(sponsor)
    listed = client.get(API)
    assert listed.status_code == 200
    assert [
        (item["organisation"]["ods_code"], item["frequency"], item["version"])
        for item in listed.get_json()
    ] == [("RR8", "monthly", 0), ("RJ1", "monthly", 0)]
    assert listed.get_json()[0]["organisation_id"] == other_trust.id
    assert listed.get_json()[0]["last_sent_at"] is None

    changed = client.put(
        API, json={"subscriptions": [{"organisation_id": trust.id, "frequency": "weekly",
                                      "version": 0}]}
    )  # fmt: skip
    assert changed.status_code == 200
    assert [(item["frequency"], item["version"]) for item in changed.get_json()] == [
        ("monthly", 0),
        ("weekly", 1),
    ]
    assert frequencies(sponsor) == {trust.id: "weekly"}
    [event] = audit_events()
    assert event.after == {"frequency": "weekly", "organisation_id": trust.id}

    stale = client.put(
        API, json={"subscriptions": [
            {"organisation_id": other_trust.id, "frequency": "off", "version": 0},
            {"organisation_id": trust.id, "frequency": "off", "version": 0},
        ]}
    )  # fmt: skip
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["code"] == 409 and "changed somewhere else" in body["message"]
    assert [item["version"] for item in body["current"]] == [0, 1]
    assert frequencies(sponsor) == {trust.id: "weekly"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "subscriptions"),
        ({"subscriptions": []}, "subscriptions"),
        ({"subscriptions": [{"organisation_id": "ME", "frequency": "off", "version": 0}]},
         "subscriptions"),
        ({"subscriptions": [{"frequency": "off", "version": 0}]}, "subscriptions"),
        ({"subscriptions": [{"organisation_id": 1, "frequency": "daily", "version": 0}]},
         "subscriptions"),
        ({"subscriptions": [{"organisation_id": 1, "frequency": "off", "version": -1}]},
         "subscriptions"),
        ({"subscriptions": [{"organisation_id": 1, "frequency": "off", "version": 0}],
          "extra": 1}, "extra"),
    ],
)  # fmt: skip
def test_the_api_refuses_bad_bodies(api, sponsor, trust, body, field):
    for item in body.get("subscriptions", []):
        if item.get("organisation_id") == 1:
            item["organisation_id"] = trust.id
    response = api(sponsor).put(API, json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert frequencies(sponsor) == {}


def test_the_api_refuses_organisations_not_sponsored_now_and_duplicates(make, api, sponsor, trust):
    elsewhere = make.organisation()
    client = api(sponsor)
    for organisation_id in (elsewhere.id, 2**31 - 1):
        response = client.put(
            API, json={"subscriptions": [
                {"organisation_id": trust.id, "frequency": "off", "version": 0},
                {"organisation_id": organisation_id, "frequency": "off", "version": 0},
            ]}
        )  # fmt: skip
        assert response.status_code == 422
        assert "organisation_id" in response.get_json()["errors"]
    twice = client.put(
        API, json={"subscriptions": [
            {"organisation_id": trust.id, "frequency": "off", "version": 0},
            {"organisation_id": trust.id, "frequency": "weekly", "version": 0},
        ]}
    )  # fmt: skip
    assert twice.status_code == 422
    assert frequencies(sponsor) == {} and audit_events() == []


def test_non_sponsors_have_no_choices_and_tokens_are_needed(make, api, trust):
    assert api(make.user("learner")).get(API).get_json() == []
    ended = make.user()
    make.role(ended, "sponsor", scope=trust, valid_to=date(2020, 12, 31))
    assert api(ended).get(API).get_json() == []
    response = api(ended).put(
        API, json={"subscriptions": [{"organisation_id": trust.id, "frequency": "off",
                                      "version": 0}]}
    )  # fmt: skip
    assert response.status_code == 422
    assert api().get(API).status_code == 401
