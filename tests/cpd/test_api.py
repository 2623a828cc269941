"""/api/v1 CPD: the caller's record, adding, replacing and deleting their own entries (stale
versions 409, anyone else's 404), and admins reading a learner's record."""

from __future__ import annotations

from datetime import date

import pytest

from academy.cpd.models import CpdEntry
from academy.extensions import db
from academy.marking import services as marking
from academy.organisations.models import Organisation
from tests.conftest import count

BODY = {
    "title": "NHS ConfedExpo 2027",
    "activity_type": "conference",
    "provider": "NHS Confederation",
    "started_on": "2027-05-10",
    "ended_on": "2027-05-11",
    "hours": 12.5,
    "reflection": "Réflexion 😀\nSecond line",
}


@pytest.fixture
def as_learner(api, learner):
    return api(learner)


def test_the_record_has_entries_academy_study_and_totals(make, as_learner, learner, cohort,
                                                         log_entry):  # fmt: skip
    credential = make.credential(learner, cohort, mark=64.5)
    entry = log_entry(learner, title="On 31 March", started_on=date(2027, 3, 31), hours="4")
    log_entry(learner, title="On 1 April", started_on=date(2027, 4, 1), hours="1.5")

    response = as_learner.get("me/cpd")
    assert response.status_code == 200
    body = response.get_json()
    assert body["user_id"] == learner.id and body["year"] is None
    assert body["current_year"] == 2027
    assert body["totals"] == {
        "period": {"academy": 150.0, "self_logged": 5.5, "total": 155.5},
        "current_year": {"academy": 150.0, "self_logged": 1.5, "total": 151.5},
        "all_time": {"academy": 150.0, "self_logged": 5.5, "total": 155.5},
    }
    (study,) = body["academy_study"]
    assert study == {
        "module_id": cohort.deliveries[0].module_id,
        "module_code": "DHL701",
        "module_title": "Leading digital change",
        "cohort_id": cohort.id,
        "cohort_name": cohort.name,
        "starts_on": "2027-04-12",
        "ends_on": "2028-03-17",
        "credits": 15,
        "hours": 150.0,
        "outcome": "passed",
        "cpd_year": 2027,
        "credential_url": f"https://academy.test/credentials/{credential.uuid}",
    }
    assert "64.5" not in response.get_data(as_text=True)
    assert [e["title"] for e in body["entries"]] == ["On 1 April", "On 31 March"]
    last = body["entries"][1]
    assert last["id"] == entry.id and last["cpd_year"] == 2026 and last["hours"] == 4.0
    assert last["version"] == 1 and last["activity_type"] == "reading"


def test_the_year_filter_splits_on_1_april(as_learner, learner, log_entry):
    log_entry(learner, title="On 31 March", started_on=date(2027, 3, 31), hours="4")
    log_entry(learner, title="On 1 April", started_on=date(2027, 4, 1), hours="1.5")
    body = as_learner.get("me/cpd?year=2026").get_json()
    assert [e["title"] for e in body["entries"]] == ["On 31 March"]
    assert body["academy_study"] == []
    assert (body["year"], body["period_start"], body["period_end"]) == (
        2026, "2026-04-01", "2027-03-31"
    )  # fmt: skip
    assert body["totals"]["period"] == {"academy": 0.0, "self_logged": 4.0, "total": 4.0}
    body = as_learner.get("me/cpd?year=2027").get_json()
    assert [e["title"] for e in body["entries"]] == ["On 1 April"]
    assert len(body["academy_study"]) == 1
    for bad in ("abc", "2026-27", "1066", "99999"):
        response = as_learner.get(f"me/cpd?year={bad}")
        assert response.status_code == 422 and "year" in response.get_json()["errors"]


def test_an_unreleased_mark_is_in_progress(make, as_learner, learner, cohort):
    assignment = make.assignment(cohort)
    submission = make.submission(assignment, learner)
    marking.save_mark(submission, actor=make.user("admin"), expected_version=0, mark=91)
    db.session.commit()
    (study,) = as_learner.get("me/cpd").get_json()["academy_study"]
    assert study["outcome"] == "in_progress" and study["credential_url"] is None


def test_adding_an_entry(as_learner, learner):
    response = as_learner.post("me/cpd", json=BODY)
    assert response.status_code == 201
    body = response.get_json()
    assert body["user_id"] == learner.id and body["version"] == 1
    assert body["hours"] == 12.5 and body["ended_on"] == "2027-05-11"
    assert body["reflection"] == "Réflexion 😀\nSecond line"
    assert body["activity_label"] == "Conference or event" and body["cpd_year"] == 2027
    assert as_learner.get(f"me/cpd/{body['id']}").get_json() == body


