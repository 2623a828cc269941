"""/api/v1 marking: saving marks, second marking and agreement, release; every refusal of the
issue's "Bad input" list answers a clear error and changes nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.marking import services
from academy.marking.models import MarkHistory
from academy.organisations.models import Organisation

RUBRIC = {
    "criteria": [
        {"title": "Analysis", "levels": [{"title": "Weak", "marks": 10},
                                         {"title": "Strong", "marks": 60}]},
        {"title": "Writing", "levels": [{"title": "Weak", "marks": 5},
                                        {"title": "Strong", "marks": 40}]},
    ]
}  # fmt: skip


@pytest.fixture
def course(make, api):
    cohort = make.cohort()
    learner = make.learner_in(cohort, name="Dr Ada Quill", email="ada.quill@nhs.test")
    tutor = make.user("tutor", scope=cohort)
    second = make.user("tutor", scope=cohort)
    assignment = make.assignment(cohort)
    return SimpleNamespace(
        cohort=cohort,
        learner=learner,
        tutor=tutor,
        second=second,
        assignment=assignment,
        submission=make.submission(assignment, learner),
        as_tutor=api(tutor),
        as_second=api(second),
        as_learner=api(learner),
    )


def put_mark(client, submission, **body):
    body.setdefault("version", 0)
    return client.put(f"submissions/{submission.id}/mark", json=body)


def moderate(client, submission, **body):
    return client.post(f"submissions/{submission.id}/moderation", json=body)


def release(client, assignment, body=None):
    return client.post(f"assignments/{assignment.id}/release", json=body)


def history_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MarkHistory))


# --- saving a mark -----------------------------------------------------------------------------


def test_a_tutor_saves_a_mark_with_feedback(course):
    response = put_mark(course.as_tutor, course.submission, mark=62, feedback="Clear analysis")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in ("mark", "penalty", "final_mark", "feedback", "status")} == {
        "mark": 62,
        "penalty": 0,
        "final_mark": 62,
        "feedback": "Clear analysis",
        "status": "marked",
    }
    assert body["needs_second_marking"] is False and body["rubric_scores"] is None
    assert body["version"] >= 1
    staff_view = course.as_tutor.get(f"submissions/{course.submission.id}").get_json()
    assert staff_view["mark"]["status"] == "marked"
    assert staff_view["mark"]["version"] == body["version"]


def test_a_draft_is_kept_until_complete_and_each_save_follows_the_last(course):
    draft = put_mark(course.as_tutor, course.submission, mark=55, feedback="So far", complete=False)
    assert draft.status_code == 200 and draft.get_json()["status"] == "draft"

    done = put_mark(
        course.as_tutor, course.submission, mark=58.5, version=draft.get_json()["version"]
    )

    assert done.status_code == 200
    assert (done.get_json()["status"], done.get_json()["mark"]) == ("marked", 58.5)
    assert done.get_json()["feedback"] == "So far"  # left out: kept
    assert history_count() == 2


def test_an_admin_marks_any_cohort(course, make, api):
    response = put_mark(api(make.user("admin")), course.submission, mark=70)

    assert response.status_code == 200


def test_late_work_shows_raw_mark_penalty_and_final_mark_unless_waived(course, make):
    late = make.submission(
        make.assignment(course.cohort), make.learner_in(course.cohort), late_working_days=2
    )

    body = put_mark(course.as_tutor, late, mark=68).get_json()
    assert (body["mark"], body["penalty"], body["final_mark"]) == (68, 10, 58)

    waived = put_mark(
        course.as_tutor,
        late,
        mark=68,
        version=body["version"],
        penalty_waiver="Extension agreed by phone",
    ).get_json()
    assert (waived["penalty"], waived["final_mark"]) == (0, 68)
    assert waived["penalty_waiver"] == "Extension agreed by phone"


def test_rubric_scores_give_the_mark(course, make):
    submission = make.submission(make.assignment(course.cohort, rubric=RUBRIC), course.learner)

    response = put_mark(course.as_tutor, submission, rubric_scores={"0": 1, "1": 0})

    assert response.status_code == 200
    assert response.get_json()["mark"] == 65
    assert response.get_json()["rubric_scores"] == {"0": 1, "1": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rubric_scores": {"0": 1, "7": 0}}, "rubric_scores"),  # no criterion 7
        ({"rubric_scores": {"0": 1, "1": 4}}, "rubric_scores"),  # no level 4
        ({"rubric_scores": {"0": 1}}, "rubric_scores"),  # a criterion left out
        ({"rubric_scores": {"0": "top", "1": 0}}, "rubric_scores"),
        ({"rubric_scores": {"0": 1, "1": 0}, "mark": 90}, "mark"),  # they add up to 65
    ],
)
def test_rubric_scores_that_do_not_fit_the_rubric_are_refused(course, make, body, field):
    submission = make.submission(make.assignment(course.cohort, rubric=RUBRIC), course.learner)

    response = put_mark(course.as_tutor, submission, **body)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert services.mark_for(submission) is None


def test_rubric_scores_for_an_assignment_without_a_rubric_are_refused(course):
    response = put_mark(course.as_tutor, course.submission, rubric_scores={"0": 1})

    assert response.status_code == 422
    assert "rubric_scores" in response.get_json()["errors"]


@pytest.mark.parametrize("bad", [-1, 100.01, 101, 1e308, "55", True, 55.555, None])
def test_a_mark_out_of_range_or_not_a_number_is_refused(course, bad):
    response = put_mark(course.as_tutor, course.submission, mark=bad, feedback="x")

    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == 422 and list(body["errors"]) == ["mark"]
    assert services.mark_for(course.submission) is None
    assert history_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"mark": 50},  # no version
        {"mark": 50, "version": "0"},
        {"mark": 50, "version": -1},
        {"mark": 50, "version": 0, "grade": "A"},  # unknown field
        {"mark": 50, "version": 0, "complete": "yes"},
        {"mark": 50, "version": 0, "feedback": "nul \x00"},
    ],
)
def test_malformed_bodies_are_refused(course, body):
    response = course.as_tutor.put(f"submissions/{course.submission.id}/mark", json=body)

    assert response.status_code == 422, response.get_json()
    assert services.mark_for(course.submission) is None


def test_a_stale_version_is_refused_with_the_current_mark(course):
    first = put_mark(course.as_tutor, course.submission, mark=60, feedback="First view")
    assert first.status_code == 200

    response = put_mark(course.as_second, course.submission, mark=40, feedback="Mine", version=0)

    assert response.status_code == 409
    body = response.get_json()
    assert "version" in body["errors"]
    assert body["current"]["mark"] == 60 and body["current"]["feedback"] == "First view"
    assert body["current"]["version"] == first.get_json()["version"]
    mark = services.mark_for(course.submission)
    assert (mark.raw_mark, mark.feedback, len(mark.history)) == (60, "First view", 1)


def test_unsubmitted_work_cannot_be_marked(course, make):
    draft = make.submission(course.assignment, make.learner_in(course.cohort), status="draft")

    response = put_mark(course.as_tutor, draft, mark=50)

    assert response.status_code == 409
    assert services.mark_for(draft) is None


def test_only_the_cohorts_tutors_and_admins_mark(course, make, api):
    employer = db.session.get(Organisation, course.learner.organisation_id)
    outsiders = {
        404: [
            make.user("tutor", scope=make.cohort()),  # another cohort's tutor
            make.learner_in(course.cohort),  # another learner
            make.user("sponsor", scope=employer),
        ],
        403: [
            course.learner,  # their own work
            make.user("examiner", scope=course.cohort.programme),  # reads, never marks
        ],
    }
    for status, callers in outsiders.items():
        for caller in callers:
            response = put_mark(api(caller), course.submission, mark=50)
            assert response.status_code == status, (caller, response.get_json())
    assert put_mark(api(), course.submission, mark=50).status_code == 401
    assert course.as_tutor.put("submissions/999999/mark", json={"version": 0}).status_code == 404
    assert services.mark_for(course.submission) is None


def test_a_tutor_never_marks_their_own_work(course, make, api):
    tutor_learning = make.learner_in(course.cohort)
    make.role(tutor_learning, "tutor", scope=course.cohort)
    own = make.submission(course.assignment, tutor_learning)

    assert put_mark(api(tutor_learning), own, mark=80).status_code == 403


def test_a_released_mark_changes_only_with_a_reason(course):
    saved = put_mark(course.as_tutor, course.submission, mark=70, feedback="Good").get_json()
    assert release(course.as_tutor, course.assignment).get_json() == {"released": 1}
    version = course.as_tutor.get(f"submissions/{course.submission.id}").get_json()["mark"][
        "version"
    ]
    assert version > saved["version"]

    refused = put_mark(course.as_tutor, course.submission, mark=72, version=version)
    assert refused.status_code == 422 and "reason" in refused.get_json()["errors"]
    assert course.as_learner.get("me/marks").get_json()[0]["mark"] == 70

    changed = put_mark(
        course.as_tutor,
        course.submission,
        mark=72,
        version=version,
        reason="Page 3 was not added in",
    )
    assert changed.status_code == 200
    assert changed.get_json()["status"] == "released"
    assert course.as_learner.get("me/marks").get_json()[0]["mark"] == 72
    assert services.mark_for(course.submission).history[-1].reason == "Page 3 was not added in"


# --- second marking and agreement --------------------------------------------------------------


@pytest.fixture
def double_marked(course, make):
    """An assignment every script of which is second marked, openly, with a tolerance of 5."""
    assignment = make.assignment(course.cohort, second_marking="all", open_second_marking=True)
    submission = make.submission(assignment, course.learner)
    return SimpleNamespace(assignment=assignment, submission=submission)


def test_a_second_marker_agrees_and_the_mark_can_then_be_released(course, double_marked):
    first = put_mark(course.as_tutor, double_marked.submission, mark=60).get_json()
    assert first["needs_second_marking"] is True
    assert release(course.as_tutor, double_marked.assignment).get_json() == {"released": 0}

    response = moderate(course.as_second, double_marked.submission, agreed=True, comment="Fair")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["agreed_mark"], body["second_marker_id"]) == (
        "agreed",
        60,
        course.second.id,
    )
    assert release(course.as_tutor, double_marked.assignment).get_json() == {"released": 1}


def test_a_second_mark_within_the_tolerance_keeps_the_first(course, double_marked):
    put_mark(course.as_tutor, double_marked.submission, mark=60)

    body = moderate(
        course.as_second,
        double_marked.submission,
        agreed=False,
        mark=63,
        comment="Slightly generous",
    ).get_json()

    assert (body["status"], body["second_mark"], body["agreed_mark"]) == ("agreed", 63, 60)
    assert body["needs_agreement"] is False


def test_a_disagreement_beyond_the_tolerance_is_flagged_until_the_markers_agree(
    course, double_marked, make, api
):
    put_mark(course.as_tutor, double_marked.submission, mark=48)
    flagged = moderate(
        course.as_second,
        double_marked.submission,
        agreed=False,
        mark=62,
        comment="Undervalues the analysis",
    ).get_json()
    assert (flagged["status"], flagged["needs_agreement"]) == ("second_marked", True)
    assert release(course.as_tutor, double_marked.assignment).get_json() == {"released": 0}

    # The agreed mark needs the mark and a comment, and one of the markers (or an admin).
    no_mark = moderate(course.as_tutor, double_marked.submission, agreed=True, comment="Met")
    assert no_mark.status_code == 422 and "mark" in no_mark.get_json()["errors"]
    no_comment = moderate(course.as_tutor, double_marked.submission, agreed=True, mark=56)
    assert no_comment.status_code == 422 and "comment" in no_comment.get_json()["errors"]
    bystander = api(make.user("tutor", scope=course.cohort))
    assert (
        moderate(
            bystander, double_marked.submission, agreed=True, mark=56, comment="Met"
        ).status_code
        == 403
    )

    agreed = moderate(
        course.as_tutor, double_marked.submission, agreed=True, mark=56, comment="Met and agreed 56"
    )

    assert agreed.status_code == 200
    body = agreed.get_json()
    assert (body["status"], body["agreed_mark"], body["final_mark"], body["mark"]) == (
        "agreed",
        56,
        56,
        48,
    )
    assert body["agreed_comment"] == "Met and agreed 56"
    assert release(course.as_tutor, double_marked.assignment).get_json() == {"released": 1}
    assert course.as_learner.get("me/marks").get_json()[0]["mark"] == 56


def test_moderation_refusals(course, double_marked, make):
    # Nothing to second mark yet.
    assert moderate(course.as_second, double_marked.submission, agreed=True).status_code == 409
    draft = put_mark(course.as_tutor, double_marked.submission, mark=50, complete=False)
    assert moderate(course.as_second, double_marked.submission, agreed=True).status_code == 409

    put_mark(
        course.as_tutor, double_marked.submission, mark=50, version=draft.get_json()["version"]
    )
    # The first marker cannot second mark their own mark.
    own = moderate(course.as_tutor, double_marked.submission, agreed=True)
    assert own.status_code == 422
    # A second mark of your own needs the mark and a comment; agreeing takes no mark.
    for body, field in (
        ({"agreed": False, "comment": "Lower"}, "mark"),
        ({"agreed": False, "mark": 40}, "comment"),
        ({"agreed": False, "mark": 140, "comment": "Lower"}, "mark"),
        ({"agreed": True, "mark": 40}, "mark"),
    ):
        response = moderate(course.as_second, double_marked.submission, **body)
        assert response.status_code == 422 and field in response.get_json()["errors"], body
    assert moderate(course.as_second, double_marked.submission, comment="x").status_code == 422
    assert services.mark_for(double_marked.submission).status == "marked"


def test_a_stale_moderation_is_refused_with_the_current_mark(course, double_marked):
    saved = put_mark(course.as_tutor, double_marked.submission, mark=50).get_json()

    response = moderate(
        course.as_second, double_marked.submission, agreed=True, version=saved["version"] - 1
    )

    assert response.status_code == 409
    assert response.get_json()["current"]["version"] == saved["version"]
    assert services.mark_for(double_marked.submission).status == "marked"


def test_blind_second_marking_hides_the_first_mark_until_the_second_is_in(
    course, double_marked, make
):
    blind = make.assignment(course.cohort, second_marking="all", open_second_marking=False)
    submission = make.submission(blind, course.learner)
    put_mark(course.as_tutor, submission, mark=64, feedback="Strong structure")

    seen_by_second = course.as_second.get(f"submissions/{submission.id}").get_data(as_text=True)
    mark = course.as_second.get(f"submissions/{submission.id}").get_json()["mark"]
    assert (mark["mark"], mark["feedback"], mark["final_mark"]) == (None, None, None)
    assert mark["status"] == "marked" and mark["needs_second_marking"] is True
    assert "Strong structure" not in seen_by_second
    assert course.as_tutor.get(f"submissions/{submission.id}").get_json()["mark"]["mark"] == 64

    body = moderate(
        course.as_second, submission, agreed=False, mark=66, comment="Good work"
    ).get_json()
    assert (body["mark"], body["second_mark"], body["status"]) == (64, 66, "agreed")


# --- release -----------------------------------------------------------------------------------


def test_release_is_all_ready_marks_together_idempotent_and_emails_the_learners(
    course, make, outbox
):
    other = make.learner_in(course.cohort)
    put_mark(course.as_tutor, course.submission, mark=70, feedback="Well argued")
    waiting = make.submission(course.assignment, other)
    put_mark(course.as_tutor, waiting, mark=40, complete=False)

    response = release(course.as_tutor, course.assignment)

    assert response.status_code == 200 and response.get_json() == {"released": 1}
    # The pass also issues a credential, which has its own email.
    notices = [m for m in outbox if m["Subject"].startswith("Your mark is ready")]
    assert [m["To"] for m in notices] == [course.learner.email]
    assert course.assignment.title in notices[0]["Subject"]
    assert "Well argued" not in notices[0].get_body(("plain",)).get_content()
    assert services.mark_for(waiting).status == "draft"
    sent = len(outbox)

    again = release(course.as_tutor, course.assignment)
    assert again.status_code == 200 and again.get_json() == {"released": 0}
    assert len(outbox) == sent
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "assignment.release")
    ).all()
    assert len(events) == 2


def test_release_takes_an_empty_body_or_none(course):
    put_mark(course.as_tutor, course.submission, mark=70)
    bare = course.as_tutor.client.post(
        f"/api/v1/assignments/{course.assignment.id}/release",
        headers={"Authorization": f"Bearer {course.as_tutor.token}"},
    )

    assert bare.status_code == 200 and bare.get_json() == {"released": 1}
    assert release(course.as_tutor, course.assignment, {}).get_json() == {"released": 0}
    unknown = release(course.as_tutor, course.assignment, {"notify": False})
    assert unknown.status_code == 422


def test_only_the_cohorts_tutors_and_admins_release(course, make, api):
    put_mark(course.as_tutor, course.submission, mark=70)
    employer = db.session.get(Organisation, course.learner.organisation_id)

    for caller, status in (
        (course.learner, 403),  # sees the assignment, cannot release it
        (make.user("examiner", scope=course.cohort.programme), 403),
        (make.user("tutor", scope=make.cohort()), 404),
        (make.user("sponsor", scope=employer), 404),
    ):
        assert release(api(caller), course.assignment).status_code == status, caller
    assert release(api(), course.assignment).status_code == 401
    assert services.mark_for(course.submission).status == "marked"

    assert release(api(make.user("admin")), course.assignment).get_json() == {"released": 1}
