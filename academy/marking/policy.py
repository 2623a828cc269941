"""Who may mark, moderate, release and see marks; and how learners are named to markers."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from academy.assessment.models import Assignment, Submission
from academy.assessment.policy import teaches_assignment
from academy.assessment.services import candidate_number
from academy.auth.models import User
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core.policy import (
    examined_programme_ids,
    is_admin,
    sponsored_organisation_ids,
    tutored_cohort_ids,
)
from academy.extensions import db
from academy.marking.models import Mark, ModuleResult


def can_mark(user, assignment: Assignment) -> bool:
    """Admins and the cohort's tutors mark, second mark and release."""
    return teaches_assignment(user, assignment)


def can_ratify(user) -> bool:
    """The exam board is run by the academy: only admins ratify marks."""
    return is_admin(user)


def can_examine(user, assignment: Assignment) -> bool:
    """Examiners of the programme read marks and feedback, never change them."""
    return assignment.delivery.cohort.programme_id in examined_programme_ids(user)


def markable_submissions(user) -> sa.Select:
    """Submitted work in the cohorts the user marks: the marking queue starts here."""
    stmt = sa.select(Submission).join(Submission.assignment).where(Submission.status == "submitted")
    if is_admin(user):
        return stmt
    cohorts = tutored_cohort_ids(user) or {-1}
    return stmt.where(
        Assignment.delivery_id.in_(
            sa.select(ModuleDelivery.id).where(ModuleDelivery.cohort_id.in_(cohorts))
        )
    )


def identities_hidden(assignment: Assignment, mark: Mark | None = None) -> bool:
    """While an anonymous assignment's marks are unreleased, markers see candidate numbers."""
    return assignment.anonymous and not (mark is not None and mark.status == "released")


def learner_label(submission: Submission, mark: Mark | None = None) -> str:
    """How staff see who wrote `submission`: a candidate number while anonymity holds."""
    if identities_hidden(submission.assignment, mark):
        return candidate_number(submission.assignment_id, submission.user_id)
    return submission.user.name


def learner_sees_mark(user, mark: Mark | None) -> bool:
    """Learners see nothing of a mark (value, feedback, or a status hinting at it) until release."""
    return mark is not None and mark.status == "released" and mark.submission.user_id == user.id


def marks_work(user) -> bool:
    """Admins and tutors of any cohort: they have a marking queue."""
    return is_admin(user) or bool(tutored_cohort_ids(user))


def can_view_gradebook(user, cohort) -> bool:
    """The cohort's tutors and admins; examiners of its programme, read only."""
    return (
        is_admin(user)
        or cohort.id in tutored_cohort_ids(user)
        or cohort.programme_id in examined_programme_ids(user)
    )


def examines(user) -> bool:
    return bool(examined_programme_ids(user))


def can_view_sample(user, programme) -> bool:
    """Admins and the programme's examiners read its moderated sample."""
    return is_admin(user) or programme.id in examined_programme_ids(user)


def sees_first_mark(user, mark: Mark) -> bool:
    """Blind second marking: until the second mark is in, only the first marker reads the first
    mark (its value, rubric scores, feedback and penalty)."""
    blind_and_waiting = (
        mark.needs_second_marking
        and mark.status == "marked"
        and not mark.submission.assignment.open_second_marking
    )
    return not blind_and_waiting or mark.marker_id == user.id


def can_agree(user, mark: Mark) -> bool:
    """A mark flagged by second marking is settled by one of its two markers, or an admin."""
    return is_admin(user) or user.id in (mark.marker_id, mark.second_marker_id)


def visible_results(user) -> sa.Select:
    """Admins: all. Tutors: their cohorts'. Examiners: their programmes' cohorts'. Sponsors: the
    learners their organisations sponsor in that cohort. Learners: their own."""
    stmt = sa.select(ModuleResult).order_by(ModuleResult.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    reach = [ModuleResult.user_id == user.id]
    if tutored := tutored_cohort_ids(user):
        reach.append(ModuleResult.cohort_id.in_(tutored))
    if examined := examined_programme_ids(user):
        reach.append(
            ModuleResult.cohort_id.in_(
                sa.select(Cohort.id).where(Cohort.programme_id.in_(examined))
            )
        )
    if sponsored := sponsored_organisation_ids(user):
        reach.append(
            sa.exists().where(
                Enrolment.user_id == ModuleResult.user_id,
                Enrolment.cohort_id == ModuleResult.cohort_id,
                Enrolment.sponsor_organisation_id.in_(sponsored),
            )
        )
    return stmt.where(sa.or_(*reach))


def result_mark_reader(user) -> Callable[[ModuleResult], bool]:
    """Who may read a result's `mark`: admins, the learner, the cohort's tutors and the
    programme's examiners; and sponsors, for the learners they sponsor who have chosen to share
    their marks (`User.shares_marks_with_sponsor`). Worked out once per request, so a list needs
    no query per row."""
    if is_admin(user):
        return lambda result: True
    tutored = tutored_cohort_ids(user)
    examined = examined_programme_ids(user)
    examined_cohorts = (
        set(db.session.scalars(sa.select(Cohort.id).where(Cohort.programme_id.in_(examined))))
        if examined
        else set()
    )
    readable = tutored | examined_cohorts
    shared: set[tuple[int, int]] = set()
    if sponsored := sponsored_organisation_ids(user):
        shared = {
            (user_id, cohort_id)
            for user_id, cohort_id in db.session.execute(
                sa.select(Enrolment.user_id, Enrolment.cohort_id)
                .join(User, User.id == Enrolment.user_id)
                .where(
                    Enrolment.sponsor_organisation_id.in_(sponsored),
                    User.shares_marks_with_sponsor.is_(True),
                )
            )
        }
    return lambda result: (
        result.user_id == user.id
        or result.cohort_id in readable
        or (result.user_id, result.cohort_id) in shared
    )