def test_only_the_required_fields_are_needed(as_learner):
    body = {k: BODY[k] for k in ("title", "activity_type", "started_on", "hours")}
    response = as_learner.post("me/cpd", json=body)
    assert response.status_code == 201
    assert response.get_json()["provider"] == "" and response.get_json()["ended_on"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "t" * 301}, "title"),
        ({"activity_type": "holiday"}, "activity_type"),
        ({"started_on": "2027-06-02", "ended_on": None}, "started_on"),
        ({"started_on": "02/05/2027"}, "started_on"),
        ({"ended_on": "2027-05-09"}, "ended_on"),
        ({"ended_on": "2027-06-05"}, "ended_on"),
        ({"hours": 0}, "hours"),
        ({"hours": 1000.5}, "hours"),
        ({"hours": 1.25}, "hours"),
        ({"hours": "1.5"}, "hours"),
        ({"hours": True}, "hours"),
        ({"reflection": "r" * 10_001}, "reflection"),
        ({"provider": "p" * 301}, "provider"),
        ({"provider": "NUL\x00"}, "provider"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_saved(as_learner, changes, field):
    response = as_learner.post("me/cpd", json={**BODY, **changes})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and field in body["errors"]
    assert count(CpdEntry) == 0


def test_missing_fields_are_422(as_learner):
    response = as_learner.post("me/cpd", json={})
    assert response.status_code == 422
    assert {"title", "activity_type", "started_on", "hours"} <= set(response.get_json()["errors"])


def test_replacing_an_entry_with_its_version(as_learner, learner, log_entry):
    entry = log_entry(learner)
    response = as_learner.put(f"me/cpd/{entry.id}", json={**BODY, "hours": 3, "version": 1})
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == 2 and body["hours"] == 3.0 and body["title"] == BODY["title"]
    # Optional fields left out are cleared: PUT replaces the entry.
    response = as_learner.put(
        f"me/cpd/{entry.id}",
        json={"title": "Short", "activity_type": "other", "started_on": "2027-05-01",
              "hours": 1, "version": 2},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["provider"] == "" and response.get_json()["reflection"] == ""


def test_a_stale_version_is_409_with_the_entry_as_it_is_now(as_learner, learner, log_entry):
    entry = log_entry(learner)
    assert as_learner.put(f"me/cpd/{entry.id}", json={**BODY, "version": 1}).status_code == 200
    response = as_learner.put(
        f"me/cpd/{entry.id}", json={**BODY, "title": "Overwrite?", "version": 1}
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == 409 and "version" in body["errors"]
    assert body["current"]["version"] == 2 and body["current"]["title"] == BODY["title"]
    assert as_learner.get(f"me/cpd/{entry.id}").get_json()["title"] == BODY["title"]
    missing = as_learner.put(f"me/cpd/{entry.id}", json=BODY)
    assert missing.status_code == 422 and "version" in missing.get_json()["errors"]


def test_deleting_an_entry(as_learner, learner, log_entry):
    entry = log_entry(learner)
    response = as_learner.delete(f"me/cpd/{entry.id}")
    assert response.status_code == 204
    assert count(CpdEntry) == 0
    assert as_learner.delete(f"me/cpd/{entry.id}").status_code == 404


def test_anyone_else_s_entry_is_404(make, api, learner, log_entry):
    entry = log_entry(learner)
    for other in (make.user("learner"), make.user("admin")):
        client = api(other)
        assert client.get(f"me/cpd/{entry.id}").status_code == 404
        put = client.put(f"me/cpd/{entry.id}", json={**BODY, "version": 1})
        assert put.status_code == 404
        assert client.delete(f"me/cpd/{entry.id}").status_code == 404
        assert client.get("me/cpd").get_json()["entries"] == []
    assert db.session.get(CpdEntry, entry.id).title == "Reading: the Wachter review"


def test_a_token_is_needed(api):
    assert api().get("me/cpd").status_code == 401
    assert api().post("me/cpd", json=BODY).status_code == 401


def test_admins_and_the_learner_read_a_record_others_cannot(make, api, learner, cohort,
                                                            log_entry):  # fmt: skip
    log_entry(learner, title="Visible to admins")
    path = f"users/{learner.id}/cpd"
    for reader in (make.user("admin"), learner):
        response = api(reader).get(path + "?year=2027")
        assert response.status_code == 200
        body = response.get_json()
        assert body["user_id"] == learner.id
        assert [e["title"] for e in body["entries"]] == ["Visible to admins"]
        assert len(body["academy_study"]) == 1
    tutor = make.user("tutor", scope=cohort)
    employer = db.session.get(Organisation, learner.organisation_id)
    sponsor_of_learner = make.user("sponsor", scope=employer)
    for staff in (tutor, sponsor_of_learner):
        response = api(staff).get(path)
        assert response.status_code == 403
        assert "Visible to admins" not in response.get_data(as_text=True)
    other_sponsor = make.user("sponsor", scope=make.organisation())
    for stranger in (make.user("learner"), other_sponsor, make.user("tutor", scope=make.cohort())):
        assert api(stranger).get(path).status_code == 404
    assert api(make.user("admin")).get("users/2147483647/cpd").status_code == 404


def test_every_cpd_endpoint_is_in_the_openapi_document(api):
    paths = api().get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/me/cpd"]) >= {"get", "post"}
    assert set(paths["/api/v1/me/cpd/{entry_id}"]) >= {"get", "put", "delete"}
    assert "409" in paths["/api/v1/me/cpd/{entry_id}"]["put"]["responses"]
    assert "get" in paths["/api/v1/users/{user_id}/cpd"]
