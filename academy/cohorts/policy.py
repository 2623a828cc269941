"""Who may see cohorts and enrolments. Lists and detail pages start from the same query scopes."""

from __future__ import annotations

import sqlalchemy as sa

from academy.cohorts.models import HOLDS_A_PLACE, Cohort, Enrolment, ModuleDelivery
from academy.core.policy import (
    examined_programme_ids,
    has_role,
    is_admin,
    sponsored_organisation_ids,
    tutored_cohort_ids,
)
from academy.extensions import db


def _learner_cohort_ids(user) -> sa.Select:
    return sa.select(Enrolment.cohort_id).where(
        Enrolment.user_id == user.id, Enrolment.status.in_(HOLDS_A_PLACE)
    )


def visible_cohorts(user) -> sa.Select:
    """Admins: all. Tutors: the cohorts they teach. Examiners: cohorts of their programmes.
    Sponsors: cohorts where their organisations sponsor someone. Learners: their own cohorts."""
    stmt = sa.select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.name, Cohort.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    reach = [Cohort.id.in_(_learner_cohort_ids(user))]
    if tutored := tutored_cohort_ids(user):
        reach.append(Cohort.id.in_(tutored))
    if examined := examined_programme_ids(user):
        reach.append(Cohort.programme_id.in_(examined))
    if sponsored := sponsored_organisation_ids(user):
        reach.append(
            Cohort.id.in_(
                sa.select(Enrolment.cohort_id).where(
                    Enrolment.sponsor_organisation_id.in_(sponsored)
                )
            )
        )
    return stmt.where(sa.or_(*reach))


def can_view_cohort(user, cohort: Cohort) -> bool:
    return (
        db.session.scalar(
            visible_cohorts(user).where(Cohort.id == cohort.id).with_only_columns(Cohort.id)
        )
        is not None
    )


def can_manage_cohorts(user) -> bool:
    return is_admin(user)


def teaches(user, cohort: Cohort) -> bool:
    return cohort.id in tutored_cohort_ids(user)


def visible_enrolments(user) -> sa.Select:
    """Admins: all. Tutors and examiners: enrolments in their cohorts. Sponsors: only the
    enrolments their organisations sponsor (even in a cohort shared with other trusts).
    Learners: their own."""
    stmt = sa.select(Enrolment).order_by(Enrolment.cohort_id, Enrolment.id)
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    reach = [Enrolment.user_id == user.id]
    if tutored := tutored_cohort_ids(user):
        reach.append(Enrolment.cohort_id.in_(tutored))
    if examined := examined_programme_ids(user):
        reach.append(
            Enrolment.cohort_id.in_(sa.select(Cohort.id).where(Cohort.programme_id.in_(examined)))
        )
    if sponsored := sponsored_organisation_ids(user):
        reach.append(Enrolment.sponsor_organisation_id.in_(sponsored))
    return stmt.where(sa.or_(*reach))


def can_list_enrolments(user) -> bool:
    return has_role(user, "admin", "tutor", "sponsor", "examiner")


def studied_module_ids(user) -> sa.Select:
    """Modules delivered to cohorts the user is enrolled in (holding a place)."""
    return sa.select(ModuleDelivery.module_id).where(
        ModuleDelivery.cohort_id.in_(_learner_cohort_ids(user))
    )


def taught_module_ids(user) -> sa.Select:
    """Modules delivered to cohorts the user teaches."""
    return sa.select(ModuleDelivery.module_id).where(
        ModuleDelivery.cohort_id.in_(tutored_cohort_ids(user) or {-1})
    )


def learner_ids_taught_by(user) -> sa.Select:
    """Users enrolled in cohorts the user teaches."""
    return sa.select(Enrolment.user_id).where(
        Enrolment.cohort_id.in_(tutored_cohort_ids(user) or {-1})
    )


# --- who gets which pages in the navigation ----------------------------------------------------


def teaches_any(user) -> bool:
    return bool(tutored_cohort_ids(user))


def sponsors_any(user) -> bool:
    return bool(sponsored_organisation_ids(user))


def is_enrolled(user) -> bool:
    """A learner with at least one enrolment, whatever its status."""
    if not has_role(user, "learner"):
        return False
    return (
        db.session.scalar(sa.select(Enrolment.id).where(Enrolment.user_id == user.id).limit(1))
        is not None
    )
