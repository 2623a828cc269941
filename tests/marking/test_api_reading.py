"""/api/v1 reading marks: nothing reaches a learner before release, no learner identity reaches
a marker while an assignment is anonymous, and results are scoped by role (sponsors never get
marks)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.assessment.services import candidate_number
from academy.auth.services import set_marks_consent
from academy.extensions import db
from academy.organisations.models import Organisation


@pytest.fixture
def course(make, api):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Dr Ada Quill", email="ada.quill@nhs.test")
    tutor = make.user("tutor", scope=cohort)
    return SimpleNamespace(
        cohort=cohort,
        module=cohort.deliveries[0].module,
        learner=learner,
        tutor=tutor,
        as_tutor=api(tutor),
        as_learner=api(learner),
    )


def put_mark(client, submission, **body):
    body.setdefault("version", 0)
    response = client.put(f"submissions/{submission.id}/mark", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def release(client, assignment):
    response = client.post(f"assignments/{assignment.id}/release", json={})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["released"]


# --- learners see nothing before release -------------------------------------------------------


@pytest.mark.parametrize("complete", [False, True])
def test_a_learner_sees_no_mark_feedback_or_status_before_release(course, make, complete):
    assignment = make.assignment(course.cohort)
    submission = make.submission(assignment, course.learner, late_working_days=1)
    put_mark(
        course.as_tutor,
        submission,
        mark=67,
        feedback="Insightful on clinical safety",
        complete=complete,
    )

    response = course.as_learner.get(f"submissions/{submission.id}")
    raw = response.get_data(as_text=True)
    body = json.loads(raw)

    assert response.status_code == 200
    assert "mark" not in body
    assert body["status"] == "submitted"
    for hint in ("Insightful", "mark", "feedback", "penalty", "draft", "released"):
        assert hint not in raw, hint
    marks = course.as_learner.get("me/marks")
    assert marks.get_json() == [] and marks.headers["X-Total-Count"] == "0"
    assert course.as_learner.get("results").get_json() == []
    mine = course.as_learner.get(f"assignments/{assignment.id}").get_data(as_text=True)
    assert "Insightful" not in mine and "marked" not in mine


def test_after_release_the_learner_reads_mark_penalty_and_feedback(course, make):
    rubric = {"criteria": [
        {"title": "Analysis", "levels": [{"title": "Weak", "marks": 20},
                                         {"title": "Strong", "marks": 60}]},
        {"title": "Writing", "levels": [{"title": "Weak", "marks": 10},
                                        {"title": "Strong", "marks": 40}]},
    ]}  # fmt: skip
    assignment = make.assignment(course.cohort, rubric=rubric)
    submission = make.submission(assignment, course.learner, late_working_days=1)
    put_mark(
        course.as_tutor,
        submission,
        rubric_scores={"0": 1, "1": 0},
        feedback="Insightful on clinical safety",
    )
    assert release(course.as_tutor, assignment) == 1

    (item,) = course.as_learner.get("me/marks").get_json()
    assert {k: item[k] for k in ("assignment_id", "module_id", "raw_mark", "penalty", "mark")} == {
        "assignment_id": assignment.id,
        "module_id": course.module.id,
        "raw_mark": 70,
        "penalty": 5,  # one working day at 5% of 100
        "mark": 65,
    }
    assert item["feedback"] == "Insightful on clinical safety"
    assert item["rubric_scores"] == {"0": 1, "1": 0}
    assert item["late_working_days"] == 1 and item["penalty_waived"] is False
    assert item["released_at"]

    own = course.as_learner.get(f"submissions/{submission.id}").get_json()
    assert own["mark"]["status"] == "released"
    assert (own["mark"]["mark"], own["mark"]["penalty"], own["mark"]["final_mark"]) == (70, 5, 65)
    for staff_only in ("marker_id", "second_mark", "agreed_comment", "penalty_waiver"):
        assert staff_only not in own["mark"]


def test_other_learners_never_see_someone_elses_marks(course, make, api):
    assignment = make.assignment(course.cohort)
    submission = make.submission(assignment, course.learner)
    put_mark(course.as_tutor, submission, mark=70)
    release(course.as_tutor, assignment)
    classmate = api(make.learner_in(course.cohort))

    assert classmate.get("me/marks").get_json() == []
    assert classmate.get(f"submissions/{submission.id}").status_code == 404
    assert classmate.get("results").get_json() == []


# --- anonymity for markers ---------------------------------------------------------------------


def assert_nobody_named(raw: str, *learners) -> None:
    assert '"user_id"' not in raw and '"user"' not in raw
    for learner in learners:
        assert learner.name not in raw and learner.email not in raw


def test_no_learner_identity_reaches_markers_while_anonymous_and_unreleased(course, make, api):
    bee = make.learner_in(course.cohort, name="Mr Bertram Bee", email="b.bee@nhs.test")
    learners = (course.learner, bee)
    second = api(make.user("tutor", scope=course.cohort))
    admin = api(make.user("admin"))
    anonymous = make.assignment(
        course.cohort, anonymous=True, second_marking="all", open_second_marking=True
    )
    mine, theirs = (make.submission(anonymous, learner) for learner in learners)

    saved = course.as_tutor.put(f"submissions/{mine.id}/mark", json={"mark": 60, "version": 0})
    other = course.as_tutor.put(f"submissions/{theirs.id}/mark", json={"mark": 30, "version": 0})
    stale = course.as_tutor.put(f"submissions/{mine.id}/mark", json={"mark": 61, "version": 0})
    version = saved.get_json()["version"]
    refused = course.as_tutor.put(
        f"submissions/{mine.id}/mark", json={"mark": 600, "version": version}
    )
    agreed = second.post(f"submissions/{mine.id}/moderation", json={"agreed": True})
    flagged = second.post(
        f"submissions/{theirs.id}/moderation",
        json={"agreed": False, "mark": 50, "comment": "Far too harsh"},
    )
    answers = [saved, other, stale, refused, agreed, flagged]
    for client in (course.as_tutor, second, admin):
        answers += [
            client.get(f"submissions/{mine.id}"),
            client.get(f"submissions/{theirs.id}"),
            client.get(f"assignments/{anonymous.id}/submissions"),
            client.get(f"assignments/{anonymous.id}"),
            client.get(f"extensions?assignment_id={anonymous.id}"),
        ]
    assert [a.status_code for a in answers[:6]] == [200, 200, 409, 422, 200, 200]
    for answer in answers:
        assert_nobody_named(answer.get_data(as_text=True), *learners)
    listed = course.as_tutor.get(f"assignments/{anonymous.id}/submissions").get_json()
    assert {s["candidate_number"] for s in listed} == {
        candidate_number(anonymous.id, learner.id) for learner in learners
    }
    assert {(s["mark"]["status"], s["mark"]["final_mark"]) for s in listed} == {
        ("agreed", 60),
        ("second_marked", 30),
    }

    # Release reveals who wrote the released script, and only that one.
    assert release(course.as_tutor, anonymous) == 1
    revealed = course.as_tutor.get(f"assignments/{anonymous.id}/submissions").get_json()
    named = {s.get("user", {}).get("name") for s in revealed}
    assert named == {course.learner.name, None}
    assert bee.name not in course.as_tutor.get(f"submissions/{theirs.id}").get_data(as_text=True)


def test_the_staff_list_carries_every_mark_in_a_fixed_number_of_queries(course, make):
    assignment = make.assignment(course.cohort)
    for n in range(12):
        submission = make.submission(assignment, make.learner_in(course.cohort))
        if n % 3:
            put_mark(course.as_tutor, submission, mark=50 + n)

    def queries_for(per_page: int) -> int:
        counted = []

        def count(*args):
            counted.append(1)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = course.as_tutor.get(
                f"assignments/{assignment.id}/submissions?per_page={per_page}"
            )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200 and len(response.get_json()) == per_page
        return len(counted)

    queries_for(1)  # the token's first-use bookkeeping is not part of the count
    assert queries_for(12) == queries_for(2)
    listed = course.as_tutor.get(f"assignments/{assignment.id}/submissions").get_json()
    assert [s["mark"]["status"] for s in listed] == [None, "marked", "marked"] * 4


# --- results -----------------------------------------------------------------------------------


@pytest.fixture
def resulted(course, make):
    """The learner's module result after one released essay worth the whole module."""
    assignment = make.assignment(course.cohort)
    put_mark(course.as_tutor, make.submission(assignment, course.learner), mark=64)
    release(course.as_tutor, assignment)
    return assignment


