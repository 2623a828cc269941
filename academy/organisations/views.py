"""HTML pages to list, search, create and edit organisations.

Admins manage every organisation; sponsors see their own, read only, through the same query
scope the API uses. Anyone else is refused the whole section.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from academy.auth.models import User
from academy.auth.policy import visible_users
from academy.core.access import guard, require
from academy.core.forms import save_or_show
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.extensions import db
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

add_nav_item("Organisations", "organisations.index", can_list_organisations, "organisations.")


guard(bp, can_list_organisations)


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


@bp.get("")
def index():
    q = request.args.get("q", "").strip()
    page = page_of(search_organisations(visible_organisations(current_user), q))
    return render_template(
        "organisations/index.html",
        page=page,
        q=q,
        staff=staff_counts([o.id for o in page.items]),
        can_manage=can_manage_organisations(current_user),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    require(can_manage_organisations)
    form = OrganisationForm()
    if form.validate_on_submit():
        organisation = save_or_show(
            form, lambda: services.create_organisation(actor=current_user, **form.service_fields())
        )
        if organisation is not None:
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
    require(can_manage_organisations)
    form = EditOrganisationForm(obj=organisation)
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_organisation(
            organisation,
            actor=current_user,
            expected_version=form.expected_version,
            **form.service_fields(),
        ),
    ):
        log.info("organisation %s updated by %s", organisation.id, current_user.id)
        flash(f"{organisation.name} has been updated", "success")
        return redirect(url_for(".show", organisation_id=organisation.id))
    return render_template("organisations/form.html", form=form, organisation=organisation)
