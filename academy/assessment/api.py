"""/api/v1 assignments, submissions with their files and receipts, and extensions.

Every rule about deadlines, file types and locking is in academy.assessment.services, which the
HTML pages call too; these endpoints only load (404 outside the caller's scope), authorise (403)
and call them.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import abort, jsonify
from flask_smorest import Blueprint

from academy.assessment import policy, services
from academy.assessment.models import Assignment, Extension, Submission, SubmissionFile
from academy.assessment.schemas import (
    AnonymousExtensionSchema,
    AnonymousSubmissionSchema,
    AssignmentCreateSchema,
    AssignmentListArgs,
    AssignmentSchema,
    AssignmentUpdateSchema,
    DeadlineSchema,
    DocumentedExtensionSchema,
    ExtensionDecisionSchema,
    ExtensionListArgs,
    ExtensionRequestSchema,
    LearnerAssignmentSchema,
    NamedExtensionSchema,
    NamedSubmissionSchema,
    OwnSubmissionRefSchema,
    OwnSubmissionSchema,
    ReopenSchema,
    StaffSubmissionSchema,
    SubmissionUploadSchema,
    SubmitSchema,
    SubmittedSchema,
    UploadedSchema,
)
from academy.auth.api_auth import api_user
from academy.cohorts.models import Cohort, ModuleDelivery
from academy.cohorts.policy import visible_cohorts
from academy.core.api import ID, documented_errors, requires, stale_version
from academy.core.downloads import send_stored_file
from academy.core.errors import Conflict, DomainError
from academy.core.filetypes import FILE_TYPES
from academy.core.pagination import PAGINATION_HEADERS, PageArgs, paginate
from academy.extensions import db
from academy.marking import policy as marking_policy
from academy.marking import schemas as marking_schemas
from academy.marking import services as marking_services
from academy.marking.models import Mark

log = logging.getLogger(__name__)

blp = Blueprint(
    "assessment_api", __name__, description="Assignments, submissions, files and extensions"
)

SUBMISSION_OUTPUT = (
    "The learner who owns the work gets no `mark` at all until their mark is released; then "
    "`mark` is `{mark, penalty, final_mark, penalty_waived, feedback, rubric_scores, status, "
    "version, released_at}`. Tutors of the cohort and admins always get `mark` (the marking "
    "record) and `user_id` and `user`, except while the assignment is anonymous and the mark "
    "unreleased: then `candidate_number` instead, and nothing else of who."
)
EXTENSION_OUTPUT = (
    "Staff get `user_id` and `user`, except while the assignment is anonymous: then "
    "`candidate_number` instead. The learner who asked always gets their own."
)


# --- loading within the caller's scope ---------------------------------------------------------


def _assignment_or_404(assignment_id: int) -> Assignment:
    stmt = policy.visible_assignments(api_user()).where(Assignment.id == assignment_id)
    assignment = db.session.scalar(stmt)
    if assignment is None:
        abort(404)
    return assignment


def _submission_or_404(submission_id: int) -> Submission:
    stmt = policy.visible_submissions(api_user()).where(Submission.id == submission_id)
    submission = db.session.scalar(stmt)
    if submission is None:
        abort(404)
    return submission


def _extension_or_404(extension_id: int) -> Extension:
    stmt = policy.visible_extensions(api_user()).where(Extension.id == extension_id)
    extension = db.session.scalar(stmt)
    if extension is None:
        abort(404)
    return extension


def _file_of(submission: Submission, file_id: int) -> SubmissionFile:
    """A file of this submission only: another submission's file id answers 404, never its bytes."""
    file = next((f for f in submission.files if f.id == file_id), None)
    if file is None:
        abort(404)
    return file


def _own_work(submission: Submission) -> None:
    """Only the learner themself, still active in the cohort, changes or hands in their work."""
    caller = api_user()
    if submission.user_id != caller.id:
        abort(403, description="Only the learner whose work this is can change or submit it.")
    if not policy.is_candidate(caller, submission.assignment):
        abort(403, description="You are no longer an active learner on this assignment's cohort.")


def _staff_of(submission: Submission) -> None:
    if not policy.can_see_work(api_user(), submission):
        abort(403)


# --- output by audience ------------------------------------------------------------------------


#: `_dump_submission` loads the mark itself unless a list has loaded every mark at once.
_NOT_LOADED = object()


def _dump_submission(submission: Submission, mark: Mark | None | object = _NOT_LOADED) -> dict:
    caller = api_user()
    if mark is _NOT_LOADED:
        mark = marking_services.mark_for(submission)
    if submission.user_id == caller.id:
        body = OwnSubmissionSchema().dump(submission)
        if marking_policy.learner_sees_mark(caller, mark):
            body["mark"] = marking_schemas.learner_mark(mark)
        return body
    if marking_policy.identities_hidden(submission.assignment, mark):
        body = AnonymousSubmissionSchema().dump(submission)
    else:
        body = NamedSubmissionSchema().dump(submission)
    body["mark"] = marking_schemas.staff_mark(mark, caller, submission.id)
    return body


