"""Who sees which credentials, and who may revoke, verify or record them.

Issued credentials are public by design (anyone with the link can verify one), but lists are
not: a learner's wallet, their sponsor's view of their staff and the academy's register are
scoped here, and the HTML pages and the API both start from `visible_credentials`.
"""

from __future__ import annotations

import sqlalchemy as sa

from academy.auth.models import User
from academy.cohorts.models import Enrolment
from academy.core.policy import is_admin, sponsored_organisation_ids
from academy.credentials.models import Credential


def _sponsor_reach(organisation_ids: set[int]):
    """Staff of the organisations, and anyone the organisations sponsor on a programme."""
    return sa.or_(
        Credential.user_id.in_(
            sa.select(User.id).where(User.organisation_id.in_(organisation_ids))
        ),
        Credential.user_id.in_(
            sa.select(Enrolment.user_id).where(
                Enrolment.sponsor_organisation_id.in_(organisation_ids)
            )
        ),
    )


def visible_credentials(user) -> sa.Select:
    """Admins: all. Sponsors: their staff's and sponsored learners'. Everyone: their own."""
    stmt = sa.select(Credential).order_by(Credential.issued_at.desc(), Credential.id.desc())
    if is_admin(user):
        return stmt
    if not getattr(user, "is_authenticated", False):
        return stmt.where(sa.false())
    reach = [Credential.user_id == user.id]
    if organisation_ids := sponsored_organisation_ids(user):
        reach.append(_sponsor_reach(organisation_ids))
    return stmt.where(sa.or_(*reach))


def sponsors_learner(user, learner: User) -> bool:
    organisation_ids = sponsored_organisation_ids(user)
    if not organisation_ids:
        return False
    if learner.organisation_id in organisation_ids:
        return True
    from academy.extensions import db

    return (
        db.session.scalar(
            sa.select(Enrolment.id)
            .where(
                Enrolment.user_id == learner.id,
                Enrolment.sponsor_organisation_id.in_(organisation_ids),
            )
            .limit(1)
        )
        is not None
    )


def can_view_credential(user, credential: Credential) -> bool:
    return (
        is_admin(user) or credential.user_id == user.id or sponsors_learner(user, credential.user)
    )


def can_manage_credentials(user) -> bool:
    """Revoking, suspending, reinstating and verifying external credentials is the academy's."""
    return is_admin(user)


def can_record_external(user, learner: User) -> bool:
    """Admins for anyone; sponsors for their staff; learners for themselves."""
    return is_admin(user) or learner.id == user.id or sponsors_learner(user, learner)


def can_remove_external(user, credential: Credential) -> bool:
    """Admins remove any external credential. Whoever may record one for the learner removes it
    while it is self-declared: once verified it is the academy's record."""
    if credential.kind != "external":
        return False
    if is_admin(user):
        return True
    return credential.verification == "self_declared" and can_record_external(user, credential.user)


def can_read_evidence(user, credential: Credential) -> bool:
    return credential.kind == "external" and can_view_credential(user, credential)
