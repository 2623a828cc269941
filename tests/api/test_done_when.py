"""Issue 2's "Done when", over HTTP: an admin gets a token, creates two organisations and users,
grants a sponsor role scoped to one organisation, and that sponsor lists only its staff, page by
page; user creation, role grants and sign-ins (success and failure) are audited."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from tests.factories import PASSWORD, totp_code

SPONSOR_PASSWORD = "sponsor password that is long"


def links(response) -> dict[str, str]:
    """rel -> path and query from an RFC 8288 Link header."""
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    return {rel: "{0.path}?{0.query}".format(urlsplit(url)) for url, rel in found}


def token(api, email, password, **extra) -> dict[str, str]:
    response = api().post("auth/tokens", json={"email": email, "password": password, **extra})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_an_admin_sets_up_a_sponsor_who_sees_only_their_staff(api, make):
    admin = make.user("admin", email="admin@academy.test")
    client = api()

    # A failed sign-in first, then the admin's token.
    refused = client.post("auth/tokens", json={"email": admin.email, "password": "wrong guess"})
    assert refused.status_code == 401
    make.mfa(admin)  # an admin's role requires two-factor authentication
    as_admin = token(api, admin.email, PASSWORD, otp=totp_code(admin))

    def post(path, body):
        response = client.post(path, json=body, headers=as_admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    north = post(
        "organisations",
        {
            "ods_code": "RR8",
            "name": "Leeds Teaching Hospitals",
            "sector": "acute",
            "nation": "england",
        },
    )
    south = post(
        "organisations",
        {
            "ods_code": "RH8",
            "name": "Royal Devon University Healthcare",
            "sector": "acute",
            "nation": "england",
            "credential_target": 7,
        },
    )
    north_staff = [
        post(
            "users",
            {
                "email": f"north{i}@nhs.test",
                "name": f"North {i}",
                "organisation_id": north["id"],
                "password": "staff password long",
            },
        )
        for i in range(4)
    ]
    for i in range(3):
        post(
            "users",
            {"email": f"south{i}@nhs.test", "name": f"South {i}", "organisation_id": south["id"]},
        )
    sponsor = post(
        "users",
        {
            "email": "sponsor@nhs.test",
            "name": "Sam Sponsor",
            "organisation_id": north["id"],
            "password": SPONSOR_PASSWORD,
        },
    )
    grant = post(
        f"users/{sponsor['id']}/roles", {"role": "sponsor", "organisation_id": north["id"]}
    )
    assert grant["organisation_id"] == north["id"]

    as_sponsor = token(api, "sponsor@nhs.test", SPONSOR_PASSWORD)
    first = client.get("users?per_page=2", headers=as_sponsor)

    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "5"
    first_links = links(first)
    assert {"first", "next", "last"} <= set(first_links) and "prev" not in first_links
    assert "page=3" in first_links["last"] and "per_page=2" in first_links["last"]
    seen = [user["email"] for user in first.get_json()]
    page = first
    while "next" in links(page):
        page = client.get(links(page)["next"], headers=as_sponsor)
        assert page.status_code == 200
        seen += [user["email"] for user in page.get_json()]
    assert "prev" in links(page) and "next" not in links(page)
    assert sorted(seen) == sorted([u["email"] for u in north_staff] + ["sponsor@nhs.test"])

    south_person = client.get(f"users?organisation_id={south['id']}", headers=as_admin).get_json()[
        0
    ]
    assert client.get(f"users/{south_person['id']}", headers=as_sponsor).status_code == 404

    actions = [
        (event.action, event.actor_id)
        for event in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
    ]
    assert actions.count(("user.create", admin.id)) == 8
    assert ("role.grant", admin.id) in actions
    assert ("auth.login_failed", admin.id) in actions
    assert ("auth.login", admin.id) in actions
    assert ("auth.login", sponsor["id"]) in actions
    logins = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.in_(["auth.login", "auth.login_failed"]))
    ).all()
    assert {event.after["channel"] for event in logins} == {"api"}
