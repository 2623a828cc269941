"""Every model module, imported once so the metadata Alembic compares against is complete."""

from academy.assessment.models import (  # noqa: F401
    Assignment,
    Extension,
    Submission,
    SubmissionFile,
    SubmissionReceipt,
)
from academy.audit.models import AuditEvent  # noqa: F401
from academy.auth.models import (  # noqa: F401
    ApiToken,
    LoginThrottle,
    RecoveryCode,
    RoleAssignment,
    User,
)
from academy.catalogue.models import Module, Programme, ProgrammeModule  # noqa: F401
from academy.cohorts.models import (  # noqa: F401
    Cohort,
    Enrolment,
    EnrolmentStatusChange,
    ModuleDelivery,
)
from academy.content.models import ContentSection, Resource, ResourceCompletion  # noqa: F401
from academy.cpd.models import CpdEntry  # noqa: F401
from academy.credentials.models import Credential, IssuerKey, StatusList  # noqa: F401
from academy.marking.models import Mark, MarkHistory, ModuleResult  # noqa: F401
from academy.notifications.models import OutboxMessage  # noqa: F401
from academy.organisations.models import Organisation  # noqa: F401
from academy.reporting.models import ReportSubscription  # noqa: F401
