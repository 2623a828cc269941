"""/api/v1 assignments and extensions: who may set, read and decide what, deadlines per learner,
and bad input answered with clear errors, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.assessment import services
from academy.assessment.models import Assignment, Extension
from academy.core import clock
from academy.extensions import db
from academy.organisations.models import Organisation

DUE = datetime(2027, 6, 4, 12, tzinfo=UTC)  # a Friday
RUBRIC = {
    "criteria": [
        {
            "title": "Analysis",
            "levels": [
                {"title": "Weak", "marks": 0},
                {"title": "Strong", "description": "Critical and well argued", "marks": 60},
            ],
        },
        {
            "title": "Writing",
            "levels": [{"title": "Poor", "marks": 0}, {"title": "Clear", "marks": 40}],
        },
    ]
}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def course(make, api):
    module = make.module()
    programme = make.programme(modules=[module])
    cohort = make.cohort(programme)
    learner = make.learner_in(cohort, name="Dr Ada Quill", email="ada.quill@nhs.test")
    return SimpleNamespace(
        module=module,
        programme=programme,
        cohort=cohort,
        learner=learner,
        tutor=make.user("tutor", scope=cohort),
        admin=make.user("admin"),
        as_learner=api(learner),
    )


def new_assignment(course, **overrides) -> dict:
    body = {
        "cohort_id": course.cohort.id,
        "module_id": course.module.id,
        "title": "Case study: an EPR go-live",
        "brief": "Write **2,000 words** on a go-live you saw.",
        "opens_at": "2027-05-01T09:00:00+01:00",
        "due_at": DUE.isoformat(),
        "cutoff_at": (DUE + timedelta(days=3)).isoformat(),
        "weight": 60,
        "max_mark": 100,
        "anonymous": True,
        "second_marking": "sample",
        "sample_percent": 10,
        "allowed_types": ["pdf", "docx"],
        "max_size_mb": 10,
        "rubric": RUBRIC,
    }
    body.update(overrides)
    return body


# --- setting assignments -----------------------------------------------------------------------


def test_a_tutor_sets_an_assignment_on_a_module_their_cohort_runs(course, api):
    response = api(course.tutor).post("assignments", json=new_assignment(course))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["cohort_id"] == course.cohort.id and body["module_id"] == course.module.id
    assert body["opens_at"] == "2027-05-01T08:00:00+00:00"  # kept in UTC
    assert body["due_at"] == "2027-06-04T12:00:00+00:00"
    assert body["weight"] == 60 and body["anonymous"] is True
    assert body["rubric"]["criteria"][0]["levels"][1]["marks"] == 60
    assert body["version"] == 1
    assignment = db.session.get(Assignment, body["id"])
    assert assignment.delivery.cohort_id == course.cohort.id


def test_an_admin_sets_one_with_only_the_essentials(course, api):
    essentials = {
        "cohort_id": course.cohort.id,
        "module_id": course.module.id,
        "title": "Reflective log",
        "opens_at": "2027-05-01T09:00:00Z",
        "due_at": "2027-05-20T12:00:00Z",
    }

    response = api(course.admin).post("assignments", json=essentials)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["cutoff_at"] == body["due_at"]
    assert body["allowed_types"] == ["pdf", "docx"] and body["second_marking"] == "none"


def test_a_cohort_outside_the_callers_scope_is_not_found(course, make, api):
    elsewhere = make.user("tutor", scope=make.cohort())

    hidden = api(elsewhere).post("assignments", json=new_assignment(course))
    absent = api(course.admin).post("assignments", json=new_assignment(course, cohort_id=99999))

    for response in (hidden, absent):
        assert response.status_code == 404
        assert "cohort_id" in response.get_json()["errors"]
    assert count(Assignment) == 0


def test_a_module_the_cohort_does_not_run_is_a_validation_error(course, make, api):
    response = api(course.tutor).post(
        "assignments", json=new_assignment(course, module_id=make.module().id)
    )

    assert response.status_code == 422
    assert "module_id" in response.get_json()["errors"]


def test_only_admins_and_the_cohorts_tutors_set_assignments(course, make, api):
    examiner = make.user("examiner", scope=course.programme)
    both = make.user("tutor", scope=make.cohort())
    make.role(both, "examiner", scope=course.programme)  # sees the cohort, does not teach it
    sponsor = make.user("sponsor", scope=make.organisation())

    assert course.as_learner.post("assignments", json=new_assignment(course)).status_code == 403
    assert api(sponsor).post("assignments", json=new_assignment(course)).status_code == 403
    assert api(examiner).post("assignments", json=new_assignment(course)).status_code == 403
    assert api(both).post("assignments", json=new_assignment(course)).status_code == 403
    assert count(Assignment) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"opens_at": "2027-05-01T09:00:00"}, "opens_at"),  # no offset
        ({"due_at": "next Friday"}, "due_at"),
        ({"due_at": None}, "due_at"),
        ({"due_at": "9999-12-31T23:59:59+00:00"}, "due_at"),
        ({"opens_at": "0001-01-01T00:00:00+14:00"}, "opens_at"),
        ({"weight": "60"}, "weight"),
        ({"weight": 101}, "weight"),
        ({"max_mark": 0}, "max_mark"),
        ({"max_mark": 1.5}, "max_mark"),
        ({"anonymous": "yes"}, "anonymous"),
        ({"allowed_types": ["exe"]}, "allowed_types"),
        ({"allowed_types": []}, "allowed_types"),
        ({"allowed_types": "pdf"}, "allowed_types"),
        ({"max_size_mb": 1000}, "max_size_mb"),
        ({"second_marking": "some"}, "second_marking"),
        ({"cohort_id": 2**40}, "cohort_id"),
        ({"cohort_id": "1"}, "cohort_id"),
        ({"module_id": None}, "module_id"),
        ({"title": "   "}, "title"),
        ({"title": "A\x00B"}, "title"),
        ({"colour": "blue"}, "colour"),
        ({"rubric": {"criteria": []}}, "rubric"),
        ({"rubric": {"criteria": [{"title": "x", "levels": [{"title": "a", "marks": -1}]}]}},
         "rubric"),
        ({"rubric": "good"}, "rubric"),
        # The domain rules, after the shapes are right:
        ({"cutoff_at": "2027-06-01T12:00:00+00:00"}, "cutoff_at"),  # before due
        ({"due_at": "2027-04-01T12:00:00+00:00"}, "due_at"),  # before opening
        ({"max_mark": 90}, "rubric"),  # best levels add up to 100
        ({"sample_percent": None}, "sample_percent"),
    ],
)  # fmt: skip
def test_bad_assignments_are_refused_naming_the_field(course, api, change, field):
    response = api(course.tutor).post("assignments", json=new_assignment(course, **change))

    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == 422 and field in body["errors"]
    assert count(Assignment) == 0


@pytest.mark.parametrize("body", [[], "assignment", 42, None])
def test_a_body_that_is_not_an_object_is_refused(course, api, body):
    response = api(course.tutor).post("assignments", json=body)

    assert response.status_code in (400, 422)
    assert response.get_json()["code"] == response.status_code


def test_malformed_json_is_a_bad_request(course, api):
    response = api(course.tutor).post(
        "assignments", data="{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.get_json()["code"] == 400


def test_changing_an_assignment_needs_the_version_read(course, make, api):
    assignment = make.assignment(course.cohort)
    client = api(course.tutor)
    read = client.get(f"assignments/{assignment.id}").get_json()

    changed = client.patch(
        f"assignments/{assignment.id}", json={"title": "Revised brief", "version": read["version"]}
    )
    stale = client.patch(
        f"assignments/{assignment.id}", json={"title": "Overwrite", "version": read["version"]}
    )

    assert changed.status_code == 200 and changed.get_json()["title"] == "Revised brief"
    assert stale.status_code == 409
    assert stale.get_json()["current"]["title"] == "Revised brief"
    assert db.session.get(Assignment, assignment.id).title == "Revised brief"
    missing_version = client.patch(f"assignments/{assignment.id}", json={"title": "x"})
    assert missing_version.status_code == 422
    learner = course.as_learner.patch(
        f"assignments/{assignment.id}", json={"title": "Mine", "version": 2}
    )
    assert learner.status_code == 403


# --- reading assignments -----------------------------------------------------------------------


def test_lists_are_scoped_and_paginated(course, make, api):
    mine = [make.assignment(course.cohort) for _ in range(3)]
    elsewhere = make.assignment(make.cohort())

    response = course.as_learner.get("assignments?per_page=2")
    second = course.as_learner.get("assignments?per_page=2&page=2")
    admin_filtered = api(course.admin).get(f"assignments?cohort_id={course.cohort.id}")
    sponsor = api(make.user("sponsor", scope=make.organisation())).get("assignments")

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]
    ids = [a["id"] for a in response.get_json() + second.get_json()]
    assert sorted(ids) == sorted(a.id for a in mine)
    assert elsewhere.id not in [a["id"] for a in admin_filtered.get_json()]
    assert admin_filtered.headers["X-Total-Count"] == "3"
    assert sponsor.status_code == 200 and sponsor.get_json() == []
    assert course.as_learner.get("assignments?cohort_id=abc").status_code == 422
    assert course.as_learner.get("assignments?per_page=201").status_code == 422


def test_a_learner_reads_their_own_deadline_and_working_days_left(course, make, api):
    assignment = make.assignment(
        course.cohort, opens_at=DUE - timedelta(days=30), due_at=DUE, cutoff_at=DUE
    )
    with clock.frozen_at(DUE - timedelta(days=7)):  # the Friday before
        body = api(course.learner).get(f"assignments/{assignment.id}").get_json()
        staff = api(course.tutor).get(f"assignments/{assignment.id}").get_json()

    assert body["deadline"] == {
        "due_at": "2027-06-04T12:00:00+00:00",
        "cutoff_at": "2027-06-04T12:00:00+00:00",
        "extended": False,
        "working_days_left": 4,  # Monday 31 May 2027 is the spring bank holiday
    }
    assert body["submission"] is None
    assert "deadline" not in staff and "submission" not in staff


def test_assignments_outside_the_callers_scope_are_not_found(course, make, api):
    assignment = make.assignment(make.cohort())

    for caller in (course.learner, course.tutor, make.user("sponsor", scope=make.organisation())):
        assert api(caller).get(f"assignments/{assignment.id}").status_code == 404
    assert course.as_learner.get(f"assignments/{2**40}").status_code == 404
    assert api().get(f"assignments/{assignment.id}").status_code == 401


# --- extensions --------------------------------------------------------------------------------


@pytest.fixture
def eve():
    """The day before DUE, for the whole test (tokens are issued in it, so they are valid)."""
    yield


@pytest.fixture
def due_friday(course, make):
    return make.assignment(
        course.cohort,
        opens_at=DUE - timedelta(days=30),
        due_at=DUE,
        cutoff_at=DUE + timedelta(days=2),
    )


def ask(client, assignment, days: int, reason="Night shifts all week"):
    return client.post(
        "extensions",
        json={
            "assignment_id": assignment.id,
            "reason": reason,
            "requested_due_at": (assignment.due_at + timedelta(days=days)).isoformat(),
        },
    )


def test_a_short_request_is_self_certified_and_moves_that_learners_deadline(
    eve, course, due_friday, api
):
    response = ask(course.as_learner, due_friday, 7)  # 5 working days
    deadline = course.as_learner.get(f"assignments/{due_friday.id}").get_json()["deadline"]

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "approved" and body["self_certified"] is True
    assert body["granted_due_at"] == "2027-06-11T12:00:00+00:00"
    assert body["granted_cutoff_at"] == "2027-06-13T12:00:00+00:00"
    assert body["user_id"] == course.learner.id
    assert deadline["extended"] is True and deadline["due_at"] == body["granted_due_at"]


def test_a_long_request_waits_for_the_tutor_who_decides_it(eve, course, due_friday, api):
    asked = ask(course.as_learner, due_friday, 21).get_json()
    duplicate = ask(course.as_learner, due_friday, 28)
    by_learner = course.as_learner.post(
        f"extensions/{asked['id']}/decision", json={"approved": True, "comment": ""}
    )
    decline_silently = api(course.tutor).post(
        f"extensions/{asked['id']}/decision", json={"approved": False}
    )
    approved = api(course.tutor).post(
        f"extensions/{asked['id']}/decision",
        json={
            "approved": True,
            "due_at": (DUE + timedelta(days=14)).isoformat(),
            "comment": "Two weeks, with the occupational health letter",
            "version": asked["version"],
        },
    )
    again = api(course.admin).post(
        f"extensions/{asked['id']}/decision", json={"approved": False, "comment": "No"}
    )
    deadline = course.as_learner.get(f"assignments/{due_friday.id}").get_json()["deadline"]

    assert asked["status"] == "pending"
    assert duplicate.status_code == 409
    assert by_learner.status_code == 403
    assert decline_silently.status_code == 422
    assert "comment" in decline_silently.get_json()["errors"]
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["comment"].startswith("Two weeks")
    assert again.status_code == 409
    assert deadline["due_at"] == "2027-06-18T12:00:00+00:00"


def test_a_stale_decision_is_refused_with_the_current_state(eve, course, due_friday, api):
    asked = ask(course.as_learner, due_friday, 21).get_json()
    db.session.get(Extension, asked["id"]).reason = "Edited meanwhile"
    db.session.commit()
    stale = api(course.tutor).post(
        f"extensions/{asked['id']}/decision",
        json={"approved": False, "comment": "No", "version": asked["version"]},
    )

    assert stale.status_code == 409
    assert stale.get_json()["current"]["status"] == "pending"
    assert db.session.get(Extension, asked["id"]).status == "pending"


def test_extension_requests_must_be_timely_and_well_formed(eve, course, due_friday, make, api):
    too_early = ask(course.as_learner, due_friday, -1)
    naive = course.as_learner.post(
        "extensions",
        json={
            "assignment_id": due_friday.id,
            "reason": "x",
            "requested_due_at": "2027-06-20T12:00:00",
        },
    )
    blank = ask(course.as_learner, due_friday, 3, reason=" ")
    hidden = ask(course.as_learner, make.assignment(make.cohort()), 3)
    by_tutor = ask(api(course.tutor), due_friday, 3)
    with clock.frozen_at(DUE + timedelta(days=3)):  # past the cut-off
        too_late = ask(api(course.learner), due_friday, 7)

    assert too_early.status_code == 422 and "requested_due_at" in too_early.get_json()["errors"]
    assert naive.status_code == 422 and "requested_due_at" in naive.get_json()["errors"]
    assert blank.status_code == 422 and "reason" in blank.get_json()["errors"]
    assert hidden.status_code == 404 and "assignment_id" in hidden.get_json()["errors"]
    assert by_tutor.status_code == 403
    assert too_late.status_code == 409
    assert count(Extension) == 0


def test_extension_lists_are_scoped_and_anonymous_to_staff(eve, course, due_friday, make, api):
    other = make.learner_in(course.cohort)
    due_friday.anonymous = True
    db.session.commit()
    ask(course.as_learner, due_friday, 21)
    ask(api(other), due_friday, 3)
    mine = course.as_learner.get("extensions")
    staff = api(course.tutor).get(f"extensions?assignment_id={due_friday.id}&status=pending")
    outsider = api(make.user("tutor", scope=make.cohort())).get("extensions")

    assert [e["user_id"] for e in mine.get_json()] == [course.learner.id]
    assert staff.headers["X-Total-Count"] == "1"
    (pending,) = staff.get_json()
    assert pending["candidate_number"] == services.candidate_number(
        due_friday.id, course.learner.id
    )
    raw = staff.get_data(as_text=True)
    assert "user_id" not in raw and course.learner.name not in raw
    assert course.learner.email not in raw
    assert outsider.get_json() == []
    single = api(course.tutor).get(f"extensions/{pending['id']}")
    assert single.status_code == 200 and "user" not in single.get_json()
    assert api(course.tutor).get("extensions?status=lost").status_code == 422


def test_sponsors_never_see_assessment(eve, course, due_friday, api, make):
    employer = db.session.get(Organisation, course.learner.organisation_id)
    sponsor = make.user("sponsor", scope=employer)
    extension = ask(course.as_learner, due_friday, 3).get_json()
    client = api(sponsor)
    assert client.get(f"assignments/{due_friday.id}").status_code == 404
    assert client.get(f"extensions/{extension['id']}").status_code == 404
    assert client.get("extensions").get_json() == []


def test_the_openapi_document_describes_uploads_and_downloads(api):
    spec = api().get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]

    upload = paths["/api/v1/assignments/{assignment_id}/submission/files"]["post"]
    schema_ref = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    upload_schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert upload_schema["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": upload_schema["properties"]["file"]["description"],
    }
    assert {"201", "409", "413", "415", "422"} <= set(upload["responses"])
    download = paths["/api/v1/submissions/{submission_id}/files/{file_id}"]["get"]
    assert "application/octet-stream" in download["responses"]["200"]["content"]
    for path in ("/api/v1/assignments", "/api/v1/extensions"):
        assert {"X-Total-Count", "Link"} <= set(paths[path]["get"]["responses"]["200"]["headers"])