def test_results_are_scoped_and_sponsors_get_no_marks_without_consent(course, make, api, resulted):
    employer = db.session.get(Organisation, course.learner.organisation_id)
    full = {"mark": 64}
    expectations = [
        (course.learner, full),
        (course.tutor, full),
        (make.user("admin"), full),
        (make.user("examiner", scope=course.cohort.programme), full),
        (make.user("sponsor", scope=employer), None),  # pass/fail and credits only
    ]
    for caller, with_mark in expectations:
        response = api(caller).get("results")
        assert response.status_code == 200
        (result,) = response.get_json()
        assert {k: result[k] for k in ("user_id", "module_id", "cohort_id")} == {
            "user_id": course.learner.id,
            "module_id": course.module.id,
            "cohort_id": course.cohort.id,
        }
        assert (result["passed"], result["credits"], result["status"]) == (
            True,
            course.module.credits,
            "complete",
        )
        assert (result["attempt"], result["capped"]) == (1, False)
        if with_mark:
            assert result["mark"] == 64, caller
        else:
            assert "mark" not in result, caller

    for outsider in (
        make.user("sponsor", scope=make.organisation()),
        make.user("tutor", scope=make.cohort()),
        make.user("examiner", scope=make.programme()),
        make.learner_in(course.cohort),
    ):
        assert api(outsider).get("results").get_json() == [], outsider


