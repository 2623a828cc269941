"""Who may see and act on assignments, submissions and extensions.

Sponsors never see assignments or submissions: what they may know of a learner's work comes from
results, with the learner's consent, in a later step.
"""

from __future__ import annotations

import sqlalchemy as sa

from academy.assessment.models import Assignment, Extension, Submission
from academy.cohorts.models import HOLDS_A_PLACE, Cohort, Enrolment, ModuleDelivery
from academy.core.policy import examined_programme_ids, is_admin, tutored_cohort_ids
from academy.extensions import db


def _cohort_of_assignment():
    return (
        sa.select(ModuleDelivery.cohort_id)
        .where(ModuleDelivery.id == Assignment.delivery_id)
        .scalar_subquery()
    )


def _staff_cohort_ids(user) -> set[int] | sa.Select:
    """Cohorts whose assessment the user may see as staff: taught, or of examined programmes.
    Never empty (`{-1}` names no cohort), so it can go straight into `in_`: a Select has no truth
    value to test with `or`."""
    tutored = tutored_cohort_ids(user)
    examined = examined_programme_ids(user)
    if not examined:
        return tutored or {-1}
    return sa.union(
        sa.select(Cohort.id).where(Cohort.id.in_(tutored or {-1})),
        sa.select(Cohort.id).where(Cohort.programme_id.in_(examined)),
    )


def _enrolled_cohort_ids(user) -> sa.Select:
    return sa.select(Enrolment.cohort_id).where(
        Enrolment.user_id == user.id, Enrolment.status.in_(HOLDS_A_PLACE)
    )


def visible_assignments(user) -> sa.Select:
    """Admins: all. Tutors and examiners: their cohorts'. Learners: their cohorts'."""
    stmt = sa.select(Assignment).order_by(Assignment.due_at, Assignment.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    cohort = _cohort_of_assignment()
    return stmt.where(
        sa.or_(cohort.in_(_enrolled_cohort_ids(user)), cohort.in_(_staff_cohort_ids(user)))
    )


def own_assignments(user) -> sa.Select:
    """The assignments of the cohorts the user holds a place in as a learner ("My assignments"),
    whatever else they may see as staff."""
    return (
        sa.select(Assignment)
        .where(_cohort_of_assignment().in_(_enrolled_cohort_ids(user)))
        .order_by(Assignment.due_at, Assignment.id)
    )


def can_view_assignment(user, assignment: Assignment) -> bool:
    return _exists(visible_assignments(user).where(Assignment.id == assignment.id))


def teaches_assignment(user, assignment: Assignment) -> bool:
    """Admins, and tutors of the cohort the assignment belongs to: they set, mark and decide."""
    return is_admin(user) or assignment.delivery.cohort_id in tutored_cohort_ids(user)


def can_set_assignments_for(user, delivery: ModuleDelivery) -> bool:
    return is_admin(user) or delivery.cohort_id in tutored_cohort_ids(user)


def is_candidate(user, assignment: Assignment) -> bool:
    """An active learner of the assignment's cohort: the only people who may submit to it."""
    return _exists(
        sa.select(Enrolment.id).where(
            Enrolment.user_id == user.id,
            Enrolment.cohort_id == assignment.delivery.cohort_id,
            Enrolment.status == "active",
        )
    )


def visible_submissions(user) -> sa.Select:
    """Admins: all. Tutors and examiners: their cohorts'. Learners: their own. Sponsors: none."""
    stmt = sa.select(Submission).join(Submission.assignment).order_by(Submission.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    return stmt.where(
        sa.or_(
            Submission.user_id == user.id,
            _cohort_of_assignment().in_(_staff_cohort_ids(user)),
        )
    )


def visible_extensions(user) -> sa.Select:
    stmt = sa.select(Extension).join(Extension.assignment).order_by(Extension.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    return stmt.where(
        sa.or_(
            Extension.user_id == user.id,
            _cohort_of_assignment().in_(tutored_cohort_ids(user) or {-1}),
        )
    )


def _exists(stmt: sa.Select) -> bool:
    return db.session.execute(stmt.limit(1)).first() is not None


def has_enrolment(user) -> bool:
    """Anyone holding a place in a cohort: they have assignments to see (the "My assignments"
    menu)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return _exists(_enrolled_cohort_ids(user))


def sets_assignments(user) -> bool:
    """Admins and tutors of a cohort: they set assignments, follow submissions and decide
    extensions."""
    return is_admin(user) or bool(tutored_cohort_ids(user))


def settable_deliveries(user) -> sa.Select:
    """Module deliveries the user may set assignments on: all for admins, their cohorts' for
    tutors."""
    stmt = (
        sa.select(ModuleDelivery)
        .join(ModuleDelivery.cohort)
        .order_by(Cohort.starts_on.desc(), Cohort.name, ModuleDelivery.id)
    )
    if is_admin(user):
        return stmt
    return stmt.where(ModuleDelivery.cohort_id.in_(tutored_cohort_ids(user) or {-1}))


def can_see_work(user, submission: Submission) -> bool:
    """The learner who owns the work, the cohort's tutors and admins: who may open its files and
    receipts. Examiners see moderated samples later, not drafts."""
    return submission.user_id == user.id or teaches_assignment(user, submission.assignment)


def decidable_extensions(user) -> sa.Select:
    """Requests the user may decide: all for admins, those of their cohorts for tutors (never
    their own, even if they are also a learner somewhere)."""
    stmt = sa.select(Extension).join(Extension.assignment).order_by(Extension.id)
    if is_admin(user):
        return stmt
    return stmt.where(
        _cohort_of_assignment().in_(tutored_cohort_ids(user) or {-1}),
        Extension.user_id != user.id,
    )
