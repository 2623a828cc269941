"""The organisation pages: admins manage, sponsors read their own, everyone else is refused."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.organisations import services
from academy.organisations.models import Organisation
from tests.conftest import count

NEW_ORGANISATION = {
    "ods_code": "rj1",
    "name": "Guy's and St Thomas' NHS Foundation Trust",
    "sector": "acute",
    "nation": "england",
    "credential_target": "8",
}


def audit_events(action: str, organisation: Organisation) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_id == str(organisation.id)
        )
    ).all()


def fresh(organisation: Organisation) -> Organisation:
    """The row as the database holds it now, not as this test's session remembers it."""
    return db.session.scalars(
        sa.select(Organisation)
        .where(Organisation.id == organisation.id)
        .execution_options(populate_existing=True)
    ).one()


@pytest.fixture
def admin(make):
    return make.user("admin")


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Guy's and St Thomas' NHS Foundation Trust")


@pytest.fixture
def other_trust(make):
    return make.organisation(ods_code="RRV", name="University College London Hospitals")


# --- creating ----------------------------------------------------------------------------------


def test_admin_creates_an_organisation(admin, login_as):
    client = login_as(admin)

    response = client.post("/organisations/new", data=NEW_ORGANISATION)

    organisation = db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "RJ1"))
    assert organisation is not None
    assert response.status_code == 302
    assert response.location.endswith(f"/organisations/{organisation.id}")
    assert (organisation.name, organisation.sector, organisation.nation) == (
        NEW_ORGANISATION["name"],
        "acute",
        "england",
    )
    assert organisation.credential_target == 8
    [event] = audit_events("organisation.create", organisation)
    assert event.actor_id == admin.id
    page = client.get(response.location)
    assert "has been added" in page.get_data(as_text=True)


def test_credential_target_defaults_to_five_on_the_form(admin, login_as):
    page = login_as(admin).get("/organisations/new").get_data(as_text=True)
    assert 'name="credential_target" type="number" value="5"' in " ".join(page.split())


@pytest.mark.parametrize("existing", ["RJ1", "rj1"])
def test_duplicate_ods_code_in_any_case_is_a_form_error(admin, login_as, make, existing):
    make.organisation(ods_code="RJ1")
    before = count(Organisation)

    response = login_as(admin).post(
        "/organisations/new", data={**NEW_ORGANISATION, "ods_code": existing.swapcase()}
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in body
    assert "An organisation with ODS code RJ1 already exists" in body
    assert 'href="#ods_code"' in body
    assert count(Organisation) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ods_code": ""}, "Enter the ODS code"),
        ({"ods_code": "R!"}, "ODS code must be 3 to 6 letters or digits"),
        ({"name": ""}, "Enter the organisation"),
        ({"sector": ""}, "Choose a sector"),
        ({"sector": "spaceport"}, "Choose a sector from the list"),
        ({"nation": ""}, "Choose a nation"),
        ({"credential_target": "-1"}, "Credential target must be 0 or more"),
        ({"credential_target": "lots"}, "Credential target must be a whole number"),
    ],
)
def test_bad_input_is_a_clear_form_error(admin, login_as, change, message):
    response = login_as(admin).post("/organisations/new", data={**NEW_ORGANISATION, **change})

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body.replace("&#39;", "'")
    assert "<title>Error: Add an organisation" in body
    assert count(Organisation) == 0


# --- editing -----------------------------------------------------------------------------------


def _edit_data(organisation: Organisation, **change) -> dict:
    return {
        "version": str(organisation.version),
        "ods_code": organisation.ods_code,
        "name": organisation.name,
        "sector": organisation.sector,
        "nation": organisation.nation,
        "credential_target": str(organisation.credential_target),
        **change,
    }


def test_admin_edits_an_organisation(admin, trust, login_as):
    client = login_as(admin)
    form = client.get(f"/organisations/{trust.id}/edit").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{trust.version}"' in form

    response = client.post(
        f"/organisations/{trust.id}/edit", data=_edit_data(trust, credential_target="12")
    )

    assert response.status_code == 302
    assert fresh(trust).credential_target == 12
    [event] = audit_events("organisation.update", trust)
    assert event.after == {"credential_target": 12}


def test_edit_from_a_stale_page_is_refused_and_overwrites_nothing(admin, trust, login_as, ctx):
    stale = _edit_data(trust, name="Stale name")
    services.update_organisation(trust, actor=admin, name="Renamed meanwhile")
    db.session.commit()

    response = login_as(admin).post(f"/organisations/{trust.id}/edit", data=stale)

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "changed by someone else" in body
    assert fresh(trust).name == "Renamed meanwhile"


def test_edit_without_a_version_is_refused(admin, trust, login_as):
    data = _edit_data(trust, name="No version")
    del data["version"]

    response = login_as(admin).post(f"/organisations/{trust.id}/edit", data=data)

    assert "This page is out of date" in response.get_data(as_text=True)
    assert fresh(trust).name != "No version"