def _dump_extension(extension: Extension) -> dict:
    if extension.user_id != api_user().id and extension.assignment.anonymous:
        return AnonymousExtensionSchema().dump(extension)
    return NamedExtensionSchema().dump(extension)


def _json(body, status: int = 200, headers: dict | None = None):
    """A ready response, so the documented (widest) schema does not dump it again."""
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _learner_extras(assignment: Assignment) -> dict | None:
    """The caller's own deadline and work, when they are one of the assignment's learners."""
    caller = api_user()
    if policy.teaches_assignment(caller, assignment):
        return None
    submission = services.submission_for(assignment, caller.id)
    if submission is None and not policy.is_candidate(caller, assignment):
        return None
    deadline = services.deadline_for(assignment, caller.id)
    return {
        "deadline": DeadlineSchema().dump(
            {
                "due_at": deadline.due_at,
                "cutoff_at": deadline.cutoff_at,
                "extended": deadline.extended,
                "working_days_left": services.working_days_left(assignment, caller.id),
            }
        ),
        "submission": OwnSubmissionRefSchema().dump(submission) if submission else None,
    }


# --- assignments -------------------------------------------------------------------------------


@blp.post("/assignments")
@requires(policy.sets_assignments, "Only admins and the cohort's tutors can set assignments.")
@blp.arguments(AssignmentCreateSchema)
@blp.response(201, AssignmentSchema)
@documented_errors(blp, 400, 401, 403, 404)
def create_assignment(data):
    """Set an assignment on a module a cohort runs (admins; tutors of that cohort). A cohort
    that does not exist or that the caller cannot see answers 404 (`cohort_id`); a module the
    cohort does not run, 422 (`module_id`); a cohort the caller sees but does not teach, 403."""
    caller = api_user()
    cohort_id, module_id = data.pop("cohort_id"), data.pop("module_id")
    cohort = db.session.scalar(visible_cohorts(caller).where(Cohort.id == cohort_id))
    if cohort is None:
        raise DomainError("There is no cohort with this id", field="cohort_id", status=404)
    delivery = db.session.scalar(
        sa.select(ModuleDelivery).where(
            ModuleDelivery.cohort_id == cohort.id, ModuleDelivery.module_id == module_id
        )
    )
    if delivery is None:
        raise DomainError("This cohort does not run that module", field="module_id")
    if not policy.can_set_assignments_for(caller, delivery):
        abort(403, description="Only admins and the cohort's tutors can set its assignments.")
    assignment = services.create_assignment(actor=caller, delivery=delivery, **data)
    db.session.commit()
    return assignment


