"""HTML pages for assignments: the learner's list, assignment page, uploads, submission and
receipt; the tutor's tracking page, extension queue, reopening, and setting assignments.

Every page loads through the assessment query scopes (404 when out of reach), then checks the
object-level policy (403), then calls a service and commits once. The deadline rules are the
services'; these views only show what the services decide.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload

from academy.assessment import services
from academy.assessment.forms import (
    DecideExtensionForm,
    DeclarationForm,
    EditAssignmentForm,
    ExtensionRequestForm,
    NewAssignmentForm,
    ReopenForm,
    UploadForm,
    uk_date_text,
    uk_datetime_text,
)
from academy.assessment.models import (
    Assignment,
    Extension,
    Submission,
    SubmissionFile,
    SubmissionReceipt,
)
from academy.assessment.policy import (
    can_see_work,
    decidable_extensions,
    has_enrolment,
    is_candidate,
    own_assignments,
    sets_assignments,
    settable_deliveries,
    teaches_assignment,
    visible_assignments,
    visible_extensions,
    visible_submissions,
)
from academy.assessment.tracking import (
    cohort_tracking,
    download_name,
    shown_name,
    statuses_for_learner,
)
from academy.cohorts.models import Enrolment, ModuleDelivery
from academy.core import clock
from academy.core.access import guard, require
from academy.core.downloads import send_stored_file
from academy.core.errors import DomainError
from academy.core.filetypes import FILE_TYPES, describe
from academy.core.forms import save_or_show, show_domain_error
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.core.richtext import to_safe_html
from academy.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("assessment", __name__)

add_nav_item("My assignments", "assessment.mine", has_enrolment, "assessment.mine")
add_nav_item("Assignments", "assessment.teaching", sets_assignments, "assessment.teaching")


guard(bp)


@bp.app_template_filter("uk_datetime")
def _uk_datetime_filter(moment):
    return uk_datetime_text(moment)


@bp.app_template_filter("uk_date")
def _uk_date_filter(moment):
    return uk_date_text(moment)


@bp.app_template_filter("file_size")
def file_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --- loading and checking ----------------------------------------------------------------------


def _assignment_or_404(assignment_id: int) -> Assignment:
    return db.first_or_404(visible_assignments(current_user).where(Assignment.id == assignment_id))


def _visible_submission_ids() -> sa.Select:
    return visible_submissions(current_user).with_only_columns(Submission.id).order_by(None)


def _require_candidate(assignment: Assignment) -> None:
    """Only an active learner of the cohort hands work in; others who can see the assignment
    (tutors, deferred learners) are refused."""
    require(is_candidate, assignment)


def _own_submission_or_404(assignment: Assignment) -> Submission:
    submission = services.submission_for(assignment, current_user.id)
    if submission is None:
        abort(404)
    return submission


# --- the learner's pages -----------------------------------------------------------------------


@bp.get("/assignments/mine")
def mine():
    assignments = db.session.scalars(
        own_assignments(current_user).options(
            joinedload(Assignment.delivery).joinedload(ModuleDelivery.cohort)
        )
    ).all()
    return render_template(
        "assessment/mine.html",
        assignments=assignments,
        statuses=statuses_for_learner(current_user.id, assignments),
    )


@bp.get("/assignments/<int:assignment_id>")
def assignment(assignment_id: int):
    return _assignment_page(_assignment_or_404(assignment_id))


def _assignment_page(assignment: Assignment, upload_form: UploadForm | None = None, status=200):
    candidate = is_candidate(current_user, assignment)
    context = {
        "assignment": assignment,
        "brief": to_safe_html(assignment.brief, assignment.brief_format),
        "allowed": describe(assignment.allowed_types),
        "teaching": teaches_assignment(current_user, assignment),
        "candidate": candidate,
        "now": clock.now(),
    }
    if candidate:
        submission = services.submission_for(assignment, current_user.id)
        context.update(
            submission=submission,
            deadline=services.deadline_for(assignment, current_user.id),
            days_left=services.working_days_left(assignment, current_user.id),
            accepting=services.accepting_work(assignment, current_user.id),
            status=statuses_for_learner(current_user.id, [assignment])[assignment.id],
            extensions=db.session.scalars(
                sa.select(Extension)
                .where(
                    Extension.assignment_id == assignment.id,
                    Extension.user_id == current_user.id,
                )
                .order_by(Extension.id.desc())
            ).all(),
            upload_form=upload_form or UploadForm(formdata=None),
        )
    return render_template("assessment/assignment.html", **context), status


@bp.post("/assignments/<int:assignment_id>/files")
def upload(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require_candidate(assignment)
    form = UploadForm()
    if not form.validate_on_submit():
        return _assignment_page(assignment, form, status=422)
    upload = form.file.data
    try:
        added = services.add_file(assignment, current_user, upload.stream, upload.filename or "")
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error)
        return _assignment_page(assignment, form, status=error.status)
    log.info("file %s added to submission %s by %s", added.id, added.submission_id,
             current_user.id)  # fmt: skip
    flash(f"{added.name} has been uploaded to your draft", "success")
    return redirect(url_for(".assignment", assignment_id=assignment.id, _anchor="your-files"))


@bp.post("/assignments/<int:assignment_id>/files/<int:file_id>/remove")
def remove_file(assignment_id: int, file_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require_candidate(assignment)
    submission = _own_submission_or_404(assignment)
    # Only a file of the learner's own draft: any other id is as good as absent.
    file = next((f for f in submission.files if f.id == file_id), None)
    if file is None:
        abort(404)
    if not FlaskForm().validate_on_submit():  # only its CSRF token to check
        abort(400)
    name = file.name
    services.remove_file(submission, file, current_user)
    db.session.commit()
    flash(f"{name} has been removed from your draft", "success")
    return redirect(url_for(".assignment", assignment_id=assignment.id, _anchor="your-files"))


@bp.route("/assignments/<int:assignment_id>/submit", methods=["GET", "POST"])
def submit(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require_candidate(assignment)
    submission = services.submission_for(assignment, current_user.id)
    if submission is None or not submission.files:
        flash("Upload at least one file before you submit", "info")
        return redirect(url_for(".assignment", assignment_id=assignment.id))
    if submission.status == "submitted":
        return redirect(url_for(".receipt", receipt_id=submission.receipts[-1].id))
    form = DeclarationForm()
    status = 200
    if form.validate_on_submit():
        try:
            receipt = services.submit(
                submission, declaration=form.declaration.data, actor=current_user
            )
            services.send_receipt(receipt)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
            status = error.status
        else:
            log.info("submission %s submitted by %s", submission.id, current_user.id)
            flash("Your work has been submitted", "success")
            return redirect(url_for(".receipt", receipt_id=receipt.id))
    return render_template(
        "assessment/submit.html",
        form=form,
        assignment=assignment,
        submission=submission,
        deadline=services.deadline_for(assignment, current_user.id),
        now=clock.now(),
    ), status


@bp.get("/receipts/<int:receipt_id>")
def receipt(receipt_id: int):
    receipt = db.first_or_404(
        sa.select(SubmissionReceipt).where(
            SubmissionReceipt.id == receipt_id,
            SubmissionReceipt.submission_id.in_(_visible_submission_ids()),
        )
    )
    submission = receipt.submission
    if not can_see_work(current_user, submission):
        abort(404)
    return render_template(
        "assessment/receipt.html",
        receipt=receipt,
        submission=submission,
        assignment=submission.assignment,
        own=submission.user_id == current_user.id,
    )


@bp.get("/submissions/<int:submission_id>/files/<int:file_id>")
def download(submission_id: int, file_id: int):
    file = db.first_or_404(
        sa.select(SubmissionFile).where(
            SubmissionFile.id == file_id,
            SubmissionFile.submission_id == submission_id,
            SubmissionFile.submission_id.in_(_visible_submission_ids()),
        )
    )
    if not can_see_work(current_user, file.submission):
        abort(404)
    file_type = FILE_TYPES.get(file.file_type)
    try:
        return send_stored_file(
            file.sha256, download_name(file, current_user), file_type and file_type.mime
        )
    except FileNotFoundError:
        log.error("submission file %s: no stored content %s", file.id, file.sha256)
        abort(404)


@bp.route("/assignments/<int:assignment_id>/extension", methods=["GET", "POST"])
def request_extension(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require_candidate(assignment)
    form = ExtensionRequestForm()
    if form.validate_on_submit():
        extension = save_or_show(
            form,
            lambda: services.request_extension(
                assignment,
                current_user,
                reason=form.reason.data,
                requested_due_at=form.requested_due_at.data,
            ),
        )
        if extension is not None:
            log.info("extension %s requested by %s", extension.id, current_user.id)
            if extension.status == "approved":
                flash(
                    "Your extension has been approved. Your new deadline is "
                    f"{uk_datetime_text(extension.granted_due_at)}",
                    "success",
                )
            else:
                flash("Your request has been sent to your tutor, who will decide on it", "success")
            return redirect(url_for(".assignment", assignment_id=assignment.id))
    return render_template(
        "assessment/extension_request.html",
        form=form,
        assignment=assignment,
        deadline=services.deadline_for(assignment, current_user.id),
        limit=assignment.delivery.cohort.self_certified_extension_days,
    )


# --- tutors and admins -------------------------------------------------------------------------


@bp.get("/assignments/teaching")
def teaching():
    require(sets_assignments)
    delivery_ids = settable_deliveries(current_user).with_only_columns(ModuleDelivery.id)
    cohort_id = request.args.get("cohort", type=int)
    if cohort_id is not None:
        # "This cohort's assignments", linked from the tutor's cohort list.
        delivery_ids = delivery_ids.where(ModuleDelivery.cohort_id == cohort_id)
    page = page_of(
        sa.select(Assignment)
        .options(joinedload(Assignment.delivery).joinedload(ModuleDelivery.cohort))
        .where(Assignment.delivery_id.in_(delivery_ids.order_by(None)))
        .order_by(Assignment.due_at.desc(), Assignment.id)
    )
    ids = [a.id for a in page.items]
    return render_template(
        "assessment/teaching.html",
        page=page,
        submitted=_counts(
            sa.select(Submission.assignment_id, sa.func.count())
            .where(Submission.assignment_id.in_(ids), Submission.status == "submitted")
            .group_by(Submission.assignment_id)
        ),
        pending=_counts(
            sa.select(Extension.assignment_id, sa.func.count())
            .where(Extension.assignment_id.in_(ids), Extension.status == "pending")
            .group_by(Extension.assignment_id)
        ),
        learners=_counts(
            sa.select(ModuleDelivery.cohort_id, sa.func.count())
            .join(Enrolment, Enrolment.cohort_id == ModuleDelivery.cohort_id)
            .where(
                ModuleDelivery.id.in_({a.delivery_id for a in page.items}),
                Enrolment.status == "active",
            )
            .group_by(ModuleDelivery.cohort_id)
        ),
    )


def _counts(stmt: sa.Select) -> dict[int, int]:
    """`{key: count}` from a grouped two-column query."""
    return {key: count for key, count in db.session.execute(stmt)}


@bp.get("/assignments/<int:assignment_id>/tracking")
def tracking(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    require(teaches_assignment, assignment)
    pending = db.session.scalars(
        sa.select(Extension)
        .where(Extension.assignment_id == assignment.id, Extension.status == "pending")
        .order_by(Extension.created_at, Extension.id)
    ).all()
    return render_template(
        "assessment/tracking.html",
        assignment=assignment,
        rows=cohort_tracking(assignment),
        pending=[(e, shown_name(assignment, e.user)) for e in pending],
    )


@bp.get("/extensions")
def extensions():
    require(sets_assignments)
    page = page_of(
        decidable_extensions(current_user)
        .where(Extension.status == "pending")
        .options(
            joinedload(Extension.assignment)
            .joinedload(Assignment.delivery)
            .joinedload(ModuleDelivery.cohort)
        )  # fmt: skip
    )
    return render_template(
        "assessment/extensions.html",
        page=page,
        names={e.id: shown_name(e.assignment, e.user) for e in page.items},
    )


@bp.route("/extensions/<int:extension_id>", methods=["GET", "POST"])
def decide_extension(extension_id: int):
    extension = db.first_or_404(
        visible_extensions(current_user).where(Extension.id == extension_id)
    )
    assignment = extension.assignment
    require(teaches_assignment, assignment)
    # Learners see their own requests in scope, but nobody decides their own.
    if extension.user_id == current_user.id:
        abort(403)
    form = DecideExtensionForm(obj=extension)
    if extension.status == "pending" and form.validate_on_submit():
        decided = save_or_show(
            form,
            lambda: services.decide_extension(
                extension,
                actor=current_user,
                approved=form.approved,
                due_at=form.due_at.data,
                comment=form.comment.data or "",
                expected_version=form.expected_version,
            ),
        )
        if decided is not None:
            log.info("extension %s decided by %s", extension.id, current_user.id)
            flash(f"The request has been {extension.status}", "success")
            return redirect(url_for(".tracking", assignment_id=assignment.id))
    return render_template(
        "assessment/decide_extension.html",
        form=form,
        extension=extension,
        assignment=assignment,
        learner=shown_name(assignment, extension.user),
    )


@bp.route("/submissions/<int:submission_id>/reopen", methods=["GET", "POST"])
def reopen(submission_id: int):
    submission = db.first_or_404(
        visible_submissions(current_user).where(Submission.id == submission_id)
    )
    assignment = submission.assignment
    require(teaches_assignment, assignment)
    form = ReopenForm()
    if form.validate_on_submit() and save_or_show(
        form, lambda: services.reopen(submission, actor=current_user, reason=form.reason.data or "")
    ):
        log.info("submission %s reopened by %s", submission.id, current_user.id)
        flash(
            f"The submission of {shown_name(assignment, submission.user)} has been reopened",
            "success",
        )
        return redirect(url_for(".tracking", assignment_id=assignment.id))
    return render_template(
        "assessment/reopen.html",
        form=form,
        submission=submission,
        assignment=assignment,
        learner=shown_name(assignment, submission.user),
    )


@bp.route("/assignments/new", methods=["GET", "POST"])
def new():
    require(sets_assignments)
    deliveries = db.session.scalars(
        settable_deliveries(current_user).options(joinedload(ModuleDelivery.cohort))
    ).all()
    form = NewAssignmentForm(delivery=request.args.get("delivery", type=int))
    form.set_deliveries(deliveries)
    if form.validate_on_submit():
        delivery = next(d for d in deliveries if d.id == form.delivery.data)
        created = save_or_show(
            form,
            lambda: services.create_assignment(
                actor=current_user, delivery=delivery, **form.service_fields()
            ),
        )
        if created is not None:
            flash(f"{created.title} has been set", "success")
            return redirect(url_for(".assignment", assignment_id=created.id))
    return render_template(
        "assessment/form.html", form=form, assignment=None, has_deliveries=bool(deliveries)
    )


@bp.route("/assignments/<int:assignment_id>/edit", methods=["GET", "POST"])
def edit(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    require(teaches_assignment, assignment)
    form = EditAssignmentForm(obj=assignment)
    if form.validate_on_submit():
        saved = save_or_show(
            form,
            lambda: services.update_assignment(
                assignment,
                actor=current_user,
                expected_version=form.expected_version,
                **form.service_fields(),
            ),
        )
        if saved is not None:
            flash(f"{saved.title} has been updated", "success")
            return redirect(url_for(".assignment", assignment_id=assignment.id))
    return render_template(
        "assessment/form.html", form=form, assignment=assignment, has_deliveries=True
    )
