"""Who may mark, moderate, release and see marks; and how learners are named to markers."""

from __future__ import annotations

import sqlalchemy as sa

from academy.assessment.models import Assignment, Submission
from academy.assessment.policy import teaches_assignment
from academy.assessment.services import candidate_number
from academy.cohorts.models import ModuleDelivery
from academy.core.policy import examined_programme_ids, is_admin, tutored_cohort_ids
from academy.marking.models import Mark


def can_mark(user, assignment: Assignment) -> bool:
    """Admins and the cohort's tutors mark, second mark and release."""
    return teaches_assignment(user, assignment)


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