@blp.get("/assignments")
@blp.arguments(AssignmentListArgs, location="query")
@blp.response(200, AssignmentSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def list_assignments(args):
    """Assignments the caller may see, by due time: admins all; tutors and examiners their
    cohorts'; learners their own cohorts'. `GET /assignments/{id}` adds a learner's own
    deadline."""
    stmt = policy.visible_assignments(api_user())
    if args.get("cohort_id") is not None or args.get("module_id") is not None:
        stmt = stmt.join(Assignment.delivery)
    if args.get("cohort_id") is not None:
        stmt = stmt.where(ModuleDelivery.cohort_id == args["cohort_id"])
    if args.get("module_id") is not None:
        stmt = stmt.where(ModuleDelivery.module_id == args["module_id"])
    return paginate(stmt, args)


@blp.get(f"/assignments/<{ID}:assignment_id>")
@blp.response(200, LearnerAssignmentSchema)
@documented_errors(blp, 401, 404)
def get_assignment(assignment_id):
    """One assignment; 404 outside the caller's scope. For one of its learners it adds
    `deadline` (their own, moved by an approved extension, with working days left) and
    `submission` (theirs, or null)."""
    assignment = _assignment_or_404(assignment_id)
    body = AssignmentSchema().dump(assignment)
    body.update(_learner_extras(assignment) or {})
    return _json(body)


@blp.patch(f"/assignments/<{ID}:assignment_id>")
@blp.arguments(AssignmentUpdateSchema)
@blp.response(200, AssignmentSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def update_assignment(data, assignment_id):
    """Change an assignment (admins; tutors of its cohort), sending the `version` read. A stale
    version answers 409 with the current state in `current`, and nothing is changed."""
    assignment = _assignment_or_404(assignment_id)
    caller = api_user()
    if not policy.teaches_assignment(caller, assignment):
        abort(403, description="Only admins and the cohort's tutors can change its assignments.")
    expected_version = data.pop("version")
    try:
        services.update_assignment(
            assignment, actor=caller, expected_version=expected_version, **data
        )
    except Conflict as error:
        if error.field == "version":
            error.extra["current"] = AssignmentSchema().dump(assignment)
        raise
    db.session.commit()
    return assignment


# --- submissions -------------------------------------------------------------------------------


@blp.post(f"/assignments/<{ID}:assignment_id>/submission/files")
@blp.arguments(SubmissionUploadSchema, location="files")
@blp.response(201, UploadedSchema)
@documented_errors(blp, 400, 401, 404, 409, 413, 415)
def upload_file(files, assignment_id):
    """Add a file to your draft (learners active in the cohort), creating the draft on the
    first upload; a file of the same name replaces the earlier one. The type is judged by the
    content: not allowed 415; over the assignment's size limit 413; empty 422; before opening,
    after your cut-off (extensions included) or once submitted, 409. Anyone who is not one of
    the assignment's learners gets 404."""
    caller = api_user()
    assignment = _assignment_or_404(assignment_id)
    if not policy.is_candidate(caller, assignment):
        abort(404)
    upload = files["file"]
    added = services.add_file(assignment, caller, upload.stream, upload.filename or "")
    db.session.commit()
    return {"submission_id": added.submission_id, "file": added}


@blp.post(f"/submissions/<{ID}:submission_id>/submit")
@blp.arguments(SubmitSchema)
@blp.response(200, SubmittedSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def submit(data, submission_id):
    """Hand in your draft (the learner themself) with `{"declaration": true}` that it is your
    own work. The work is locked and a receipt kept and emailed: the time and the SHA-256 of
    each file and of the whole submission. Without the declaration or without files, 422;
    already submitted or after your cut-off, 409. Of two submits at once, one succeeds and the
    other answers 409."""
    submission = _submission_or_404(submission_id)
    _own_work(submission)
    receipt = services.submit(submission, declaration=data["declaration"], actor=api_user())
    services.send_receipt(receipt)
    db.session.commit()
    return {
        "id": submission.id,
        "assignment_id": submission.assignment_id,
        "status": submission.status,
        "submitted_at": submission.submitted_at,
        "late_working_days": submission.late_working_days,
        "version": submission.version,
        "receipt": receipt,
    }


@blp.get(f"/submissions/<{ID}:submission_id>")
@blp.response(200, StaffSubmissionSchema, description=SUBMISSION_OUTPUT)
@documented_errors(blp, 401, 403, 404)
def get_submission(submission_id):
    """One submission with its files and receipts: the learner themself, the cohort's tutors
    and admins. Sponsors never (404)."""
    submission = _submission_or_404(submission_id)
    if submission.user_id != api_user().id:
        _staff_of(submission)
    return _json(_dump_submission(submission))


# Registered before the DELETE on the same path: for an id beyond the converter's range Werkzeug
# answers 405 instead of 404 when another method's rule comes first, and GET is how ids are probed.
@blp.get(f"/submissions/<{ID}:submission_id>/files/<{ID}:file_id>")
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/octet-stream",
    description="The file's bytes, always as an attachment, with the type its content showed",
)
@documented_errors(blp, 401, 403, 404)
def download_file(submission_id, file_id):
    """Download one file of a submission (the learner themself, the cohort's tutors, admins),
    always as an attachment under its stored name. A file id of another submission answers
    404."""
    submission = _submission_or_404(submission_id)
    if submission.user_id != api_user().id:
        _staff_of(submission)
    file = _file_of(submission, file_id)
    file_type = FILE_TYPES.get(file.file_type)
    return send_stored_file(file.sha256, file.name, file_type and file_type.mime, etag=True)


@blp.delete(f"/submissions/<{ID}:submission_id>/files/<{ID}:file_id>")
@blp.response(204)
@documented_errors(blp, 401, 403, 404, 409)
def remove_file(submission_id, file_id):
    """Remove a file from your draft (the learner themself). Once submitted, or after your
    cut-off, 409. A file of another submission answers 404."""
    submission = _submission_or_404(submission_id)
    _own_work(submission)
    services.remove_file(submission, _file_of(submission, file_id), api_user())
    db.session.commit()
    return None


@blp.post(f"/submissions/<{ID}:submission_id>/reopen")
@blp.arguments(ReopenSchema)
@blp.response(200, StaffSubmissionSchema, description=SUBMISSION_OUTPUT)
@documented_errors(blp, 400, 401, 403, 404, 409)
def reopen(data, submission_id):
    """Unlock submitted work so the learner can change it (the cohort's tutors, admins), with a
    reason that is audited. Its receipts are kept. Work that is not submitted answers 409."""
    submission = _submission_or_404(submission_id)
    caller = api_user()
    if submission.user_id == caller.id or not policy.teaches_assignment(
        caller, submission.assignment
    ):
        abort(403, description="Only the cohort's tutors and admins can reopen work.")
    services.reopen(submission, actor=caller, reason=data["reason"])
    db.session.commit()
    return _json(_dump_submission(submission))


@blp.get(f"/assignments/<{ID}:assignment_id>/submissions")
@blp.arguments(PageArgs, location="query")
@blp.response(
    200,
    StaffSubmissionSchema(many=True),
    headers=PAGINATION_HEADERS,
    description=SUBMISSION_OUTPUT,
)
@documented_errors(blp, 401, 403, 404)
def list_submissions(args, assignment_id):
    """Every submission (drafts too) to an assignment (the cohort's tutors, admins), each with
    its `mark` (status, raw and final mark, version). While the assignment is anonymous and a
    mark unreleased, each carries a `candidate_number` and nothing else of who; they are in the
    order they were started."""
    assignment = _assignment_or_404(assignment_id)
    if not policy.teaches_assignment(api_user(), assignment):
        abort(403)
    stmt = policy.visible_submissions(api_user()).where(Submission.assignment_id == assignment.id)
    items, status, headers = paginate(stmt, args)
    marks = marking_services.marks_for(items)
    return _json([_dump_submission(s, marks.get(s.id)) for s in items], status, headers)


# --- extensions --------------------------------------------------------------------------------


@blp.post("/extensions")
@blp.arguments(ExtensionRequestSchema)
@blp.response(201, NamedExtensionSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def request_extension(data):
    """Ask for more time on an assignment (learners active in its cohort), with a reason and the
    due date wanted. Within the cohort's self-certification limit (working days) it comes back
    `approved` at once; otherwise `pending` until a tutor decides. A date not after your current
    due date, 422; after the cut-off, or with a request already waiting, 409. An assignment the
    caller cannot see answers 404 (`assignment_id`)."""
    caller = api_user()
    stmt = policy.visible_assignments(caller).where(Assignment.id == data["assignment_id"])
    assignment = db.session.scalar(stmt)
    if assignment is None:
        raise DomainError("There is no assignment with this id", field="assignment_id", status=404)
    if not policy.is_candidate(caller, assignment):
        abort(403, description="Only the assignment's active learners can ask for an extension.")
    extension = services.request_extension(
        assignment, caller, reason=data["reason"], requested_due_at=data["requested_due_at"]
    )
    db.session.commit()
    return _json(_dump_extension(extension), 201)


@blp.post(f"/extensions/<{ID}:extension_id>/decision")
@blp.arguments(ExtensionDecisionSchema)
@blp.response(200, DocumentedExtensionSchema, description=EXTENSION_OUTPUT)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def decide_extension(data, extension_id):
    """Approve (with a new `due_at`, default the date asked for) or decline (with a `comment`)
    a waiting request (the cohort's tutors, admins; never your own). The learner's cut-off moves
    with their due date. Already decided, or a stale `version`, 409."""
    extension = _extension_or_404(extension_id)
    caller = api_user()
    decidable = policy.decidable_extensions(caller).where(Extension.id == extension.id)
    if db.session.scalar(decidable.with_only_columns(Extension.id)) is None:
        abort(403, description="Only the cohort's tutors and admins can decide extensions.")
    try:
        services.decide_extension(
            extension,
            actor=caller,
            approved=data["approved"],
            due_at=data.get("due_at"),
            comment=data["comment"],
            expected_version=data.get("version"),
        )
    except Conflict as error:
        if error.field == "version":
            error.extra["current"] = _dump_extension(extension)
        raise
    db.session.commit()
    return _json(_dump_extension(extension))


@blp.get("/extensions")
@blp.arguments(ExtensionListArgs, location="query")
@blp.response(
    200,
    DocumentedExtensionSchema(many=True),
    headers=PAGINATION_HEADERS,
    description=EXTENSION_OUTPUT,
)
@documented_errors(blp, 401)
def list_extensions(args):
    """Extension requests the caller may see: learners their own; tutors their cohorts'; admins
    all. Filter by `assignment_id` and `status`."""
    stmt = policy.visible_extensions(api_user())
    if args.get("assignment_id") is not None:
        stmt = stmt.where(Extension.assignment_id == args["assignment_id"])
    if args.get("status"):
        stmt = stmt.where(Extension.status == args["status"])
    items, status, headers = paginate(stmt, args)
    return _json([_dump_extension(e) for e in items], status, headers)


@blp.get(f"/extensions/<{ID}:extension_id>")
@blp.response(200, DocumentedExtensionSchema, description=EXTENSION_OUTPUT)
@documented_errors(blp, 401, 404)
def get_extension(extension_id):
    """One extension request; 404 outside the caller's scope."""
    return _json(_dump_extension(_extension_or_404(extension_id)))
