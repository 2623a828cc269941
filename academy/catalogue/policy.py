"""Who may see and change programmes, modules and their learning content."""

from __future__ import annotations

import sqlalchemy as sa

from academy.catalogue.models import Module, ProgrammeModule
from academy.cohorts.policy import studied_module_ids, taught_module_ids
from academy.core.policy import examined_programme_ids, is_admin
from academy.extensions import db


def can_view_catalogue(user) -> bool:
    """Programme and module descriptions are the academy's prospectus: any signed-in user."""
    return bool(getattr(user, "is_authenticated", False))


def can_manage_catalogue(user) -> bool:
    return is_admin(user)


def readable_module_ids(user) -> sa.Select | None:
    """Modules whose learning content `user` may study or review; None means every module."""
    if is_admin(user):
        return None
    parts = [studied_module_ids(user), taught_module_ids(user)]
    if examined := examined_programme_ids(user):
        parts.append(
            sa.select(ProgrammeModule.module_id).where(ProgrammeModule.programme_id.in_(examined))
        )
    return sa.union(*parts)


def can_read_content(user, module: Module) -> bool:
    ids = readable_module_ids(user)
    if ids is None:
        return True
    return module.id in set(db.session.scalars(sa.select(ids.subquery().c[0])))


def can_edit_content(user, module: Module) -> bool:
    """Admins, and tutors of a cohort that runs the module."""
    if is_admin(user):
        return True
    return module.id in set(db.session.scalars(taught_module_ids(user)))
