"""Who may see which reports. A sponsor sees their own organisations' dashboards and exports, for
as long as their sponsor role runs; admins see every organisation's and the academy's reports;
tutors see their own caseload. Anything else answers 404, so no one learns another trust's id
exists (cross-tenant access is the leak that matters here)."""

from __future__ import annotations

import sqlalchemy as sa

from academy.core.policy import is_admin, sponsored_organisation_ids, tutored_cohort_ids
from academy.organisations.models import Organisation


def report_organisations(user) -> sa.Select:
    """Organisations whose dashboard and exports `user` may see: all for admins, the
    organisations of a sponsor's current roles, none for anyone else."""
    stmt = sa.select(Organisation).order_by(Organisation.name, Organisation.id)
    if is_admin(user):
        return stmt
    ids = sponsored_organisation_ids(user)
    return stmt.where(Organisation.id.in_(ids)) if ids else stmt.where(sa.false())


def can_view_organisation_reports(user, organisation: Organisation) -> bool:
    return is_admin(user) or organisation.id in sponsored_organisation_ids(user)


def sees_dashboards(user) -> bool:
    return is_admin(user) or bool(sponsored_organisation_ids(user))


def can_view_academy_reports(user) -> bool:
    return is_admin(user)


def has_caseload(user) -> bool:
    return is_admin(user) or bool(tutored_cohort_ids(user))
