"""Who may see and change organisations."""

from __future__ import annotations

import sqlalchemy as sa

from academy.core.policy import is_admin, sponsored_organisation_ids
from academy.organisations.models import Organisation


def visible_organisations(user) -> sa.Select:
    """Admins see every organisation; sponsors their own; everyone else none."""
    stmt = sa.select(Organisation).order_by(Organisation.name, Organisation.id)
    if is_admin(user):
        return stmt
    return stmt.where(Organisation.id.in_(sponsored_organisation_ids(user) or {-1}))


def can_view_organisation(user, organisation: Organisation) -> bool:
    return is_admin(user) or organisation.id in sponsored_organisation_ids(user)


def can_list_organisations(user) -> bool:
    return is_admin(user) or bool(sponsored_organisation_ids(user))


def can_manage_organisations(user) -> bool:
    return is_admin(user)
