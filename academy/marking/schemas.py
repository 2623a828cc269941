"""JSON shapes for marks, moderation, release, a learner's marks and module results.

Output is split by audience (DESIGN.md convention 7): staff get the whole marking record, the
learner gets only what was released to them, sponsors get results without marks. The builders
at the bottom pick the shape, so no endpoint can hand one audience another's fields.
"""

from __future__ import annotations

import math

from marshmallow import Schema, fields, validate

from academy.assessment.schemas import StrictBoolean
from academy.core.api import Id, RequestSchema, Text
from academy.core.pagination import PageArgs
from academy.marking import policy
from academy.marking.models import MARK_STATUSES, Mark, ModuleResult
from academy.marking.services import needs_agreement

# --- request field types -----------------------------------------------------------------------


class Number(fields.Field):
    """A JSON number (not a string, not true/false, not infinite). Kept as written, so the
    services judge its range and its decimal places against the assignment."""

    default_error_messages = {"invalid": "Must be a number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        return value


class Version(fields.Integer):
    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=0))
        super().__init__(**kwargs)


# --- requests ----------------------------------------------------------------------------------


class MarkSaveSchema(RequestSchema):
    mark = Number(
        allow_none=True,
        load_default=None,
        metadata={
            "type": "number",
            "description": "Out of the assignment's `max_mark`, at most two decimal places. "
            "With a rubric it may be left out: the chosen levels add up to it (a mark sent "
            "with rubric scores must equal their total).",
        },
    )
    feedback = Text(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=50_000),
        metadata={"description": "Markdown; left out, the feedback saved before is kept"},
    )
    rubric_scores = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True),
        allow_none=True,
        load_default=None,
        metadata={
            "description": 'Level chosen per criterion, by index: `{"0": 2, "1": 0}`; every '
            "criterion of the rubric, and only those"
        },
    )
    version = Version(
        required=True,
        metadata={"description": "The mark's `version` you read: 0 before the first save"},
    )
    complete = StrictBoolean(
        load_default=True,
        metadata={"description": "false keeps the mark as a draft (default true: marked)"},
    )
    penalty_waiver = Text(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={
            "description": "Why no late penalty applies (an extension or mitigation); an empty "
            "string removes the waiver; left out, it is kept"
        },
    )
    reason = Text(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "Why the mark changes: required once it has been released"},
    )


class ModerationSchema(RequestSchema):
    agreed = StrictBoolean(
        required=True,
        metadata={"description": "true: you agree with the first mark (or, on a flagged mark, "
                  "with `mark` as the agreed mark); false: `mark` is your own second mark"},
    )  # fmt: skip
    mark = Number(
        allow_none=True,
        load_default=None,
        metadata={"type": "number", "description": "Your second mark, or the agreed mark"},
    )
    comment = Text(
        load_default="",
        validate=validate.Length(max=5000),
        metadata={"description": "Required for a second mark of your own and for an agreed mark"},
    )
    version = Version(
        metadata={"description": "The mark's `version` you read (optional); a stale one is 409"}
    )


class ReleaseSchema(RequestSchema):
    """No fields: send `{}` or no body at all."""


class ResultListArgs(PageArgs):
    cohort_id = Id(strict=False)
    user_id = Id(strict=False)


# --- output ------------------------------------------------------------------------------------


def _number(value):
    return None if value is None else float(value)


class StaffMarkSchema(Schema):
    """The marking record as the cohort's tutors and admins read it. While blind second marking
    waits for the second mark, only the first marker reads `mark`, `rubric_scores`, `feedback`,
    `penalty` and `final_mark`; the others get them as null."""

    submission_id = fields.Integer()
    mark = fields.Float(
        allow_none=True, metadata={"description": "The first marker's mark, before any penalty"}
    )
    penalty = fields.Float(allow_none=True, metadata={"description": "Late penalty in marks"})
    final_mark = fields.Float(
        allow_none=True, metadata={"description": "The mark the learner gets after the penalty"}
    )
    feedback = fields.String(allow_none=True)
    rubric_scores = fields.Dict(allow_none=True)
    status = fields.String(allow_none=True, metadata={"enum": list(MARK_STATUSES)})
    version = fields.Integer()
    needs_second_marking = fields.Boolean()
    needs_agreement = fields.Boolean(
        metadata={"description": "Flagged: the markers are further apart than the tolerance"}
    )
    second_mark = fields.Float(allow_none=True)
    second_comment = fields.String(allow_none=True)
    agreed_mark = fields.Float(allow_none=True)
    agreed_comment = fields.String(allow_none=True)
    penalty_waiver = fields.String(allow_none=True)
    marker_id = fields.Integer(allow_none=True)
    second_marker_id = fields.Integer(allow_none=True)
    released_at = fields.DateTime(allow_none=True)


class LearnerMarkSchema(Schema):
    """A released mark as the learner reads it on their submission."""

    mark = fields.Float(metadata={"description": "The (agreed) mark before any late penalty"})
    penalty = fields.Float()
    final_mark = fields.Float()
    penalty_waived = fields.Boolean()
    feedback = fields.String()
    rubric_scores = fields.Dict(allow_none=True)
    status = fields.String(metadata={"enum": ["released"]})
    version = fields.Integer()
    released_at = fields.DateTime()


