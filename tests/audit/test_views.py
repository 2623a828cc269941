"""The admin audit page: admins only, searchable, paginated, downloadable as CSV, and showing
whether the chain verifies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import sqlalchemy as sa

from academy.audit import services as audit
from academy.core import clock
from academy.extensions import db


def _events(make):
    admin = make.user("admin", email="audit.admin@example.nhs.uk")
    other = make.user("admin", email="other.person@example.nhs.uk")
    with clock.frozen_at(datetime(2027, 3, 1, 10, tzinfo=UTC)):
        audit.record("role.grant", actor=admin, object_type="user", object_id=41, after={"r": 1})
    with clock.frozen_at(datetime(2027, 3, 5, 10, tzinfo=UTC)):
        audit.record("role.end", actor=other, object_type="user", object_id=42)
        audit.record(
            "credential.revoke",
            actor=admin,
            object_type="credential",
            object_id=9,
            after={"reason": '=HYPERLINK("x")'},
        )
    db.session.commit()
    return admin


def _csv(response):
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_only_admins_may_open_the_log(make, client, login_as):
    assert client.get("/admin/audit").status_code == 302  # to sign in
    login_as(make.user("tutor"))
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    assert 'href="/admin/audit"' not in client.get("/").get_data(as_text=True)


def test_admins_see_the_log_its_chain_status_and_the_nav_link(make, client, login_as):
    login_as(_events(make))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Chain verified: intact" in page
    assert 'href="/admin/audit"' in page
    assert "credential.revoke" in page and "role.end" in page


def test_the_log_is_searched_by_action_actor_object_and_dates(make, client, login_as):
    login_as(_events(make))

    def actions(**query):
        rows = _csv(client.get("/admin/audit.csv", query_string=query))[1:]
        return sorted(row[2] for row in rows if row[2] != "auth.login")

    assert actions(action="role.") == ["role.end", "role.grant"]
    assert actions(actor="OTHER.person") == ["role.end"]
    assert actions(object_type="user", object_id="41") == ["role.grant"]
    assert actions(date_from="2027-03-02", date_to="2027-03-05") == [
        "credential.revoke",
        "role.end",
    ]
    page = client.get("/admin/audit", query_string={"action": "role.grant"}).get_data(as_text=True)
    assert "role.grant" in page and "role.end" not in page


def test_impossible_dates_are_form_errors(make, client, login_as):
    login_as(make.user("admin"))
    response = client.get(
        "/admin/audit", query_string={"date_from": "2027-03-05", "date_to": "2027-03-01"}
    )
    assert response.status_code == 400
    assert "The end date must be the same as or after the start date" in response.get_data(
        as_text=True
    )
    assert (
        client.get("/admin/audit.csv", query_string={"date_from": "31/02/2027"}).status_code == 400
    )


def test_the_csv_holds_the_filtered_events(make, client, login_as):
    login_as(_events(make))
    response = client.get("/admin/audit.csv", query_string={"object_type": "credential"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, row = _csv(response)
    assert header[:4] == ["Event", "When (UK time)", "Action", "Done by"]
    assert row[2:6] == ["credential.revoke", "audit.admin@example.nhs.uk", "credential", "9"]
    assert row[1] == "2027-03-05 10:00"
    assert row[7] == '{"reason": "=HYPERLINK(\\"x\\")"}'
    assert len(row[9]) == 64


def test_the_log_pages(make, client, login_as):
    admin = make.user("admin")
    for index in range(55):
        audit.record("bulk.event", object_type="thing", object_id=index)
    db.session.commit()
    login_as(admin)
    first = client.get("/admin/audit", query_string={"action": "bulk."}).get_data(as_text=True)
    assert "(55)" in first and "thing 54" in first and "thing 4<" not in first
    second = client.get("/admin/audit", query_string={"action": "bulk.", "page": 2})
    assert "thing 4" in second.get_data(as_text=True)


def test_a_broken_chain_is_shown(make, client, login_as):
    login_as(_events(make))
    broken = db.session.scalar(
        sa.select(sa.func.min(sa.literal_column("id"))).select_from(sa.table("audit_event"))
    )
    db.session.execute(
        sa.text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": broken}
    )
    db.session.commit()
    page = client.get("/admin/audit").get_data(as_text=True)
    assert f"Chain verified: broken at event {broken}" in page
