"""An organisation's NHS England region: chosen on the forms and through the API, only for
organisations in England, audited, and shown on the organisation pages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core.errors import DomainError
from academy.extensions import db
from academy.organisations import services
from academy.organisations.models import Organisation
from tests.api import assert_error


@pytest.fixture
def admin(make):
    return make.user("admin")


def fresh(organisation: Organisation) -> Organisation:
    return db.session.scalars(
        sa.select(Organisation)
        .where(Organisation.id == organisation.id)
        .execution_options(populate_existing=True)
    ).one()


def _form(organisation: Organisation | None = None, **change) -> dict:
    data = {
        "ods_code": "RRK",
        "name": "University Hospitals Birmingham NHS Foundation Trust",
        "sector": "acute",
        "nation": "england",
        "region": "",
        "credential_target": "5",
    }
    if organisation is not None:
        data.update(
            version=str(organisation.version),
            ods_code=organisation.ods_code,
            name=organisation.name,
            sector=organisation.sector,
            nation=organisation.nation,
            region=organisation.region or "",
            credential_target=str(organisation.credential_target),
        )
    return {**data, **change}


# --- the service ------------------------------------------------------------------------------


def test_the_service_keeps_regions_to_england(ctx, admin):
    made = services.create_organisation(
        actor=admin, ods_code="RRK", name="UHB", sector="acute", nation="england", region="midlands"
    )
    assert made.region == "midlands" and made.region_label == "Midlands"

    with pytest.raises(DomainError) as refused:
        services.create_organisation(
            actor=admin,
            ods_code="7A4",
            name="Cardiff and Vale",
            sector="health_board",
            nation="wales",
            region="london",
        )
    assert refused.value.field == "region"

    with pytest.raises(DomainError) as unknown:
        services.update_organisation(made, actor=admin, region="atlantis")
    assert unknown.value.field == "region"


def test_an_empty_region_is_none_and_clearing_one_is_audited(ctx, admin, make):
    organisation = make.organisation(region="london")

    services.update_organisation(organisation, actor=admin, region="")
    db.session.commit()

    assert fresh(organisation).region is None
    assert fresh(organisation).region_label == "England"
    [event] = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "organisation.update",
            AuditEvent.object_id == str(organisation.id),
        )
    ).all()
    assert (event.before, event.after) == ({"region": "london"}, {"region": None})


def test_an_update_that_leaves_out_the_region_keeps_it(ctx, admin, make):
    organisation = make.organisation(region="north_west")

    services.update_organisation(organisation, actor=admin, name="Renamed")
    db.session.commit()

    assert fresh(organisation).region == "north_west"


def test_moving_a_regional_organisation_out_of_england_needs_the_region_cleared(ctx, admin, make):
    organisation = make.organisation(region="london")

    with pytest.raises(DomainError) as refused:
        services.update_organisation(organisation, actor=admin, nation="scotland")
    db.session.rollback()
    assert refused.value.field == "region"

    services.update_organisation(organisation, actor=admin, nation="scotland", region=None)
    db.session.commit()
    assert (fresh(organisation).nation, fresh(organisation).region) == ("scotland", None)


# --- the pages --------------------------------------------------------------------------------


def test_admin_adds_an_organisation_with_a_region_and_sees_it(admin, login_as):
    client = login_as(admin)
    assert 'name="region"' in client.get("/organisations/new").get_data(as_text=True)

    response = client.post("/organisations/new", data=_form(region="midlands"))

    assert response.status_code == 302
    organisation = db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "RRK"))
    assert organisation.region == "midlands"
    page = client.get(response.location).get_data(as_text=True)
    assert "NHS England region" in page and "Midlands" in page
    listing = client.get("/organisations").get_data(as_text=True)
    assert "Midlands" in listing


def test_a_region_outside_england_is_a_form_error_and_nothing_is_saved(admin, login_as):
    response = login_as(admin).post(
        "/organisations/new",
        data=_form(ods_code="7A4", nation="wales", sector="health_board", region="london"),
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Only organisations in England have an NHS England region" in body
    assert 'href="#region"' in body
    assert db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "7A4")) is None


def test_an_unknown_region_is_a_form_error(admin, login_as):
    response = login_as(admin).post("/organisations/new", data=_form(region="atlantis"))

    assert "Choose a region from the list" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "RRK")) is None


def test_admin_changes_and_clears_the_region(admin, login_as, make):
    organisation = make.organisation(region="london")
    client = login_as(admin)
    form = client.get(f"/organisations/{organisation.id}/edit").get_data(as_text=True)
    assert '<option value="london" selected' in form

    client.post(
        f"/organisations/{organisation.id}/edit", data=_form(organisation, region="south_east")
    )
    assert fresh(organisation).region == "south_east"

    client.post(
        f"/organisations/{organisation.id}/edit", data=_form(fresh(organisation), region="")
    )
    assert fresh(organisation).region is None
    page = client.get(f"/organisations/{organisation.id}").get_data(as_text=True)
    assert "None (reported by nation)" in page


# --- the API ----------------------------------------------------------------------------------


def test_the_api_takes_and_returns_the_region(api, make):
    client = api(make.user("admin"))

    created = client.post(
        "organisations",
        json={
            "ods_code": "R0A",
            "name": "Manchester University NHS Foundation Trust",
            "sector": "acute",
            "nation": "england",
            "region": "north_west",
        },
    )

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["region"] == "north_west"
    cleared = client.patch(
        f"organisations/{body['id']}", json={"region": None, "version": body["version"]}
    )
    assert cleared.status_code == 200 and cleared.get_json()["region"] is None
    welsh = client.post(
        "organisations",
        json={"ods_code": "7A4", "name": "Cardiff", "sector": "health_board", "nation": "wales"},
    )
    assert welsh.get_json()["region"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nation": "wales", "region": "london"}, "region"),
        ({"nation": "england", "region": "atlantis"}, "region"),
        ({"nation": "england", "region": 7}, "region"),
    ],
)
def test_the_api_refuses_bad_regions(api, make, body, field):
    response = api(make.user("admin")).post(
        "organisations", json={"ods_code": "RXX", "name": "Trust", "sector": "acute", **body}
    )

    assert_error(response, 422, field)
    assert db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "RXX")) is None


def test_the_api_refuses_moving_a_regional_organisation_abroad(api, make):
    organisation = make.organisation(region="london")

    response = api(make.user("admin")).patch(
        f"organisations/{organisation.id}",
        json={"nation": "scotland", "version": organisation.version},
    )

    assert_error(response, 422, "region")
    assert fresh(organisation).nation == "england"


# --- the demo data ----------------------------------------------------------------------------


def test_the_demo_organisations_have_their_regions(app):
    result = app.test_cli_runner().invoke(args=["academy", "demo"])
    assert result.exit_code == 0, result.output

    regions = dict(db.session.execute(sa.select(Organisation.ods_code, Organisation.region)).all())

    assert regions == {
        "RJ1": "london",
        "RRK": "midlands",
        "R0A": "north_west",
        "RX4": "north_east_and_yorkshire",
        "QWE": "london",
        "7A4": None,
    }
