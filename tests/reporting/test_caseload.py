"""The tutor's caseload: their cohorts, active learners, marking outstanding and overdue (by
working days on the cohort's calendar), theirs alone; admins see every tutor's."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from academy.core import clock
from academy.extensions import db
from academy.marking.models import Mark
from academy.reporting.academy_reports import caseloads, current_tutor_cohorts
from tests.queries import counted_queries


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _submitted(make, assignment, learner, moment, mark=None):
    with clock.frozen_at(moment):
        submission = make.submission(assignment, learner)
    if mark is not None:
        db.session.add(
            Mark(
                submission_id=submission.id,
                status=mark,
                released_at=moment if mark == "released" else None,
            )
        )
        db.session.commit()
    return submission


@pytest.fixture
def teaching(make):
    with clock.frozen_at(at(2027, 2, 1, 9)):
        taught = make.cohort(name="Taught cohort", feedback_working_days=5)
        other = make.cohort(name="Someone else's cohort")
        essay = make.assignment(taught, title="Essay on EPR go-lives", due_at=at(2027, 3, 1, 12))
        other_essay = make.assignment(other, title="Other essay", due_at=at(2027, 3, 1, 12))
    tutor = make.user("tutor", scope=taught, name="Dr Tess Tutor")
    other_tutor = make.user("tutor", scope=other, name="Dr Otto Other")
    learners = [make.learner_in(taught) for _ in range(4)]
    make.enrolment(make.user("learner"), taught, status="withdrawn")
    monday = at(2027, 3, 1, 10)
    _submitted(make, essay, learners[0], monday)  # unmarked: due Monday 8 March
    _submitted(make, essay, learners[1], monday, mark="marked")  # marked, not released
    _submitted(make, essay, learners[2], monday, mark="released")  # done
    # Wednesday 24 March: Good Friday and Easter Monday are bank holidays in England, so
    # feedback is due Friday 2 April, not Wednesday 31 March.
    _submitted(make, essay, learners[3], at(2027, 3, 24, 10))
    _submitted(make, other_essay, make.learner_in(other), monday)
    return {"tutor": tutor, "other_tutor": other_tutor, "taught": taught, "other": other}


def _summary(caseload):
    return [
        (load.cohort.name, load.learners, load.outstanding, load.overdue)
        for load in caseload.cohorts
    ]


def test_outstanding_and_overdue_count_working_days(teaching):
    def caseload_at(moment):
        with clock.frozen_at(moment):
            pairs = current_tutor_cohorts(clock.today())
            [caseload] = caseloads([p for p in pairs if p[0] == teaching["tutor"]])
        return caseload

    on_first_april = caseload_at(at(2027, 4, 1, 12))
    after_easter = caseload_at(at(2027, 4, 5, 9))
    before_any = caseload_at(at(2027, 3, 8, 18))

    assert _summary(on_first_april) == [("Taught cohort", 4, 3, 2)]
    assert _summary(after_easter) == [("Taught cohort", 4, 3, 3)]
    assert _summary(before_any) == [("Taught cohort", 4, 3, 0)]
    [essay] = on_first_april.assignments
    assert (essay.title, essay.outstanding, essay.overdue) == ("Essay on EPR go-lives", 3, 2)
    assert essay.next_due == date(2027, 3, 8)


def test_a_tutor_sees_only_their_own_caseload(teaching, login_as):
    # Signed in at the frozen time: a tutor's session would have expired after months idle.
    with clock.frozen_at(at(2027, 4, 1, 12)):
        client = login_as(teaching["tutor"])
        page = client.get("/teaching/caseload").get_data(as_text=True)
        nudged = client.get(f"/teaching/caseload?tutor={teaching['other_tutor'].id}")

    assert "Your caseload" in page
    assert "Taught cohort" in page and "Essay on EPR go-lives" in page
    assert "Someone else" not in page and "Dr Otto Other" not in page
    assert 'name="tutor"' not in page
    assert f"/marking/cohorts/{teaching['taught'].id}/gradebook" in page
    assert 'href="/marking#to-mark"' in page
    assert "2 overdue" in page
    # Asking for another tutor changes nothing: a tutor's caseload is their own.
    assert "Dr Otto Other" not in nudged.get_data(as_text=True)


def test_admins_see_every_tutor_and_can_pick_one(teaching, login_as, make):
    admin = make.user("admin")

    with clock.frozen_at(at(2027, 4, 1, 12)):
        client = login_as(admin)
        everyone = client.get("/teaching/caseload").get_data(as_text=True)
        one = client.get(f"/teaching/caseload?tutor={teaching['other_tutor'].id}")
        unknown = client.get("/teaching/caseload?tutor=999999")

    assert "Dr Tess Tutor" in everyone and "Dr Otto Other" in everyone
    assert "Taught cohort" in everyone and "Someone else&#39;s cohort" in everyone
    body = one.get_data(as_text=True)
    caseload_part = body.split("Show caseload")[1]
    assert "Someone else&#39;s cohort" in caseload_part and "Taught cohort" not in caseload_part
    assert unknown.status_code == 404


def test_an_ended_tutor_role_leaves_the_caseload(teaching, login_as, make):
    make.role(
        teaching["other_tutor"],
        "tutor",
        scope=teaching["taught"],
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )
    admin = make.user("admin")

    with clock.frozen_at(at(2027, 4, 1, 12)):
        client = login_as(admin)
        page = client.get(f"/teaching/caseload?tutor={teaching['other_tutor'].id}")

    assert "Taught cohort" not in page.get_data(as_text=True).split("Show caseload")[1]


@pytest.mark.parametrize("role", ["learner", "sponsor", "examiner"])
def test_people_without_a_caseload_are_refused(make, login_as, role):
    cohort = make.cohort()
    scope = {"sponsor": make.organisation(), "examiner": cohort.programme}
    client = login_as(make.user(role, scope=scope.get(role)))

    assert client.get("/teaching/caseload").status_code == 403
    assert "/teaching/caseload" not in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_tutors_and_admins_get_the_nav_item(teaching, login_as, make):
    for user in (teaching["tutor"], make.user("admin")):
        home = login_as(user).get("/", follow_redirects=True).get_data(as_text=True)
        assert re.search(r'href="/teaching/caseload"[^>]*>\s*Caseload', home), home[-3000:]


def test_the_caseload_page_reads_a_fixed_number_of_queries(teaching, login_as, make):
    def grow(size):
        cohort = make.cohort()
        make.role(teaching["tutor"], "tutor", scope=cohort)
        assignment = make.assignment(cohort)
        for _ in range(size):
            _submitted(make, assignment, make.learner_in(cohort), clock.now())

    admin = make.user("admin")
    client = login_as(admin)
    db.session.expire_all()  # as after the commits below, so both requests load the same
    with counted_queries() as small:
        assert client.get("/teaching/caseload").status_code == 200
    grow(5)
    grow(3)
    make.user("tutor", scope=make.cohort())
    db.session.expire_all()
    with counted_queries() as large:
        assert client.get("/teaching/caseload").status_code == 200

    assert len(large) == len(small)
