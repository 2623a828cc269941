"""HTML pages for cohorts and enrolments.

Admins run cohorts: their modules, tutors, enrolments (one at a time or from a CSV file, with a
preview before anything is written) and status changes. Tutors see the cohorts they teach and
their learners; sponsors see their own staff's enrolments; learners see their programme. Every
page starts from the cohort policy's query scopes, so what is out of scope answers 404.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from academy.auth.models import RoleAssignment, User
from academy.auth.services import user_by_email
from academy.catalogue.models import Module, Programme
from academy.cohorts import importing, policy, services
from academy.cohorts.forms import (
    DeliveryDatesForm,
    EditCohortForm,
    EnrolForm,
    ImportConfirmForm,
    ImportUploadForm,
    NewCohortForm,
    NewDeliveryForm,
    StatusForm,
    TutorForm,
)
from academy.cohorts.models import (
    ENROLMENT_STATUSES,
    HOLDS_A_PLACE,
    Cohort,
    Enrolment,
    ModuleDelivery,
)
from academy.content.progress import progress_for
from academy.core.access import guard, require
from academy.core.errors import DomainError
from academy.core.forms import save_or_flash, save_or_show, show_domain_error
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.core.policy import sponsored_organisation_ids, tutored_cohort_ids
from academy.core.storage import FileTooLarge, storage
from academy.extensions import db
from academy.organisations.models import NATIONS, Organisation

log = logging.getLogger(__name__)

bp = Blueprint("cohorts", __name__)
learning = Blueprint("learning", __name__, url_prefix="/learning")

add_nav_item("Cohorts", "cohorts.index", policy.can_manage_cohorts, "cohorts.")
add_nav_item("My cohorts", "cohorts.mine", policy.teaches_any, "cohorts.mine")
add_nav_item("Our staff", "cohorts.sponsored", policy.sponsors_any, "cohorts.sponsored")
add_nav_item("My programme", "learning.home", policy.is_enrolled, "learning.")


guard(bp)


def _visible_cohort_or_404(cohort_id: int) -> Cohort:
    return db.first_or_404(policy.visible_cohorts(current_user).where(Cohort.id == cohort_id))


def _managed_cohort_or_404(cohort_id: int) -> Cohort:
    cohort = _visible_cohort_or_404(cohort_id)
    require(policy.can_manage_cohorts)
    return cohort


def _delivery_or_404(cohort: Cohort, delivery_id: int) -> ModuleDelivery:
    delivery = next((d for d in cohort.deliveries if d.id == delivery_id), None)
    if delivery is None:
        abort(404)
    return delivery


def _enrolment_or_404(cohort: Cohort, enrolment_id: int) -> Enrolment:
    return db.first_or_404(
        policy.visible_enrolments(current_user).where(
            Enrolment.id == enrolment_id, Enrolment.cohort_id == cohort.id
        )
    )


def _status_filter() -> str:
    status = request.args.get("status", "")
    return status if status in ENROLMENT_STATUSES else ""


def _organisations() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))


# --- cohorts -----------------------------------------------------------------------------------


@bp.get("/cohorts")
def index():
    require(policy.can_manage_cohorts)
    page = page_of(policy.visible_cohorts(current_user))
    return render_template("cohorts/index.html", page=page)


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new():
    require(policy.can_manage_cohorts)
    form = NewCohortForm()
    form.set_programmes(db.session.scalars(sa.select(Programme).order_by(Programme.code)))
    if form.validate_on_submit():
        cohort = save_or_show(
            form, lambda: services.create_cohort(actor=current_user, **form.service_fields())
        )
        if cohort is not None:
            flash(f"The cohort {cohort.name} has been opened. Now add its modules.", "success")
            return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=None)


@bp.get("/cohorts/<int:cohort_id>")
def show(cohort_id: int):
    cohort = _visible_cohort_or_404(cohort_id)
    require(policy.can_list_enrolments)
    status = _status_filter()
    stmt = (
        policy.visible_enrolments(current_user)
        .where(Enrolment.cohort_id == cohort.id)
        .join(User, Enrolment.user_id == User.id)
        .order_by(None)
        .order_by(User.name, Enrolment.id)
    )
    if status:
        stmt = stmt.where(Enrolment.status == status)
    enrolments = page_of(stmt)
    core = {link.module_id for link in cohort.programme.modules if link.is_core}
    can_manage = policy.can_manage_cohorts(current_user)
    return render_template(
        "cohorts/show.html",
        cohort=cohort,
        core=core,
        tutors=services.current_tutor_roles(cohort),
        enrolments=enrolments,
        status=status,
        statuses=services.STATUS_LABELS,
        can_manage=can_manage,
        teaches=policy.teaches(current_user, cohort),
        nation=NATIONS.get(cohort.nation, cohort.nation),
        modules_to_add=can_manage and bool(_modules_not_delivered(cohort)),
    )


@bp.route("/cohorts/<int:cohort_id>/edit", methods=["GET", "POST"])
def edit(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = EditCohortForm(obj=cohort)
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_cohort(
            cohort,
            actor=current_user,
            expected_version=form.expected_version,
            **form.service_fields(),
        ),
    ):
        flash(f"The cohort {cohort.name} has been updated", "success")
        return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template("cohorts/form.html", form=form, cohort=cohort)


# --- module deliveries -------------------------------------------------------------------------


def _modules_not_delivered(cohort: Cohort) -> list[Module]:
    delivered = {d.module_id for d in cohort.deliveries}
    return [link.module for link in cohort.programme.modules if link.module_id not in delivered]


@bp.route("/cohorts/<int:cohort_id>/modules/new", methods=["GET", "POST"])
def add_delivery(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = NewDeliveryForm()
    if request.method == "GET":
        form.starts_on.data, form.ends_on.data = cohort.starts_on, cohort.ends_on
    form.set_modules(_modules_not_delivered(cohort))
    if form.validate_on_submit():
        delivery = save_or_show(
            form,
            lambda: services.add_delivery(cohort, actor=current_user, **form.service_fields()),
        )
        if delivery is not None:
            flash(f"{delivery.module.code} has been added to {cohort.name}", "success")
            return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template("cohorts/delivery_form.html", form=form, cohort=cohort, delivery=None)


@bp.route("/cohorts/<int:cohort_id>/modules/<int:delivery_id>/edit", methods=["GET", "POST"])
def edit_delivery(cohort_id: int, delivery_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    delivery = _delivery_or_404(cohort, delivery_id)
    form = DeliveryDatesForm(obj=delivery)
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_delivery(delivery, actor=current_user, **form.service_fields()),
    ):
        flash(f"The dates of {delivery.module.code} have been changed", "success")
        return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template(
        "cohorts/delivery_form.html", form=form, cohort=cohort, delivery=delivery
    )


@bp.post("/cohorts/<int:cohort_id>/modules/<int:delivery_id>/remove")
def remove_delivery(cohort_id: int, delivery_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    delivery = _delivery_or_404(cohort, delivery_id)
    code = delivery.module.code
    if save_or_flash(lambda: services.remove_delivery(delivery, actor=current_user)):
        flash(f"{code} has been removed from {cohort.name}", "success")
    return redirect(url_for(".show", cohort_id=cohort.id))


# --- tutors ------------------------------------------------------------------------------------


@bp.route("/cohorts/<int:cohort_id>/tutors/new", methods=["GET", "POST"])
def assign_tutor(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = TutorForm()
    if form.validate_on_submit():
        user = user_by_email(form.email.data)
        try:
            if user is None:
                raise DomainError("Nobody has an account with this email address", field="email")
            services.assign_tutor(cohort, user, actor=current_user)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            if error.field == "user_id":
                error.field = "email"
            show_domain_error(form, error)
        else:
            flash(f"{user.name} now teaches {cohort.name}", "success")
            return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template("cohorts/tutor_form.html", form=form, cohort=cohort)


@bp.post("/cohorts/<int:cohort_id>/tutors/<int:role_id>/remove")
def remove_tutor(cohort_id: int, role_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    assignment = db.session.get(RoleAssignment, role_id)
    if assignment is None or assignment.role != "tutor" or assignment.cohort_id != cohort.id:
        abort(404)
    if save_or_flash(lambda: services.remove_tutor(assignment, actor=current_user)):
        flash(f"{assignment.user.name} no longer teaches {cohort.name}", "success")
    return redirect(url_for(".show", cohort_id=cohort.id))


# --- enrolments --------------------------------------------------------------------------------


@bp.route("/cohorts/<int:cohort_id>/enrolments/new", methods=["GET", "POST"])
def enrol(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = EnrolForm()
    form.set_organisations(_organisations())
    if form.validate_on_submit():
        user = user_by_email(form.email.data)
        try:
            if user is None:
                raise DomainError(
                    "Nobody has an account with this email address. To enrol someone new, "
                    "import a CSV file",
                    field="email",
                )
            sponsor_id = form.sponsor_organisation_id.data or user.organisation_id
            if sponsor_id is None:
                raise DomainError(
                    f"{user.name} has no employing organisation recorded: choose the sponsor",
                    field="sponsor_organisation_id",
                )
            sponsor = db.session.get(Organisation, sponsor_id)
            services.enrol(user, cohort, sponsor, actor=current_user)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            if error.field in (None, "user_id"):
                error.field = "email"
            show_domain_error(form, error)
        else:
            flash(f"{user.name} has been enrolled in {cohort.name}", "success")
            return redirect(url_for(".show", cohort_id=cohort.id))
    return render_template("cohorts/enrol.html", form=form, cohort=cohort)


@bp.route("/cohorts/<int:cohort_id>/enrolments/<int:enrolment_id>", methods=["GET", "POST"])
def enrolment(cohort_id: int, enrolment_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    the_enrolment = _enrolment_or_404(cohort, enrolment_id)
    form = StatusForm(version=the_enrolment.version)
    allowed = services.allowed_statuses(the_enrolment)
    form.set_statuses(allowed)
    if allowed and form.validate_on_submit():
        changed = save_or_show(
            form,
            lambda: services.change_status(
                the_enrolment,
                status=form.status.data,
                reason=form.reason.data,
                actor=current_user,
                expected_version=form.expected_version,
            ),
        )
        if changed is not None:
            flash(
                f"{the_enrolment.user.name}'s enrolment is now "
                f"{services.STATUS_LABELS[the_enrolment.status].lower()}",
                "success",
            )
            return redirect(url_for(".enrolment", cohort_id=cohort.id, enrolment_id=enrolment_id))
    return render_template(
        "enrolments/show.html",
        cohort=cohort,
        enrolment=the_enrolment,
        form=form,
        allowed=allowed,
        statuses=services.STATUS_LABELS,
    )


# --- CSV import --------------------------------------------------------------------------------


def _render_preview(cohort: Cohort, sha256: str | None, plan=None, problems=None, status=200):
    confirm = ImportConfirmForm(sha256=sha256)
    return render_template(
        "enrolments/import_preview.html",
        cohort=cohort,
        plan=plan,
        problems=problems if problems is not None else (plan.problems if plan else []),
        confirm=confirm,
        row_numbering=importing.ROW_NUMBERING,
    ), status


@bp.route("/cohorts/<int:cohort_id>/import", methods=["GET", "POST"])
def import_upload(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = ImportUploadForm()
    if form.validate_on_submit():
        try:
            blob = storage().save(form.file.data.stream, max_size=importing.MAX_BYTES)
        except FileTooLarge as error:
            show_domain_error(form, error)
        else:
            return _preview(cohort, blob.sha256)
    return render_template(
        "enrolments/import.html",
        form=form,
        cohort=cohort,
        columns=importing.COLUMNS,
        max_rows=importing.MAX_ROWS,
    )


def _stored_file(sha256: str) -> bytes:
    with storage().open(sha256) as stored:
        return stored.read(importing.MAX_BYTES + 1)


def _preview(cohort: Cohort, sha256: str):
    try:
        plan = importing.check(_stored_file(sha256), cohort)
    except importing.ImportRefused as error:
        return _render_preview(cohort, sha256, problems=error.problems)
    return _render_preview(cohort, sha256, plan=plan)


@bp.post("/cohorts/<int:cohort_id>/import/confirm")
def import_confirm(cohort_id: int):
    cohort = _managed_cohort_or_404(cohort_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit() or not storage().exists(form.sha256.data):
        flash("That upload could not be found. Upload the file again.", "error")
        return redirect(url_for(".import_upload", cohort_id=cohort.id))
    sha256 = form.sha256.data
    try:
        result = importing.run(_stored_file(sha256), cohort, actor=current_user)
        db.session.commit()
    except importing.ImportRefused as error:
        db.session.rollback()
        return _render_preview(cohort, sha256, problems=error.problems)
    except DomainError as error:  # the cohort filled up since the preview
        db.session.rollback()
        return _render_preview(
            cohort, sha256, problems=[importing.Problem(None, None, error.message)]
        )
    failed = importing.send_invitations(result.created)
    db.session.commit()
    counts = result.counts()
    message = (
        f"{counts['enrolled']} learners have been enrolled in {cohort.name}: "
        f"{counts['created']} new accounts, each emailed an invitation to set a password, and "
        f"{counts['existing_users']} existing accounts."
    )
    if failed:
        message += f" {failed} invitations could not be sent; resend them from each user's page."
    flash(message, "success")
    return redirect(url_for(".show", cohort_id=cohort.id))


# --- tutors' and sponsors' views ---------------------------------------------------------------


@bp.get("/my-cohorts")
def mine():
    require(policy.teaches_any)
    cohorts = db.session.scalars(
        policy.visible_cohorts(current_user).where(Cohort.id.in_(tutored_cohort_ids(current_user)))
    ).all()
    learners: dict[int, list[Enrolment]] = {cohort.id: [] for cohort in cohorts}
    if cohorts:
        for enrolment in db.session.scalars(
            policy.visible_enrolments(current_user)
            .where(Enrolment.cohort_id.in_(list(learners)))
            .join(User, Enrolment.user_id == User.id)
            .order_by(None)
            .order_by(User.name, Enrolment.id)
        ):
            learners[enrolment.cohort_id].append(enrolment)
    return render_template(
        "cohorts/mine.html", cohorts=cohorts, learners=learners, statuses=services.STATUS_LABELS
    )


@bp.get("/sponsored-enrolments")
def sponsored():
    organisation_ids = sponsored_organisation_ids(current_user)
    if not organisation_ids:
        abort(403)
    status = _status_filter()
    stmt = (
        policy.visible_enrolments(current_user)
        .where(Enrolment.sponsor_organisation_id.in_(organisation_ids))
        .join(User, Enrolment.user_id == User.id)
        .order_by(None)
        .order_by(User.name, Enrolment.id)
    )
    if status:
        stmt = stmt.where(Enrolment.status == status)
    page = page_of(stmt)
    return render_template(
        "cohorts/sponsored.html",
        page=page,
        status=status,
        statuses=services.STATUS_LABELS,
        several_organisations=len(organisation_ids) > 1,
    )


# --- the learner's programme -------------------------------------------------------------------


@learning.get("")
@login_required
def home():
    enrolments = db.session.scalars(
        sa.select(Enrolment)
        .where(Enrolment.user_id == current_user.id)
        .order_by(Enrolment.enrolled_at.desc(), Enrolment.id.desc())
    ).all()
    module_ids = {d.module_id for e in enrolments for d in e.cohort.deliveries}
    return render_template(
        "learning/home.html",
        enrolments=enrolments,
        progress=progress_for(current_user.id, module_ids),
        core={
            e.id: {link.module_id for link in e.cohort.programme.modules if link.is_core}
            for e in enrolments
        },
        studying=set(HOLDS_A_PLACE),
        statuses=services.STATUS_LABELS,
    )
