"""JSON shapes for assignments, submissions, their files and receipts, and extensions.

Submission output is split by audience (DESIGN.md convention 7): the learner's own view has no
`mark` at all until marks are released; staff see `mark` and who the learner is, except while
the assignment is anonymous and the mark unreleased, when a candidate number stands in for every
learner field.
"""

from __future__ import annotations

from datetime import UTC

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_load, validate

from academy.assessment.models import EXTENSION_STATUSES, SECOND_MARKING_RULES, SUBMISSION_TYPES
from academy.core.api import Id, RequestSchema, Text, not_blank
from academy.core.pagination import PageArgs

BRIEF_FORMATS = ("markdown", "html")
#: Deadlines outside these years are typing mistakes, and walking the working-day calendar to
#: them would be needlessly slow.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


# --- request field types -------------------------------------------------------------------------


class Moment(fields.AwareDateTime):
    """An ISO 8601 instant with its UTC offset ("2027-03-25T12:00:00+00:00"), kept in UTC. A time
    without an offset is refused: nobody can tell which clock it was read from."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except (OverflowError, ValueError) as error:
            raise ValidationError("Not a valid date and time.") from error
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise ValidationError(f"Must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}.")
        return moment


class StrictBoolean(fields.Boolean):
    """JSON `true` or `false` only: not 1, "yes" or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


def _whole(value):
    """Marks of 3.0 are stored as 3, so a rubric reads back as it was written."""
    return int(value) if float(value).is_integer() else value


# --- assignments -------------------------------------------------------------------------------


class RubricLevelSchema(RequestSchema):
    title = Text(required=True, validate=[validate.Length(max=200), not_blank])
    description = Text(load_default="", validate=validate.Length(max=2000))
    marks = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=10_000))

    @post_load
    def tidy_marks(self, data, **kwargs):
        data["marks"] = _whole(data["marks"])
        return data


class RubricCriterionSchema(RequestSchema):
    title = Text(required=True, validate=[validate.Length(max=200), not_blank])
    levels = fields.List(
        fields.Nested(RubricLevelSchema), required=True, validate=validate.Length(min=2, max=10)
    )


class RubricSchema(RequestSchema):
    criteria = fields.List(
        fields.Nested(RubricCriterionSchema),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "The best level of each criterion must add up to `max_mark`"},
    )


class RubricOutSchema(Schema):
    criteria = fields.List(fields.Dict())


class _AssignmentFields(RequestSchema):
    """What a caller may set on an assignment; anything left out keeps its default or value."""

    title = Text(validate=[validate.Length(max=200), not_blank])
    brief = Text(
        validate=validate.Length(max=50_000),
        metadata={"description": "Markdown (default) or HTML; shown only after sanitising"},
    )
    brief_format = fields.String(validate=validate.OneOf(BRIEF_FORMATS))
    opens_at = Moment(metadata={"description": "With an offset; uploads are refused before it"})
    due_at = Moment(metadata={"description": "Work after it is late, counted in working days"})
    cutoff_at = Moment(
        metadata={"description": "Nothing is accepted after it without an extension (default: "
                  "`due_at`)"}
    )  # fmt: skip
    weight = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "Percentage of the module mark (default 100)"},
    )
    max_mark = fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000))
    anonymous = StrictBoolean(
        metadata={"description": "Staff see candidate numbers instead of learners"}
    )
    second_marking = fields.String(
        validate=validate.OneOf(SECOND_MARKING_RULES),
        metadata={"description": "none, all, or sample (which needs `sample_percent`)"},
    )
    sample_percent = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=100)
    )
    allowed_types = fields.List(
        fields.String(validate=validate.OneOf(SUBMISSION_TYPES)),
        validate=validate.Length(min=1, max=len(SUBMISSION_TYPES)),
        metadata={"description": "File types accepted, judged by content (default pdf, docx)"},
    )
    max_size_mb = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    rubric = fields.Nested(RubricSchema, allow_none=True)


