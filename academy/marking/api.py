"""/api/v1 marking: save a mark, second mark and agree, ratify, release, a learner's marks, results.

Every rule (versions, ranges, rubrics, penalties, second marking, release) is in
academy.marking.services, which the HTML pages call too; these endpoints load (404 outside the
caller's scope), authorise (403), call a service and commit once.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import abort, jsonify
from flask_smorest import Blueprint

from academy.assessment.models import Assignment, Submission
from academy.assessment.policy import visible_assignments, visible_submissions
from academy.auth.api_auth import api_user
from academy.core.api import ID, documented_errors, stale_version
from academy.core.errors import Conflict, DomainError
from academy.core.pagination import PAGINATION_HEADERS, PageArgs, paginate
from academy.extensions import db
from academy.marking import policy, schemas, services
from academy.marking.models import Mark, ModuleResult
from academy.marking.services import StaleMark

log = logging.getLogger(__name__)

blp = Blueprint(
    "marking_api", __name__, description="Marks, second marking, release, and module results"
)

MARK_OUTPUT = (
    "The marking record for staff. While the assignment's second marking is blind and the "
    "second mark is not in yet, only the first marker reads `mark`, `rubric_scores`, "
    "`feedback`, `penalty` and `final_mark` (null for anyone else). It never names the learner."
)


# --- loading within the caller's scope ---------------------------------------------------------


def _submission_or_404(submission_id: int) -> Submission:
    stmt = visible_submissions(api_user()).where(Submission.id == submission_id)
    submission = db.session.scalar(stmt)
    if submission is None:
        abort(404)
    return submission


def _assignment_or_404(assignment_id: int) -> Assignment:
    assignment = db.session.scalar(
        visible_assignments(api_user()).where(Assignment.id == assignment_id)
    )
    if assignment is None:
        abort(404)
    return assignment


def _marker_of(submission: Submission) -> None:
    caller = api_user()
    if not policy.can_mark(caller, submission.assignment):
        abort(403, description="Only the cohort's tutors and admins can mark this work.")
    if submission.user_id == caller.id:
        abort(403, description="You cannot mark your own work.")


def _json(body, status: int = 200, headers: dict | None = None):
    """A ready response, so the documented schema does not dump it again."""
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _with_current(error: StaleMark, submission: Submission) -> StaleMark:
    """A stale write answers with the mark as it is now, in the shape the caller reads it."""
    error.extra["current"] = schemas.staff_mark(
        services.mark_for(submission), api_user(), submission.id
    )
    return error


# --- marking -----------------------------------------------------------------------------------


@blp.put(f"/submissions/<{ID}:submission_id>/mark")
@blp.arguments(schemas.MarkSaveSchema)
@blp.response(200, schemas.StaffMarkSchema, description=MARK_OUTPUT)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def save_mark(data, submission_id):
    """Save the first marker's mark, rubric scores and feedback (the cohort's tutors, admins),
    sending the mark's `version` you read (0 before the first save). `complete: false` keeps
    it as a draft. With a rubric, the chosen levels give the mark.

    A mark above the assignment's maximum or below 0, more than two decimal places, or rubric
    criteria or levels that do not exist: 422 naming the field, nothing saved. A stale
    `version` (someone saved since you read it; of two saves at once, the later one): 409 with
    the mark as it is now in `current`. Work not submitted yet, or a mark already second
    marked (record an agreed mark instead): 409. Changing a released mark needs a `reason`
    (422 without one); the learner sees the change at once. Work outside your cohorts: 404."""
    submission = _submission_or_404(submission_id)
    _marker_of(submission)
    expected_version = data.pop("version")
    try:
        mark = services.save_mark(
            submission, actor=api_user(), expected_version=expected_version, **data
        )
    except StaleMark as error:
        raise _with_current(error, submission) from None
    db.session.commit()
    return _json(schemas.staff_mark(mark, api_user()))


@blp.post(f"/submissions/<{ID}:submission_id>/moderation")
@blp.arguments(schemas.ModerationSchema)
@blp.response(200, schemas.StaffMarkSchema, description=MARK_OUTPUT)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def moderate(data, submission_id):
    """Second mark a completed first mark (the cohort's tutors other than the first marker;
    admins).

    - `{"agreed": true, "comment"?}`: you agree; the first mark becomes the agreed mark.
    - `{"agreed": false, "mark", "comment"}`: your own second mark. Within the assignment's
      `moderation_tolerance` of the first, the first mark stands (`status` agreed); beyond it
      the mark is flagged (`status` second_marked, `needs_agreement` true) and cannot be
      released until an agreed mark is recorded.
    - On a flagged mark, `{"agreed": true, "mark", "comment"}` by either marker or an admin
      records `mark` as the agreed mark, with the comment saying how it was agreed. The second
      marker may instead send `{"agreed": false, "mark", "comment"}` again to revise their mark.

    No completed first mark, or a mark already agreed or released: 409. You marked it first:
    422. `mark` out of range, or missing where needed: 422. A stale `version`: 409 with
    `current`."""
    submission = _submission_or_404(submission_id)
    _marker_of(submission)
    caller = api_user()
    mark = services.mark_for(submission)
    if mark is None:
        raise Conflict("There is no completed first mark to second mark yet")
    try:
        _moderate(mark, caller, data)
    except StaleMark as error:
        raise _with_current(error, submission) from None
    db.session.commit()
    return _json(schemas.staff_mark(mark, caller))


def _moderate(mark: Mark, caller, data: dict) -> None:
    flagged = services.needs_agreement(mark)
    if flagged and data["agreed"]:
        if data["mark"] is None:
            raise DomainError("Give the mark the markers agreed", field="mark")
        if not policy.can_agree(caller, mark):
            abort(403, description="Only the two markers or an admin can record the agreed mark.")
        services.agree(
            mark,
            actor=caller,
            agreed_mark=data["mark"],
            comment=data["comment"],
            expected_version=data.get("version"),
        )
        return
    if data["agreed"] and data["mark"] is not None:
        raise DomainError(
            "Leave out mark when you agree with the first mark, or send agreed false with your own",
            field="mark",
        )
    services.moderate(
        mark,
        actor=caller,
        agreed=data["agreed"],
        second_mark=data["mark"],
        comment=data["comment"],
        expected_version=data.get("version"),
    )


# --- release -----------------------------------------------------------------------------------


@blp.post(f"/assignments/<{ID}:assignment_id>/release")
@blp.arguments(schemas.ReleaseSchema)
@blp.response(200, schemas.ReleasedSchema)
@documented_errors(blp, 400, 401, 403, 404)
def release(data, assignment_id):
    """Release every ready mark of the assignment together (admins; the cohort's tutors): marked
    and not chosen for second marking, or agreed. Drafts and marks waiting for a second mark or
    an agreed mark stay back. Each learner whose mark was released is emailed. Releasing again
    releases only what became ready since: `{"released": 0}` when nothing did."""
    assignment = _assignment_or_404(assignment_id)
    caller = api_user()
    if not policy.can_mark(caller, assignment):
        abort(403, description="Only the cohort's tutors and admins can release marks.")
    released = services.release(assignment, actor=caller)
    services.send_release_notices(released)
    db.session.commit()
    return {"released": len(released)}


@blp.post(f"/assignments/<{ID}:assignment_id>/ratify")
@blp.arguments(schemas.ReleaseSchema)
@blp.response(200, schemas.RatifiedSchema)
@documented_errors(blp, 400, 401, 403, 404)
def ratify(data, assignment_id):
    """The exam board's optional ratification (admins only): every mark of the assignment that
    is ready for release and not yet ratified or released becomes `ratified`. Ratified marks
    stay ready, and the next release releases them. Ratifying again ratifies only what became
    ready since: `{"ratified": 0}` when nothing did. Tutors: 403."""
    assignment = _assignment_or_404(assignment_id)
    caller = api_user()
    if not policy.can_ratify(caller):
        abort(403, description="Only admins can ratify marks for the exam board.")
    ratified = services.ratify(assignment, actor=caller)
    db.session.commit()
    return {"ratified": len(ratified)}


# --- what learners, staff and sponsors read ----------------------------------------------------


@blp.get("/me/marks")
@blp.arguments(PageArgs, location="query")
@blp.response(200, schemas.MyMarkSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def my_marks(args):
    """Your released marks and feedback, newest first: the mark before the late penalty
    (`raw_mark`), the `penalty` and why (`late_working_days`, `penalty_waived`), the final
    `mark`, feedback and rubric levels. Marks not yet released are not listed at all."""
    stmt = (
        sa.select(Mark)
        .join(Mark.submission)
        .where(Submission.user_id == api_user().id, Mark.status == "released")
        .order_by(Mark.released_at.desc(), Mark.id.desc())
    )
    items, status, headers = paginate(stmt, args)
    return _json([schemas.my_mark(mark) for mark in items], status, headers)


@blp.get("/results")
@blp.arguments(schemas.ResultListArgs, location="query")
@blp.response(
    200,
    schemas.ResultSchema(many=True),
    headers=PAGINATION_HEADERS,
    description="`mark` is left out of results the caller sees only as a sponsor.",
)
@documented_errors(blp, 401)
def results(args):
    """Module results, worked out from released final marks: admins all; tutors their cohorts';
    examiners their programmes' cohorts'; learners their own; sponsors those of the learners
    their organisations sponsor, with pass/fail and credits, and the `mark` only where the
    learner has chosen to share marks with their sponsor (`PUT /me/marks-sharing`). Filter by
    `cohort_id`, `user_id`."""
    caller = api_user()
    stmt = policy.visible_results(caller)
    if args.get("cohort_id") is not None:
        stmt = stmt.where(ModuleResult.cohort_id == args["cohort_id"])
    if args.get("user_id") is not None:
        stmt = stmt.where(ModuleResult.user_id == args["user_id"])
    items, status, headers = paginate(stmt, args)
    reads_mark = policy.result_mark_reader(caller)
    return _json([schemas.result(row, reads_mark(row)) for row in items], status, headers)
