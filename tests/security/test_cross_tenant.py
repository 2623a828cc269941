"""A trust's sponsor reaches nothing of another trust's: every URL that takes an organisation or a
user id, HTML and API, walked from the app's own URL map (so a new route is covered the day it is
added), answers 404 for the other trust's ids; and no list, report or export carries the other
trust's learners. Also an ended sponsorship: the same sponsor, the day after `valid_to`, reaches
nothing of their own trust either (ASVS 5.0 8.4.1; Moodle's CVE-2020-1754 leaked grade history
across exactly this boundary)."""

import io
from datetime import timedelta

import openpyxl
import pytest
from flask import url_for

from academy.auth.models import RoleAssignment
from academy.core import clock
from academy.extensions import db

#: Routes a sponsor may not use at all (users' admin pages refuse a whole section first with
#: 403, before any lookup, which says nothing about any id). Every other id-taking GET is 404.
SECTION_REFUSED = {"users.edit", "users.grant_role", "organisations.edit"}
SECRET = "Zebedee-Cross-Tenant"


@pytest.fixture
def trusts(make):
    """Two trusts, each with a sponsor, and a learner in the other with an award, a submission
    and a released mark: everything a leak could show."""
    ours, theirs = make.organisation(ods_code="RAA"), make.organisation(ods_code="RBB")
    cohort = make.cohort()
    mine = make.learner_in(cohort, organisation=ours, name="Our Learner")
    other = make.learner_in(cohort, organisation=theirs, name=SECRET, staff_number="SECRET-99")
    make.credential(other, cohort)
    make.passed(mine, cohort)
    return {
        "ours": ours,
        "theirs": theirs,
        "sponsor": make.user("sponsor", scope=ours),
        "mine": mine,
        "other": other,
        "cohort": cohort,
    }


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        if {"organisation_id", "user_id"} & set(rule.arguments):
            yield rule


def _url(app, rule, trusts, fmt="csv"):
    other = trusts["other"]
    values = {
        "organisation_id": trusts["theirs"].id,
        "user_id": other.id,
        "fmt": fmt,
        "role_id": other.roles[0].id,
    }
    with app.test_request_context():
        return url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})


def test_every_id_route_hides_the_other_trust(app, trusts, client, login_as, make):
    login_as(trusts["sponsor"])
    token = make.token_for(trusts["sponsor"])
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    checked = 0
    for rule in _id_routes(app):
        api = rule.rule.startswith("/api/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for fmt in ("csv", "xlsx") if "fmt" in rule.arguments else ("csv",):
                url = _url(app, rule, trusts, fmt)
                response = client.open(
                    url, method=method, headers=headers if api else None, json={} if api else None
                )
                body = response.get_data(as_text=True)
                assert SECRET not in body and "SECRET-99" not in body, (method, url)
                if method == "GET" and rule.endpoint not in SECTION_REFUSED:
                    assert response.status_code == 404, (method, url, response.status_code)
                else:
                    assert response.status_code in (403, 404), (method, url, response.status_code)
                checked += 1
    # Dashboards, learner pages, four exports each way, users, organisations, CPD, credentials.
    assert checked >= 30


@pytest.mark.parametrize(
    "path",
    [
        "users",
        "results",
        "credentials",
        "organisations",
        "organisations/{ours}/dashboard",
        "organisations/{ours}/reports/progress.csv",
        "organisations/{ours}/reports/staff-credentials.csv",
        "organisations/{ours}/reports/progress.xlsx",
    ],
)
def test_our_own_lists_and_reports_carry_nothing_of_theirs(trusts, api, path):
    response = api(trusts["sponsor"]).get(path.format(ours=trusts["ours"].id))
    assert response.status_code == 200, path
    body = response.get_data()
    if path.endswith(".xlsx"):
        # Compressed XML: read the cells, or a leak would hide inside the zip.
        sheet = openpyxl.load_workbook(io.BytesIO(body)).active
        body = "\n".join(str(cell.value) for row in sheet.iter_rows() for cell in row).encode()
        assert b"staff_number" in body
    for secret in (SECRET, "SECRET-99", "RBB", trusts["other"].email):
        assert secret.encode() not in body, (path, secret)
    if response.is_json:
        items = response.get_json()
        items = items if isinstance(items, list) else items.get("learners", [])
        seen = {item.get("user_id", (item.get("user") or {}).get("id")) for item in items}
        assert trusts["other"].id not in seen


def test_an_ended_sponsorship_reaches_nothing(trusts, client, login_as, api):
    sponsor = trusts["sponsor"]
    role = db.session.scalars(
        db.select(RoleAssignment).where(RoleAssignment.user_id == sponsor.id)
    ).one()
    role.valid_to = clock.today() - timedelta(days=1)
    db.session.commit()
    ours = trusts["ours"].id
    login_as(sponsor)
    for url in (
        f"/organisations/{ours}/dashboard",
        f"/organisations/{ours}/learners/{trusts['mine'].id}",
        f"/organisations/{ours}/reports/progress.csv",
        f"/organisations/{ours}/reports/staff-credentials.xlsx",
    ):
        assert client.get(url).status_code == 404, url
    client_api = api(sponsor)
    assert client_api.get(f"organisations/{ours}/dashboard").status_code == 404
    assert client_api.get(f"organisations/{ours}/reports/progress.csv").status_code == 404
    assert client_api.get("results").get_json() == []
