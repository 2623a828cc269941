"""JSON shape of a trust's dashboard, `GET /api/v1/organisations/{id}/dashboard`: staff counts by
status, the at-risk list, every learner's progress, credentials held and expiring, coverage
against the organisation's `credential_target`, and the trend.

`dashboard_body` builds it from the organisation report; the schemas document it and are what
the answer is dumped through, so nothing undocumented leaves. Marks appear only for learners who
share them with their sponsor; submission content never does.
"""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, fields

from academy.cohorts.services import STATUS_LABELS as ENROLMENT_STATUSES
from academy.core.calendar import uk_date
from academy.credentials.models import Credential
from academy.reporting.progress import PROGRESS_STATUSES, LearnerProgress, OrganisationReport


def _counts(keys, description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": f"{description}: {', '.join(keys)} (every key present, 0 when none)"
        },
    )


class DashboardOrganisationSchema(Schema):
    id = fields.Integer()
    ods_code = fields.String()
    name = fields.String()
    credential_target = fields.Integer(
        metadata={"description": "Credentialed clinician-informaticians the organisation aims for"}
    )


class CoverageSchema(Schema):
    credentialed = fields.Integer(
        metadata={"description": "Staff and sponsored learners holding a valid award credential"}
    )
    target = fields.Integer(metadata={"description": "The organisation's `credential_target`"})
    text = fields.String(metadata={"description": 'e.g. "3 of 5 credentialed"'})


class LearnerRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    staff_number = fields.String(
        allow_none=True, metadata={"description": "ESR assignment number, the key HR systems use"}
    )


class AtRiskSchema(Schema):
    user = fields.Nested(LearnerRefSchema)
    enrolment_id = fields.Integer()
    cohort_id = fields.Integer()
    reasons = fields.List(
        fields.String(), metadata={"description": "Why the learner needs help, in words"}
    )


class SharedMarkSchema(Schema):
    module_code = fields.String()
    mark = fields.Float(
        allow_none=True,
        metadata={"description": "The module's weighted percentage; null until there is one"},
    )
    passed = fields.Boolean()


class LearnerProgressSchema(Schema):
    user = fields.Nested(LearnerRefSchema)
    enrolment_id = fields.Integer()
    cohort_id = fields.Integer()
    enrolment_status = fields.String(metadata={"enum": list(ENROLMENT_STATUSES)})
    status = fields.String(
        metadata={"enum": list(PROGRESS_STATUSES), "description": "Headline progress status"}
    )
    credits_earned = fields.Integer()
    credits_required = fields.Integer()
    modules_passed = fields.Integer()
    modules_total = fields.Integer()
    on_time = fields.Integer(metadata={"description": "Assignments handed in on time"})
    late = fields.Integer(metadata={"description": "Assignments handed in late"})
    missing = fields.Integer(
        metadata={"description": "Assignments not handed in by the learner's deadline"}
    )
    upcoming = fields.Integer(metadata={"description": "Assignments not due yet"})
    last_activity = fields.DateTime(
        allow_none=True,
        metadata={"description": "Latest sign-in, upload or completed resource; null if none"},
    )
    marks = fields.List(
        fields.Nested(SharedMarkSchema),
        metadata={
            "description": "Module marks: present only when the learner has chosen to share "
            "marks with their sponsor"
        },
    )


class ExpiringCredentialSchema(Schema):
    id = fields.Integer()
    uuid = fields.String()
    user_id = fields.Integer()
    kind = fields.String(metadata={"enum": ["module", "award", "external"]})
    title = fields.String()
    expires = fields.Date(metadata={"description": "The day it expires (UK time)"})


class CredentialCountsSchema(Schema):
    held = fields.Integer(metadata={"description": "Valid now"})
    expiring = fields.Integer(metadata={"description": "Valid now, expiring within 90 days"})
    expired = fields.Integer()
    external = fields.Integer(metadata={"description": "Recorded from elsewhere, any status"})
    external_verified = fields.Integer(
        metadata={"description": "External credentials whose evidence an admin has verified"}
    )
    external_self_declared = fields.Integer()
    expiring_list = fields.List(fields.Nested(ExpiringCredentialSchema))


class TrendPointSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM"})
    credentialed = fields.Integer(
        metadata={"description": "Holders of a valid award credential at the month's end"}
    )


class DashboardSchema(Schema):
    organisation = fields.Nested(DashboardOrganisationSchema)
    generated_at = fields.DateTime()
    enrolments_by_status = _counts(ENROLMENT_STATUSES, "Sponsored enrolments by status")
    progress_by_status = _counts(PROGRESS_STATUSES, "Sponsored enrolments by progress status")
    coverage = fields.Nested(CoverageSchema)
    at_risk = fields.List(fields.Nested(AtRiskSchema))
    learners = fields.List(
        fields.Nested(LearnerProgressSchema),
        metadata={"description": "One entry per sponsored enrolment, at risk first"},
    )
    credentials = fields.Nested(CredentialCountsSchema)
    trend = fields.List(
        fields.Nested(TrendPointSchema),
        metadata={"description": "The last 12 months, oldest first"},
    )


# --- building ------------------------------------------------------------------------------------


def _learner_ref(learner: LearnerProgress) -> dict:
    user = learner.user
    return {"id": user.id, "name": user.name, "staff_number": user.staff_number}


def _learner(learner: LearnerProgress) -> dict:
    body = {
        "user": _learner_ref(learner),
        "enrolment_id": learner.enrolment.id,
        "cohort_id": learner.cohort.id,
        "enrolment_status": learner.enrolment.status,
        "status": learner.status,
        "credits_earned": learner.credits_earned,
        "credits_required": learner.credits_required,
        "modules_passed": learner.modules_passed,
        "modules_total": learner.modules_total,
        "on_time": learner.on_time,
        "late": learner.late,
        "missing": learner.missing,
        "upcoming": learner.upcoming,
        "last_activity": learner.last_activity,
    }
    if learner.marks is not None:
        body["marks"] = [
            {"module_code": code, "mark": mark, "passed": passed}
            for code, mark, passed in learner.marks
        ]
    return body


def _expires(credential: Credential):
    expiry = credential.expiry
    return uk_date(expiry) if isinstance(expiry, datetime) else expiry


def dashboard_body(report: OrganisationReport) -> dict:
    organisation = report.organisation
    credentials = report.credentials
    verified = sum(1 for c in credentials.external if c.verification == "verified")
    return {
        "organisation": {
            "id": organisation.id,
            "ods_code": organisation.ods_code,
            "name": organisation.name,
            "credential_target": organisation.credential_target,
        },
        "generated_at": report.generated_at,
        "enrolments_by_status": {
            status: report.by_enrolment_status.get(status, 0) for status in ENROLMENT_STATUSES
        },
        "progress_by_status": {
            status: report.by_progress.get(status, 0) for status in PROGRESS_STATUSES
        },
        "coverage": {
            "credentialed": len(credentials.credentialed_user_ids),
            "target": credentials.target,
            "text": credentials.coverage_text,
        },
        "at_risk": [
            {
                "user": _learner_ref(learner),
                "enrolment_id": learner.enrolment.id,
                "cohort_id": learner.cohort.id,
                "reasons": list(learner.risks),
            }
            for learner in report.at_risk
        ],
        "learners": [_learner(learner) for learner in report.learners],
        "credentials": {
            "held": len(credentials.held),
            "expiring": len(credentials.expiring),
            "expired": len(credentials.expired),
            "external": len(credentials.external),
            "external_verified": verified,
            "external_self_declared": len(credentials.external) - verified,
            "expiring_list": [
                {
                    "id": c.id,
                    "uuid": c.uuid,
                    "user_id": c.user_id,
                    "kind": c.kind,
                    "title": c.title,
                    "expires": _expires(c),
                }
                for c in credentials.expiring
            ],
        },
        "trend": [
            {"month": f"{month:%Y-%m}", "credentialed": count} for month, count in credentials.trend
        ],
    }
