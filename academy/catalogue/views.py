"""HTML pages for the catalogue: programmes and modules.

Any signed-in person may read the prospectus (the same rule as the API); only admins add and
change entries. Learners reach their own modules through "My programme", not this menu.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from academy.catalogue import services
from academy.catalogue.forms import EditModuleForm, EditProgrammeForm, ModuleForm, ProgrammeForm
from academy.catalogue.models import TOPICS, Module, Programme, ProgrammeModule
from academy.catalogue.policy import (
    can_manage_catalogue,
    can_read_content,
    can_view_catalogue,
    readable_module_ids,
)
from academy.core.access import guard, require
from academy.core.api import ID
from academy.core.forms import save_or_show
from academy.core.navigation import add_nav_item
from academy.core.pagination import page_of
from academy.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("catalogue", __name__)

add_nav_item("Programmes", "catalogue.programmes", can_manage_catalogue, "catalogue.")


guard(bp, can_view_catalogue)


def _all_modules() -> list[Module]:
    return list(db.session.scalars(sa.select(Module).order_by(Module.code)))


def _readable_among(module_ids: list[int]) -> set[int]:
    """Which of these modules' learning content the signed-in user may open, in one query."""
    scope = readable_module_ids(current_user)
    if scope is None:
        return set(module_ids)
    readable = scope.subquery().c[0]
    return set(db.session.scalars(sa.select(readable).where(readable.in_(module_ids))))


def _save(form, save, *, success: str):
    """Run `save()` (a service call) and commit; on a refusal, show it on the form. Returns the
    saved object, or None when the form must be shown again."""
    saved = save_or_show(form, save)
    if saved is not None:
        flash(success.format(saved=saved), "success")
    return saved


# --- programmes --------------------------------------------------------------------------------


@bp.get("/programmes")
def programmes():
    page = page_of(sa.select(Programme).order_by(Programme.code))
    return render_template(
        "catalogue/programmes.html", page=page, can_manage=can_manage_catalogue(current_user)
    )


@bp.route("/programmes/new", methods=["GET", "POST"])
def new_programme():
    require(can_manage_catalogue)
    form = ProgrammeForm()
    form.set_modules(_all_modules())
    if form.validate_on_submit():
        programme = _save(
            form,
            lambda: services.create_programme(actor=current_user, **form.service_fields()),
            success="{saved.title} ({saved.code}) has been added",
        )
        if programme is not None:
            return redirect(url_for(".programme", programme_id=programme.id))
    return render_template("catalogue/programme_form.html", form=form, programme=None)


@bp.get(f"/programmes/<{ID}:programme_id>")
def programme(programme_id: int):
    programme = db.get_or_404(Programme, programme_id)
    return render_template(
        "catalogue/programme.html",
        programme=programme,
        readable=_readable_among([link.module_id for link in programme.modules]),
        can_manage=can_manage_catalogue(current_user),
    )


@bp.route(f"/programmes/<{ID}:programme_id>/edit", methods=["GET", "POST"])
def edit_programme(programme_id: int):
    programme = db.get_or_404(Programme, programme_id)
    require(can_manage_catalogue)
    form = EditProgrammeForm(obj=programme)
    form.set_modules(_all_modules())
    if form.validate_on_submit():
        saved = _save(
            form,
            lambda: services.update_programme(
                programme,
                actor=current_user,
                expected_version=form.expected_version,
                **form.service_fields(),
            ),
            success="{saved.title} has been updated",
        )
        if saved is not None:
            return redirect(url_for(".programme", programme_id=programme.id))
    return render_template("catalogue/programme_form.html", form=form, programme=programme)


# --- modules -----------------------------------------------------------------------------------


@bp.get("/modules")
def modules():
    topic = request.args.get("topic", "")
    stmt = sa.select(Module).order_by(Module.code)
    if topic in TOPICS:
        stmt = stmt.where(Module.topic == topic)
    else:
        topic = ""
    page = page_of(stmt)
    return render_template(
        "catalogue/modules.html",
        page=page,
        topic=topic,
        topics=TOPICS,
        can_manage=can_manage_catalogue(current_user),
    )


@bp.route("/modules/new", methods=["GET", "POST"])
def new_module():
    require(can_manage_catalogue)
    form = ModuleForm()
    if form.validate_on_submit():
        module = _save(
            form,
            lambda: services.create_module(actor=current_user, **form.service_fields()),
            success="{saved.title} ({saved.code}) has been added",
        )
        if module is not None:
            return redirect(url_for(".module", module_id=module.id))
    return render_template("catalogue/module_form.html", form=form, module=None)


@bp.get(f"/modules/<{ID}:module_id>")
def module(module_id: int):
    module = db.get_or_404(Module, module_id)
    programmes = db.session.scalars(
        sa.select(Programme)
        .join(ProgrammeModule, ProgrammeModule.programme_id == Programme.id)
        .where(ProgrammeModule.module_id == module.id)
        .order_by(Programme.code)
    ).all()
    return render_template(
        "catalogue/module.html",
        module=module,
        programmes=programmes,
        can_read=can_read_content(current_user, module),
        can_manage=can_manage_catalogue(current_user),
    )


@bp.route(f"/modules/<{ID}:module_id>/edit", methods=["GET", "POST"])
def edit_module(module_id: int):
    module = db.get_or_404(Module, module_id)
    require(can_manage_catalogue)
    form = EditModuleForm(obj=module)
    if form.validate_on_submit():
        saved = _save(
            form,
            lambda: services.update_module(
                module,
                actor=current_user,
                expected_version=form.expected_version,
                **form.service_fields(),
            ),
            success="{saved.title} has been updated",
        )
        if saved is not None:
            return redirect(url_for(".module", module_id=module.id))
    return render_template("catalogue/module_form.html", form=form, module=module)
