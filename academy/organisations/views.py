"""HTML pages to list, search, create and edit organisations.

Admins manage every organisation; sponsors see their own, read only, through the same query
scope the API uses. Anyone else is refused the whole section.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from academy.auth.models import User
from academy.auth.policy import visible_users
from academy.core.errors import DomainError
from academy.core.forms import STALE_PAGE, show_domain_error
from academy.core.navigation import add_nav_item
from academy.extensions import db, login_manager
from academy.organisations import services
from academy.organisations.forms import EditOrganisationForm, OrganisationForm
from academy.organisations.models import Organisation
from academy.organisations.policy import (
    can_list_organisations,
    can_manage_organisations,
    visible_organisations,
)

log = logging.getLogger(__name__)

bp = Blueprint("organisations", __name__, url_prefix="/organisations")
PER_PAGE = 50

add_nav_item("Organisations", "organisations.index", can_list_organisations, "organisations.")


@bp.before_request
def require_organisation_role():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not can_list_organisations(current_user):
        abort(403)
    return None


def _require_manager() -> None:
    if not can_manage_organisations(current_user):
        abort(403)


def _visible_organisation_or_404(organisation_id: int) -> Organisation:
    return db.first_or_404(
        visible_organisations(current_user).where(Organisation.id == organisation_id)
    )


def search_organisations(stmt: sa.Select, q: str) -> sa.Select:
    """Narrow `stmt` to organisations whose name or ODS code contains `q`, ignoring case."""
    if not q:
        return stmt
    needle = q.lower()
    return stmt.where(
        sa.or_(
            sa.func.lower(Organisation.name).contains(needle, autoescape=True),
            sa.func.lower(Organisation.ods_code).contains(needle, autoescape=True),
        )
    )


def staff_counts(organisation_ids: list[int]) -> dict[int, int]:
    """Staff per organisation for one page of the list, in a single grouped query."""
    if not organisation_ids:
        return {}
    rows = db.session.execute(
        sa.select(User.organisation_id, sa.func.count(User.id))
        .where(User.organisation_id.in_(organisation_ids))
        .group_by(User.organisation_id)
    )
    return {organisation_id: count for organisation_id, count in rows}


def _page_number() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


@bp.get("")
def index():
    q = request.args.get("q", "").strip()
    page = db.paginate(
        search_organisations(visible_organisations(current_user), q),
        page=_page_number(),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "organisations/index.html",
        page=page,
        q=q,
        staff=staff_counts([o.id for o in page.items]),
        can_manage=can_manage_organisations(current_user),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    _require_manager()
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = services.create_organisation(actor=current_user, **form.service_fields())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            log.info("organisation %s created by %s", organisation.id, current_user.id)
            flash(f"{organisation.name} ({organisation.ods_code}) has been added", "success")
            return redirect(url_for(".show", organisation_id=organisation.id))
    return render_template("organisations/form.html", form=form, organisation=None)


@bp.get("/<int:organisation_id>")
def show(organisation_id: int):
    organisation = _visible_organisation_or_404(organisation_id)
    staff = db.session.scalars(
        visible_users(current_user).where(User.organisation_id == organisation.id)
    ).all()
    return render_template(
        "organisations/show.html",
        organisation=organisation,
        staff=staff,
        can_manage=can_manage_organisations(current_user),
    )


@bp.route("/<int:organisation_id>/edit", methods=["GET", "POST"])
def edit(organisation_id: int):
    organisation = _visible_organisation_or_404(organisation_id)
    _require_manager()
    form = EditOrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            services.update_organisation(
                organisation,
                actor=current_user,
                expected_version=form.expected_version,
                **form.service_fields(),
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        except StaleDataError:
            # Someone saved between our read and our UPDATE; the mapper's version check caught it.
            db.session.rollback()
            form.form_errors.append(STALE_PAGE)
        else:
            log.info("organisation %s updated by %s", organisation.id, current_user.id)
            flash(f"{organisation.name} has been updated", "success")
            return redirect(url_for(".show", organisation_id=organisation.id))
    return render_template("organisations/form.html", form=form, organisation=organisation)
