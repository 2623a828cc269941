"""Who keeps, changes and reads CPD records.

A CPD record is the learner's own: only they add, change or delete entries, so every entry is
looked up within `own_entries(user)` and anyone else's answers 404. Admins read a learner's
whole record (for appraisal support and complaints), never change it.
"""

from __future__ import annotations

import sqlalchemy as sa

from academy.cohorts.policy import is_enrolled
from academy.core.policy import is_admin
from academy.cpd.models import CpdEntry
from academy.extensions import db


def own_entries(user) -> sa.Select:
    if not getattr(user, "is_authenticated", False):
        return sa.select(CpdEntry).where(sa.false())
    return sa.select(CpdEntry).where(CpdEntry.user_id == user.id)


def can_change_entry(user, entry: CpdEntry) -> bool:
    return getattr(user, "is_authenticated", False) and entry.user_id == user.id


def can_read_record(viewer, owner) -> bool:
    """The learner themself, and admins."""
    return getattr(viewer, "id", None) == owner.id or is_admin(viewer)


def keeps_cpd(user) -> bool:
    """Learners with an enrolment (their Academy study counts), and anyone who has logged CPD:
    they get "My CPD" in the navigation. The page itself is open to anyone signed in."""
    if not getattr(user, "is_authenticated", False):
        return False
    if is_enrolled(user):
        return True
    return db.session.scalar(own_entries(user).with_only_columns(CpdEntry.id).limit(1)) is not None