def test_a_learners_consent_shows_their_marks_to_their_sponsor_at_once(course, make, api, resulted):
    employer = db.session.get(Organisation, course.learner.organisation_id)
    sponsor = api(make.user("sponsor", scope=employer))
    other_sponsor = api(make.user("sponsor", scope=make.organisation()))
    assert "mark" not in sponsor.get("results").get_json()[0]

    set_marks_consent(course.learner, True, actor=course.learner)
    db.session.commit()
    assert sponsor.get("results").get_json()[0]["mark"] == 64
    assert other_sponsor.get("results").get_json() == []

    set_marks_consent(course.learner, False, actor=course.learner)
    db.session.commit()
    assert "mark" not in sponsor.get("results").get_json()[0]


def test_a_sponsor_sees_only_the_learners_their_organisation_sponsors(course, make, api):
    employer = db.session.get(Organisation, course.learner.organisation_id)
    elsewhere = make.learner_in(course.cohort)  # sponsored by another trust, same cohort
    assignment = make.assignment(course.cohort)
    for learner in (course.learner, elsewhere):
        put_mark(course.as_tutor, make.submission(assignment, learner), mark=55)
    release(course.as_tutor, assignment)

    seen = api(make.user("sponsor", scope=employer)).get("results").get_json()

    assert [r["user_id"] for r in seen] == [course.learner.id]
    assert len(course.as_tutor.get("results").get_json()) == 2


def test_results_filter_by_cohort_and_learner_and_are_paginated(course, make, api, resulted):
    other_cohort = make.cohort(programme=course.cohort.programme)
    admin = api(make.user("admin"))
    elsewhere = make.learner_in(other_cohort)
    tutor = api(make.user("tutor", scope=other_cohort))
    assignment = make.assignment(other_cohort)
    put_mark(tutor, make.submission(assignment, elsewhere), mark=30)
    release(tutor, assignment)

    response = admin.get(f"results?cohort_id={course.cohort.id}&per_page=1")
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "1"
    assert 'rel="last"' in response.headers["Link"]
    (only,) = response.get_json()
    assert only["user_id"] == course.learner.id
    (failed,) = admin.get(f"results?user_id={elsewhere.id}").get_json()
    assert (failed["passed"], failed["credits"], failed["mark"]) == (False, 0, 30)
    assert admin.get("results?per_page=500").status_code == 422
    assert admin.get("results?cohort_id=abc").status_code == 422
    assert api().get("results").status_code == 401
