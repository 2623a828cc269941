"""/api/v1 cohorts, their tutors and enrolments, and the CSV import. Admins change them; everyone
else reads what the cohort policy scopes give them (a sponsor of one trust listing a cohort shared
with others sees only their own staff)."""

from __future__ import annotations

from flask import abort, jsonify
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.auth.models import User
from academy.cohorts import importing, policy, services
from academy.cohorts.models import Cohort, Enrolment
from academy.cohorts.schemas import (
    AdminEnrolmentSchema,
    CohortCreateSchema,
    CohortDetailSchema,
    CohortListArgs,
    CohortSchema,
    EnrolmentListArgs,
    EnrolmentSchema,
    EnrolmentStatusSchema,
    EnrolSchema,
    ImportFileSchema,
    ImportResultSchema,
    TutorAssignSchema,
    TutorSchema,
)
from academy.core.api import ID, documented_errors, requires, stale_version
from academy.core.errors import Conflict
from academy.core.pagination import PAGINATION_HEADERS, paginate
from academy.extensions import db
from academy.organisations.models import Organisation

blp = Blueprint("cohorts_api", __name__, description="Cohorts, tutors, enrolments and import")

admins_only = requires(
    policy.can_manage_cohorts, "Only academy admins can change cohorts and enrolments."
)


def _visible_cohort_or_404(cohort_id: int) -> Cohort:
    cohort = db.session.scalar(policy.visible_cohorts(api_user()).where(Cohort.id == cohort_id))
    if cohort is None:
        abort(404)
    return cohort


def _visible_enrolment_or_404(enrolment_id: int) -> Enrolment:
    stmt = policy.visible_enrolments(api_user()).where(Enrolment.id == enrolment_id)
    enrolment = db.session.scalar(stmt)
    if enrolment is None:
        abort(404)
    return enrolment


def _created(schema, obj):
    response = jsonify(schema.dump(obj))
    response.status_code = 201
    return response


# --- cohorts -----------------------------------------------------------------------------------


@blp.post("/cohorts")
@admins_only
@blp.arguments(CohortCreateSchema)
@blp.response(201, CohortDetailSchema)
@documented_errors(blp, 400, 401, 403, 409)
def create_cohort(data):
    """Open a cohort of a programme (admins), optionally with the modules it runs. A name the
    programme already uses answers 409; an end before the start, 422."""
    cohort = services.create_cohort(actor=api_user(), **data)
    db.session.commit()
    return cohort


@blp.get("/cohorts")
@blp.arguments(CohortListArgs, location="query")
@blp.response(200, CohortSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def list_cohorts(args):
    """Cohorts the caller may see: admins all; tutors those they teach; examiners their
    programmes'; sponsors those their organisations sponsor someone in; learners their own."""
    stmt = policy.visible_cohorts(api_user())
    if args.get("programme_id") is not None:
        stmt = stmt.where(Cohort.programme_id == args["programme_id"])
    return paginate(stmt, args)


@blp.get(f"/cohorts/<{ID}:cohort_id>")
@blp.response(200, CohortDetailSchema)
@documented_errors(blp, 401, 404)
def get_cohort(cohort_id):
    """One cohort with its module deliveries and tutors; 404 outside the caller's scope."""
    return _visible_cohort_or_404(cohort_id)


@blp.post(f"/cohorts/<{ID}:cohort_id>/tutors")
@admins_only
@blp.arguments(TutorAssignSchema)
@blp.response(201, TutorSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def assign_tutor(data, cohort_id):
    """Make a user a tutor of the cohort (admins): a tutor role scoped to it. An unknown user
    answers 422 (`user_id`); one who already teaches it, 409."""
    cohort = _visible_cohort_or_404(cohort_id)
    user = db.session.get(User, data["user_id"])
    assignment = services.assign_tutor(cohort, user, actor=api_user())
    db.session.commit()
    return assignment


# --- enrolments --------------------------------------------------------------------------------


@blp.post(f"/cohorts/<{ID}:cohort_id>/enrolments")
@admins_only
@blp.arguments(EnrolSchema)
@blp.response(201, AdminEnrolmentSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def enrol(data, cohort_id):
    """Enrol a learner (admins), sponsored by an organisation (default: their employer). A full
    cohort or a learner already enrolled answers 409; an unknown user 422 (`user_id`)."""
    cohort = _visible_cohort_or_404(cohort_id)
    user = db.session.get(User, data["user_id"])
    sponsor_id = data.get("sponsor_organisation_id")
    if sponsor_id is None and user is not None:
        sponsor_id = user.organisation_id
    sponsor = db.session.get(Organisation, sponsor_id) if sponsor_id is not None else None
    enrolment = services.enrol(user, cohort, sponsor, actor=api_user())
    db.session.commit()
    return enrolment


@blp.post(f"/cohorts/<{ID}:cohort_id>/enrolments/import")
@admins_only
@blp.arguments(ImportFileSchema, location="files")
@blp.response(201, ImportResultSchema)
@documented_errors(blp, 400, 401, 403, 404, 409, 413)
def import_enrolments(files, cohort_id):
    """Enrol learners from a CSV file (admins), creating accounts for new email addresses (each
    emailed an invitation) and matching existing ones. Every row is checked first: any problem
    answers 422 with `errors` keyed `row N` (the header is row 1) or `file`, and nothing is
    imported. Over 2 MB answers 413."""
    cohort = _visible_cohort_or_404(cohort_id)
    data = files["file"].stream.read(importing.MAX_BYTES + 1)
    result = importing.run(data, cohort, actor=api_user())
    db.session.commit()
    importing.send_invitations(result.created)
    db.session.commit()
    return result.counts()


@blp.get(f"/cohorts/<{ID}:cohort_id>/enrolments")
@blp.arguments(EnrolmentListArgs, location="query")
@blp.response(200, EnrolmentSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401, 403, 404)
def list_enrolments(args, cohort_id):
    """The cohort's enrolments the caller may see: admins, tutors and examiners all of them;
    sponsors only those their organisations sponsor. Learners get 403."""
    cohort = _visible_cohort_or_404(cohort_id)
    caller = api_user()
    if not policy.can_list_enrolments(caller):
        abort(403)
    stmt = policy.visible_enrolments(caller).where(Enrolment.cohort_id == cohort.id)
    if args.get("status"):
        stmt = stmt.where(Enrolment.status == args["status"])
    return paginate(stmt, args)


@blp.patch(f"/enrolments/<{ID}:enrolment_id>")
@admins_only
@blp.arguments(EnrolmentStatusSchema)
@blp.response(200, AdminEnrolmentSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def change_status(data, enrolment_id):
    """Change an enrolment's status with a reason (admins), sending the `version` read. Active
    may become deferred, withdrawn or completed; deferred may become active or withdrawn;
    withdrawn and completed are final (other changes answer 422). Withdrawing frees the place.
    A stale version answers 409 with the current state in `current`."""
    enrolment = _visible_enrolment_or_404(enrolment_id)
    try:
        services.change_status(
            enrolment,
            status=data["status"],
            reason=data["reason"],
            actor=api_user(),
            expected_version=data["version"],
        )
    except Conflict as error:
        if error.field == "version":
            db.session.rollback()
            error.extra["current"] = AdminEnrolmentSchema().dump(enrolment)
        raise
    db.session.commit()
    return enrolment
