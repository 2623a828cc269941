"""HTML pages to list, search, create and edit users, and to grant and end their roles.

Admins manage everyone; sponsors see their organisations' staff, read only, through the same
query scope the API uses. Tutors may open the list (their reach arrives with cohorts); anyone else
is refused the whole section.
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from academy.auth import mfa, services
from academy.auth.admin_forms import EditUserForm, GrantRoleForm, NewUserForm
from academy.auth.models import ROLE_LABELS, ROLES, RoleAssignment, User
from academy.auth.policy import can_list_users, can_manage_users, needs_invitation, visible_users
from academy.auth.views import role_status
from academy.core import clock
from academy.core.access import guard, require
from academy.core.forms import save_or_flash, save_or_show
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.extensions import db
from academy.organisations.models import Organisation
from academy.organisations.policy import visible_organisations

log = logging.getLogger(__name__)

bp = Blueprint("users", __name__, url_prefix="/users")

add_nav_item("Users", "users.index", can_list_users, "users.")


guard(bp, can_list_users)


def _visible_user_or_404(user_id: int) -> User:
    return db.first_or_404(visible_users(current_user).where(User.id == user_id))


def _organisations() -> list[Organisation]:
    return list(db.session.scalars(visible_organisations(current_user)))


# --- queries for the pages ------------------------------------------------------------------


def search_users(stmt: sa.Select, q: str) -> sa.Select:
    """Narrow `stmt` to users whose name or email contains `q`, ignoring case."""
    if not q:
        return stmt
    needle = q.lower()
    return stmt.where(
        sa.or_(
            sa.func.lower(User.name).contains(needle, autoescape=True),
            User.email.contains(needle, autoescape=True),  # emails are stored lower-case
        )
    )


def current_holders_of(role: str, on: date) -> sa.Select:
    """Ids of users holding `role` on `on`: RoleAssignment.is_current as SQL."""
    return sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == role,
        RoleAssignment.ended_at.is_(None),
        RoleAssignment.valid_from <= on,
        sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= on),
    )


def role_scope(assignment: RoleAssignment) -> str:
    if assignment.organisation is not None:
        return f"{assignment.organisation.name} ({assignment.organisation.ods_code})"
    if assignment.cohort_id is not None:
        return f"Cohort {assignment.cohort_id}"
    if assignment.programme_id is not None:
        return f"Programme {assignment.programme_id}"
    return "Whole academy" if assignment.role == "admin" else "Not scoped"


# --- pages ----------------------------------------------------------------------------------


@bp.get("")
def index():
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    organisation_id = request.args.get("organisation", type=int)
    stmt = search_users(visible_users(current_user), q)
    if role in ROLES:
        stmt = stmt.where(User.id.in_(current_holders_of(role, clock.today())))
    else:
        role = ""
    if organisation_id is not None:
        stmt = stmt.where(User.organisation_id == organisation_id)
    page = page_of(stmt)
    organisations = _organisations()
    return render_template(
        "users/index.html",
        page=page,
        q=q,
        role=role,
        organisation_id=organisation_id,
        role_labels=ROLE_LABELS,
        # One organisation needs no filter: every visible user belongs to it.
        organisations=organisations if len(organisations) > 1 else [],
        today=clock.today(),
        can_manage=can_manage_users(current_user),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    require(can_manage_users)
    form = NewUserForm()
    form.set_organisations(_organisations())
    if form.validate_on_submit():
        user = save_or_show(form, lambda: _create_user(form))
        if user is not None:
            # Invited only once the account is committed: no email points at a rolled-back row.
            services.send_invitation(user)
            db.session.commit()
            log.info("user %s created by %s", user.id, current_user.id)
            flash(
                f"{user.name} has been added. We have emailed {user.email} an invitation "
                "to set a password.",
                "success",
            )
            return redirect(url_for(".show", user_id=user.id))
    return render_template("users/form.html", form=form, user=None)


def _create_user(form: NewUserForm) -> User:
    user = services.create_user(
        actor=current_user, password=None, invite=False, **form.service_fields()
    )
    if form.role.data:
        services.grant_role(
            user,
            form.role.data,
            actor=current_user,
            organisation_id=user.organisation_id if form.role.data == "sponsor" else None,
        )
    return user


@bp.get("/<int:user_id>")
def show(user_id: int):
    user = _visible_user_or_404(user_id)
    today = clock.today()
    return render_template(
        "users/show.html",
        user=user,
        assignments=[(a, role_status(a, today), role_scope(a)) for a in user.roles],
        can_manage=can_manage_users(current_user),
        needs_invitation=needs_invitation(user),
        mfa_enrolled=mfa.is_enrolled(user),
        mfa_required=mfa.required_for(user),
    )


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
def edit(user_id: int):
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    form = EditUserForm(obj=user)
    form.set_organisations(_organisations())
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_user(
            user,
            actor=current_user,
            expected_version=form.expected_version,
            **form.service_fields(),
        ),
    ):
        log.info("user %s updated by %s", user.id, current_user.id)
        flash(f"{user.name}'s details have been updated", "success")
        return redirect(url_for(".show", user_id=user.id))
    return render_template("users/form.html", form=form, user=user)


@bp.route("/<int:user_id>/roles/new", methods=["GET", "POST"])
def grant_role(user_id: int):
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    form = GrantRoleForm()
    form.set_organisations(_organisations())
    if form.validate_on_submit():
        assignment = save_or_show(
            form,
            lambda: services.grant_role(
                user, form.role.data, actor=current_user, **form.service_fields()
            ),
        )
        if assignment is not None:
            log.info("role %s granted to user %s by %s", assignment.id, user.id, current_user.id)
            flash(f"{user.name} has been given the {assignment.label} role", "success")
            return redirect(url_for(".show", user_id=user.id))
    return render_template("users/grant_role.html", form=form, user=user)


@bp.post("/<int:user_id>/roles/<int:role_id>/end")
def end_role(user_id: int, role_id: int):
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    assignment = db.session.get(RoleAssignment, role_id)
    if assignment is None or assignment.user_id != user.id:
        abort(404)
    if save_or_flash(lambda: services.end_role(assignment, actor=current_user)):
        log.info("role %s of user %s ended by %s", assignment.id, user.id, current_user.id)
        flash(f"{user.name}'s {assignment.label} role has been ended", "success")
    return redirect(url_for(".show", user_id=user.id))


@bp.post("/<int:user_id>/invitation")
def resend_invitation(user_id: int):
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    if not needs_invitation(user):
        flash(f"{user.name} already has a password or their account is inactive", "error")
    else:
        services.send_invitation(user)
        db.session.commit()
        flash(f"We have emailed {user.email} a new invitation to set a password.", "success")
    return redirect(url_for(".show", user_id=user.id))


@bp.post("/<int:user_id>/sign-out-everywhere")
def sign_out_everywhere(user_id: int):
    """For a lost device or a suspected compromise: every session and token of the user ends."""
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    revoked = services.sign_out_everywhere(user, actor=current_user, revoke_tokens=True)
    db.session.commit()
    log.info("user %s signed out everywhere by %s", user.id, current_user.id)
    flash(
        f"{user.name} has been signed out on every device and {revoked} API "
        f"token{'' if revoked == 1 else 's'} revoked",
        "success",
    )
    return redirect(url_for(".show", user_id=user.id))


@bp.post("/<int:user_id>/mfa/reset")
def reset_mfa(user_id: int):
    """For a lost or replaced phone: clear the user's authenticator and recovery codes."""
    user = _visible_user_or_404(user_id)
    require(can_manage_users)
    if save_or_flash(lambda: _reset_mfa(user)):
        log.info("two-factor authentication of user %s reset by %s", user.id, current_user.id)
        flash(
            f"{user.name}'s two-factor authentication has been reset and they have been signed "
            "out everywhere. "
            + (
                "They set it up again when they next sign in."
                if mfa.required_for(user)
                else "They can sign in with their password alone until they set it up again."
            ),
            "success",
        )
    return redirect(url_for(".show", user_id=user.id))


def _reset_mfa(user: User) -> None:
    mfa.reset(user, actor=current_user)
    # Whoever has the lost phone may have a signed-in browser too.
    services.sign_out_everywhere(user, actor=current_user)