# --- who sees what -----------------------------------------------------------------------------


def test_sponsor_sees_only_their_organisation_and_its_staff(make, login_as, trust, other_trust):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    colleague = make.user(organisation=trust, name="Colleague Inside")
    outsider = make.user(organisation=other_trust, name="Outsider Elsewhere")
    client = login_as(sponsor)

    listing = client.get("/organisations").get_data(as_text=True)
    assert trust.ods_code in listing and other_trust.ods_code not in listing
    assert "Add an organisation" not in listing

    page = client.get(f"/organisations/{trust.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert colleague.name in body and f"/users/{colleague.id}" in body
    assert outsider.name not in body
    assert f"/organisations/{trust.id}/edit" not in body

    assert client.get(f"/organisations/{other_trust.id}").status_code == 404
    assert client.get(f"/organisations/{other_trust.id}/edit").status_code == 404


def test_a_sponsor_whose_role_has_ended_sees_nothing(make, login_as, trust):
    sponsor = make.user(organisation=trust)
    make.role(sponsor, "sponsor", scope=trust, valid_to=date(2021, 1, 1))

    assert login_as(sponsor).get(f"/organisations/{trust.id}").status_code == 403


@pytest.mark.parametrize("role", ["learner", "tutor", "examiner", None])
def test_other_roles_are_refused(make, login_as, trust, role):
    client = login_as(make.user(role, organisation=trust))
    assert client.get("/organisations").status_code == 403
    assert client.get(f"/organisations/{trust.id}").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, trust):
    response = client.get(f"/organisations/{trust.id}")
    assert response.status_code == 302
    assert "/sign-in" in response.location and "next=" in response.location


def test_navigation_shows_organisations_to_admins_and_sponsors_only(make, login_as, trust, app):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    learner = make.user("learner")
    assert 'href="/organisations"' in login_as(sponsor).get("/users").get_data(as_text=True)
    other = app.test_client()
    login_as(learner, the_client=other)
    assert 'href="/organisations"' not in other.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/organisations/new", None),
        ("post", "/organisations/new", NEW_ORGANISATION | {"ods_code": "ZZZ"}),
        ("get", "/organisations/{id}/edit", None),
        ("post", "/organisations/{id}/edit", {"name": "Hijacked", "version": "1"}),
    ],
)
def test_sponsor_cannot_create_or_edit(make, login_as, trust, method, path, data):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    client = login_as(sponsor)

    response = getattr(client, method)(path.format(id=trust.id), data=data)

    assert response.status_code == 403
    assert count(Organisation) == 1
    assert fresh(trust).name != "Hijacked"


# --- searching, paging and counting ----------------------------------------------------------


def test_search_finds_by_partial_name_and_ods_code_ignoring_case(
    admin, login_as, trust, other_trust
):
    client = login_as(admin)

    by_name = client.get("/organisations?q=college").get_data(as_text=True)
    assert other_trust.name in by_name and trust.name not in by_name.replace("&#39;", "'")

    by_code = client.get("/organisations?q=rj").get_data(as_text=True)
    assert "RJ1" in by_code and "RRV" not in by_code

    nothing = client.get("/organisations?q=100%25").get_data(as_text=True)
    assert "No organisations match" in nothing


def test_list_shows_staff_counts(admin, login_as, make, trust, other_trust):
    for _ in range(3):
        make.user(organisation=trust)
    body = " ".join(login_as(admin).get("/organisations").get_data(as_text=True).split())
    assert "Staff </span>3 </td>" in body
    assert "Staff </span>0 </td>" in body


def test_list_is_paginated_fifty_a_page(admin, login_as, make):
    for n in range(51):
        make.organisation(ods_code=f"P{n:03d}", name=f"Paged Trust {n:03d}")
    client = login_as(admin)

    first = client.get("/organisations").get_data(as_text=True)
    assert "Paged Trust 049" in first and "Paged Trust 050" not in first
    assert 'href="/organisations?page=2"' in first

    second = client.get("/organisations?page=2").get_data(as_text=True)
    assert "Paged Trust 050" in second and "Paged Trust 000" not in second


def test_list_takes_the_same_number_of_queries_however_many_rows(admin, login_as, make):
    client = login_as(admin)

    def queries_for_list() -> int:
        # Requests share this test's session, so start each count from the same (empty) state.
        db.session.expire_all()
        statements = []

        def remember(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            assert client.get("/organisations").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
        return len(statements)

    organisation = make.organisation()
    make.user(organisation=organisation)
    few = queries_for_list()
    for _ in range(10):
        organisation = make.organisation()
        make.user(organisation=organisation)
        make.user(organisation=organisation)
    assert queries_for_list() == few


def test_user_text_is_escaped(admin, login_as, make):
    organisation = make.organisation(name="<script>alert(1)</script> Trust")
    client = login_as(admin)
    for path in ("/organisations", f"/organisations/{organisation.id}"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in body
        assert "&lt;script&gt;alert(1)" in body
