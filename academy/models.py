"""Every model module, imported once so the metadata Alembic compares against is complete."""

from academy.audit.models import AuditEvent  # noqa: F401
from academy.auth.models import ApiToken, RoleAssignment, User  # noqa: F401
from academy.organisations.models import Organisation  # noqa: F401