class AssignmentCreateSchema(_AssignmentFields):
    cohort_id = Id(required=True)
    module_id = Id(
        required=True,
        metadata={"description": "With `cohort_id`, picks the module delivery it belongs to"},
    )
    title = Text(required=True, validate=[validate.Length(max=200), not_blank])
    opens_at = Moment(
        required=True, metadata={"description": "With an offset; uploads are refused before it"}
    )
    due_at = Moment(
        required=True, metadata={"description": "Work after it is late, counted in working days"}
    )


class AssignmentUpdateSchema(_AssignmentFields):
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )


class DeadlineSchema(Schema):
    due_at = fields.DateTime()
    cutoff_at = fields.DateTime()
    extended = fields.Boolean(metadata={"description": "Moved by an approved extension"})
    working_days_left = fields.Integer(
        metadata={"description": "Working days until `due_at` in the cohort's UK nation"}
    )


class OwnSubmissionRefSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": ["draft", "submitted"]})


class AssignmentSchema(Schema):
    id = fields.Integer()
    cohort_id = fields.Integer(attribute="delivery.cohort_id")
    module_id = fields.Integer(attribute="delivery.module_id")
    delivery_id = fields.Integer()
    title = fields.String()
    brief = fields.String()
    brief_format = fields.String(metadata={"enum": list(BRIEF_FORMATS)})
    opens_at = fields.DateTime()
    due_at = fields.DateTime()
    cutoff_at = fields.DateTime()
    weight = fields.Integer()
    max_mark = fields.Integer()
    anonymous = fields.Boolean()
    second_marking = fields.String(metadata={"enum": list(SECOND_MARKING_RULES)})
    sample_percent = fields.Integer(allow_none=True)
    allowed_types = fields.List(fields.String(metadata={"enum": list(SUBMISSION_TYPES)}))
    max_size_mb = fields.Integer()
    rubric = fields.Nested(RubricOutSchema, allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LearnerAssignmentSchema(AssignmentSchema):
    """An assignment as one of its learners reads it: with their own deadline and work."""

    deadline = fields.Nested(
        DeadlineSchema,
        metadata={"description": "Learners only: your own deadline, extensions included"},
    )
    submission = fields.Nested(
        OwnSubmissionRefSchema,
        allow_none=True,
        metadata={"description": "Learners only: your submission, or null before the first file"},
    )


class AssignmentListArgs(PageArgs):
    cohort_id = Id(strict=False)
    module_id = Id(strict=False)


# --- submissions -------------------------------------------------------------------------------


class SubmissionUploadSchema(Schema):
    file = Upload(
        required=True,
        metadata={"description": "The file; its type is judged by its content, not its name"},
    )


class SubmissionFileSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    size = fields.Integer(metadata={"description": "Bytes"})
    sha256 = fields.String()
    type = fields.String(attribute="file_type", metadata={"enum": list(SUBMISSION_TYPES)})
    uploaded_at = fields.DateTime()


class UploadedSchema(Schema):
    submission_id = fields.Integer()
    file = fields.Nested(SubmissionFileSchema)


class ReceiptFileSchema(Schema):
    name = fields.String()
    sha256 = fields.String()
    size = fields.Integer()


class ReceiptSchema(Schema):
    id = fields.Integer()
    sha256 = fields.String(
        metadata={"description": "SHA-256 over every file's name and hash: names the whole work"}
    )
    submitted_at = fields.DateTime()
    late_working_days = fields.Integer()
    files = fields.List(fields.Nested(ReceiptFileSchema))


class SubmissionSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    status = fields.String(metadata={"enum": ["draft", "submitted"]})
    submitted_at = fields.DateTime(allow_none=True)
    late_working_days = fields.Integer(
        allow_none=True, metadata={"description": "Working days late; null until submitted"}
    )
    version = fields.Integer()
    files = fields.List(fields.Nested(SubmissionFileSchema))
    receipts = fields.List(
        fields.Nested(ReceiptSchema), metadata={"description": "Every submission, even reopened"}
    )


def _marking_schema(name: str):
    """A schema of academy.marking.schemas, found when first used: marking builds on this
    module, so importing it here at load time would be circular."""

    def schema():
        from academy.marking import schemas

        return getattr(schemas, name)()

    return schema


class OwnSubmissionSchema(SubmissionSchema):
    """The learner's own view: no `mark` at all until it is released; then academy.assessment.api
    adds it (academy.marking.schemas.LearnerMarkSchema)."""

    user_id = fields.Integer()


class SubmitterSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class _StaffSubmissionSchema(SubmissionSchema):
    """The staff views; academy.assessment.api adds `mark` (academy.marking.schemas builds it)."""

    mark = fields.Nested(
        _marking_schema("StaffMarkSchema"),
        metadata={"description": "`version` 0 and the rest empty before the first save"},
    )


class NamedSubmissionSchema(_StaffSubmissionSchema):
    """Staff view of an assignment that is not anonymous."""

    user_id = fields.Integer()
    user = fields.Nested(SubmitterSchema)


class AnonymousSubmissionSchema(_StaffSubmissionSchema):
    """Staff view while the assignment is anonymous: a candidate number, nothing else of who."""

    candidate_number = fields.Function(
        lambda submission: _candidate_number(submission.assignment_id, submission.user_id),
        metadata={"type": "string"},
    )


class StaffSubmissionSchema(NamedSubmissionSchema):
    """Documentation only: what staff may receive. While the assignment is anonymous,
    `candidate_number` replaces `user_id` and `user`."""

    candidate_number = fields.String(metadata={"description": "Only while anonymous"})


def _candidate_number(assignment_id: int, user_id: int) -> str:
    from academy.assessment.services import candidate_number

    return candidate_number(assignment_id, user_id)


class SubmitSchema(RequestSchema):
    declaration = StrictBoolean(
        required=True,
        metadata={"description": "Must be `true`: the learner declares the work is their own"},
    )


class SubmittedSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    status = fields.String(metadata={"enum": ["submitted"]})
    submitted_at = fields.DateTime()
    late_working_days = fields.Integer()
    version = fields.Integer()
    receipt = fields.Nested(ReceiptSchema)


class ReopenSchema(RequestSchema):
    reason = Text(required=True, validate=[validate.Length(max=2000), not_blank])


# --- extensions --------------------------------------------------------------------------------


class ExtensionRequestSchema(RequestSchema):
    assignment_id = Id(required=True)
    reason = Text(required=True, validate=[validate.Length(max=5000), not_blank])
    requested_due_at = Moment(
        required=True, metadata={"description": "After your current due date"}
    )


class ExtensionDecisionSchema(RequestSchema):
    approved = StrictBoolean(required=True)
    due_at = Moment(
        allow_none=True,
        metadata={"description": "The new due date when approving (default: the one asked for)"},
    )
    comment = Text(
        load_default="",
        validate=validate.Length(max=5000),
        metadata={"description": "Required when declining"},
    )
    version = fields.Integer(
        strict=True, metadata={"description": "The version you read (optional)"}
    )


class ExtensionSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    reason = fields.String()
    requested_due_at = fields.DateTime()
    status = fields.String(metadata={"enum": list(EXTENSION_STATUSES)})
    self_certified = fields.Boolean()
    granted_due_at = fields.DateTime(allow_none=True)
    granted_cutoff_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    comment = fields.String(attribute="decision_comment")
    version = fields.Integer()
    created_at = fields.DateTime()


class NamedExtensionSchema(ExtensionSchema):
    user_id = fields.Integer()
    user = fields.Nested(SubmitterSchema)


class AnonymousExtensionSchema(ExtensionSchema):
    candidate_number = fields.Function(
        lambda extension: _candidate_number(extension.assignment_id, extension.user_id),
        metadata={"type": "string"},
    )


class DocumentedExtensionSchema(NamedExtensionSchema):
    """Documentation only: while the assignment is anonymous, staff receive `candidate_number`
    instead of `user_id` and `user` (the learner themself always gets their own)."""

    candidate_number = fields.String(metadata={"description": "Only while anonymous, for staff"})


class ExtensionListArgs(PageArgs):
    assignment_id = Id(strict=False)
    status = fields.String(validate=validate.OneOf(EXTENSION_STATUSES))
