"""JSON shapes for cohorts, tutors, enrolments and the CSV import.

Enrolment output is one shape for everyone who may list enrolments (admins, the cohort's tutors,
sponsors of the learner); only admins, who change enrolments, also receive the status history.
"""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, pre_dump, validate

from academy.cohorts import services
from academy.cohorts.models import ENROLMENT_STATUSES
from academy.core.api import Id, RequestSchema, Text, not_blank
from academy.core.pagination import PageArgs
from academy.organisations.models import NATIONS

# --- cohorts -----------------------------------------------------------------------------------


class DeliverySchema(Schema):
    id = fields.Integer()
    module_id = fields.Integer()
    module_code = fields.String(attribute="module.code")
    module_title = fields.String(attribute="module.title")
    starts_on = fields.Date()
    ends_on = fields.Date()


class TutorSchema(Schema):
    id = fields.Integer(metadata={"description": "The tutor role assignment"})
    user_id = fields.Integer()
    name = fields.String(attribute="user.name")
    cohort_id = fields.Integer()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class CohortSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    capacity = fields.Integer()
    places_taken = fields.Integer(metadata={"description": "Places held by enrolments"})
    nation = fields.String(metadata={"enum": list(NATIONS)})
    version = fields.Integer()
    deliveries = fields.List(
        fields.Nested(DeliverySchema), metadata={"description": "The modules the cohort runs"}
    )


class _CohortWithTutors:
    """A cohort as the detail schema reads it: its own fields plus its current tutors."""

    def __init__(self, cohort):
        self._cohort = cohort
        self.tutors = services.current_tutor_roles(cohort)

    def __getattr__(self, name):
        return getattr(self._cohort, name)


class CohortDetailSchema(CohortSchema):
    tutors = fields.List(
        fields.Nested(TutorSchema), metadata={"description": "Tutors teaching it today"}
    )

    @pre_dump
    def with_tutors(self, cohort, **kwargs):
        return _CohortWithTutors(cohort)


class DeliveryCreateSchema(RequestSchema):
    module_id = Id(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)


class CohortCreateSchema(RequestSchema):
    programme_id = Id(required=True)
    name = Text(required=True, validate=[validate.Length(max=120), not_blank])
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True, metadata={"description": "On or after `starts_on`"})
    capacity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=services.MAX_CAPACITY)
    )
    nation = fields.String(
        validate=validate.OneOf(NATIONS),
        metadata={"description": "Picks the bank-holiday calendar. Default: england"},
    )
    modules = fields.List(
        fields.Nested(DeliveryCreateSchema),
        load_default=list,
        metadata={"description": "Modules of the programme to run, within the cohort's dates"},
    )


class CohortListArgs(PageArgs):
    programme_id = Id(strict=False)


class TutorAssignSchema(RequestSchema):
    user_id = Id(required=True)


# --- enrolments --------------------------------------------------------------------------------


class EnrolmentUserSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class StatusChangeSchema(Schema):
    from_status = fields.String(allow_none=True, metadata={"description": "Null when enrolled"})
    to_status = fields.String()
    reason = fields.String()
    changed_by_id = fields.Integer(allow_none=True)
    changed_at = fields.DateTime()


class EnrolmentSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    cohort_id = fields.Integer()
    sponsor_organisation_id = fields.Integer()
    status = fields.String(metadata={"enum": list(ENROLMENT_STATUSES)})
    enrolled_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send it back on PATCH"})
    user = fields.Nested(EnrolmentUserSchema)


class AdminEnrolmentSchema(EnrolmentSchema):
    history = fields.List(
        fields.Nested(StatusChangeSchema),
        metadata={"description": "Every status the enrolment has had: who, when and why"},
    )


class EnrolSchema(RequestSchema):
    user_id = Id(required=True)
    sponsor_organisation_id = Id(
        allow_none=True,
        metadata={"description": "Default: the learner's employing organisation"},
    )


class EnrolmentStatusSchema(RequestSchema):
    status = fields.String(required=True, validate=validate.OneOf(ENROLMENT_STATUSES))
    reason = Text(required=True, validate=[validate.Length(max=2000), not_blank])
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )


class EnrolmentListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(ENROLMENT_STATUSES))


# --- import ------------------------------------------------------------------------------------


class ImportFileSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "CSV, UTF-8, at most 2 MB and 5,000 rows, with the header "
            "email,name,organisation_ods,professional_registration,staff_number"
        },
    )


class ImportResultSchema(Schema):
    created = fields.Integer(metadata={"description": "New accounts, each emailed an invitation"})
    existing_users = fields.Integer(metadata={"description": "Accounts matched by email address"})
    enrolled = fields.Integer()
