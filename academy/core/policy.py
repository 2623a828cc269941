"""Authorization primitives shared by every domain: which roles a user holds now, and in what scope.

Domain policy modules (`academy/<domain>/policy.py`) build their predicates and query scopes from
these, and both HTML views and the API call those, so no list shows what a detail view refuses.
"""

from __future__ import annotations

from datetime import date

from academy.core import clock


def current_roles(user, role: str | None = None, on: date | None = None) -> list:
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return []
    roles = user.active_roles(on or clock.today())
    return [r for r in roles if role is None or r.role == role]


def has_role(user, *roles: str) -> bool:
    return any(r.role in roles for r in current_roles(user))


def is_admin(user) -> bool:
    return has_role(user, "admin")


def sponsored_organisation_ids(user) -> set[int]:
    """Organisations a sponsor may see today: those named on their current sponsor roles."""
    return {r.organisation_id for r in current_roles(user, "sponsor") if r.organisation_id}


def tutored_cohort_ids(user) -> set[int]:
    return {r.cohort_id for r in current_roles(user, "tutor") if r.cohort_id}


def examined_programme_ids(user) -> set[int]:
    return {r.programme_id for r in current_roles(user, "examiner") if r.programme_id}