class MyMarkSchema(Schema):
    submission_id = fields.Integer()
    assignment_id = fields.Integer()
    assignment_title = fields.String()
    module_id = fields.Integer()
    max_mark = fields.Integer()
    raw_mark = fields.Float(metadata={"description": "The (agreed) mark before any late penalty"})
    penalty = fields.Float(metadata={"description": "Marks taken off for lateness"})
    mark = fields.Float(metadata={"description": "The final mark: `raw_mark` less `penalty`"})
    late_working_days = fields.Integer()
    penalty_waived = fields.Boolean(
        metadata={"description": "Late, but an extension or mitigation waived the penalty"}
    )
    feedback = fields.String()
    rubric_scores = fields.Dict(allow_none=True)
    released_at = fields.DateTime()


class ReleasedSchema(Schema):
    released = fields.Integer(metadata={"description": "Marks released by this call"})


class RatifiedSchema(Schema):
    ratified = fields.Integer(metadata={"description": "Marks ratified by this call"})


class SponsorResultSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    module_id = fields.Integer()
    cohort_id = fields.Integer()
    attempt = fields.Integer(metadata={"description": "1, or 2 for the one resit"})
    passed = fields.Boolean()
    credits = fields.Integer(metadata={"description": "Credits earned (0 until passed)"})
    capped = fields.Boolean(metadata={"description": "A resit mark held down to the pass mark"})
    status = fields.String(
        metadata={
            "enum": ["incomplete", "complete"],
            "description": "complete once every assignment of the attempt has a released mark",
        }
    )
    updated_at = fields.DateTime()


class ResultSchema(SponsorResultSchema):
    mark = fields.Float(
        allow_none=True,
        metadata={
            "description": "Weighted percentage from released final marks. Not sent to callers "
            "who see the result only as a sponsor"
        },
    )


# --- builders ----------------------------------------------------------------------------------

#: A submission's `mark` before the first save: version 0, everything else empty.
NO_MARK = {
    "submission_id": None,
    "mark": None,
    "penalty": None,
    "final_mark": None,
    "feedback": None,
    "rubric_scores": None,
    "status": None,
    "version": 0,
    "needs_second_marking": False,
    "needs_agreement": False,
    "second_mark": None,
    "second_comment": None,
    "agreed_mark": None,
    "agreed_comment": None,
    "penalty_waiver": None,
    "marker_id": None,
    "second_marker_id": None,
    "released_at": None,
}

_FIRST_MARK_FIELDS = ("mark", "penalty", "final_mark", "feedback", "rubric_scores")


def staff_mark(mark: Mark | None, viewer, submission_id: int | None = None) -> dict:
    if mark is None:
        return {**NO_MARK, "submission_id": submission_id}
    body = StaffMarkSchema().dump(
        {
            "submission_id": mark.submission_id,
            "mark": _number(mark.raw_mark),
            "penalty": _number(mark.penalty),
            "final_mark": _number(mark.final_mark),
            "feedback": mark.feedback,
            "rubric_scores": mark.rubric_scores,
            "status": mark.status,
            "version": mark.version,
            "needs_second_marking": mark.needs_second_marking,
            "needs_agreement": needs_agreement(mark),
            "second_mark": _number(mark.second_mark),
            "second_comment": mark.second_comment,
            "agreed_mark": _number(mark.agreed_mark),
            "agreed_comment": mark.agreed_comment,
            "penalty_waiver": mark.penalty_waiver,
            "marker_id": mark.marker_id,
            "second_marker_id": mark.second_marker_id,
            "released_at": mark.released_at,
        }
    )
    if not policy.sees_first_mark(viewer, mark):
        body.update(dict.fromkeys(_FIRST_MARK_FIELDS))
    return body


def learner_mark(mark: Mark) -> dict:
    return LearnerMarkSchema().dump(
        {
            "mark": _number(mark.mark_before_penalty),
            "penalty": _number(mark.penalty),
            "final_mark": _number(mark.final_mark),
            "penalty_waived": bool(mark.penalty_waiver),
            "feedback": mark.feedback,
            "rubric_scores": mark.rubric_scores,
            "status": mark.status,
            "version": mark.version,
            "released_at": mark.released_at,
        }
    )


def my_mark(mark: Mark) -> dict:
    submission = mark.submission
    assignment = submission.assignment
    return MyMarkSchema().dump(
        {
            "submission_id": submission.id,
            "assignment_id": assignment.id,
            "assignment_title": assignment.title,
            "module_id": assignment.delivery.module_id,
            "max_mark": assignment.max_mark,
            "raw_mark": _number(mark.mark_before_penalty),
            "penalty": _number(mark.penalty),
            "mark": _number(mark.final_mark),
            "late_working_days": submission.late_working_days or 0,
            "penalty_waived": bool(mark.penalty_waiver),
            "feedback": mark.feedback,
            "rubric_scores": mark.rubric_scores,
            "released_at": mark.released_at,
        }
    )


def result(row: ModuleResult, with_mark: bool) -> dict:
    return (ResultSchema() if with_mark else SponsorResultSchema()).dump(row)
