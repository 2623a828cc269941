"""Who may see and change users, roles and tokens."""

from __future__ import annotations

import sqlalchemy as sa

from academy.auth.models import User
from academy.core.policy import (
    has_role,
    is_admin,
    sponsored_organisation_ids,
    tutored_cohort_ids,
)


def can_list_users(user) -> bool:
    return has_role(user, "admin", "sponsor", "tutor")


def visible_users(user) -> sa.Select:
    """The users `user` may see, as a query that lists and detail lookups both start from.

    Admins: everyone. Sponsors: their organisations' staff, and anyone those organisations
    sponsor on a programme. Tutors: the learners of the cohorts they teach."""
    from academy.cohorts.models import Enrolment
    from academy.cohorts.policy import learner_ids_taught_by

    stmt = sa.select(User).order_by(User.name, User.id)
    if is_admin(user):
        return stmt
    reach = []
    if organisation_ids := sponsored_organisation_ids(user):
        reach.append(User.organisation_id.in_(organisation_ids))
        reach.append(
            User.id.in_(
                sa.select(Enrolment.user_id).where(
                    Enrolment.sponsor_organisation_id.in_(organisation_ids)
                )
            )
        )
    if tutored_cohort_ids(user):
        reach.append(User.id.in_(learner_ids_taught_by(user)))
    return stmt.where(sa.or_(*reach)) if reach else stmt.where(sa.false())


def can_view_user(viewer, target: User) -> bool:
    if viewer is not None and getattr(viewer, "id", None) == target.id:
        return True
    from academy.extensions import db

    return (
        db.session.scalar(
            visible_users(viewer).where(User.id == target.id).with_only_columns(User.id)
        )
        is not None
    )


def can_manage_users(user) -> bool:
    return is_admin(user)


def needs_invitation(user: User) -> bool:
    """An active account whose owner has not yet set a password can be sent a fresh invitation."""
    return user.active and user.password_hash is None
