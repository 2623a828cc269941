"""HTML pages for a module's learning content: studying it, ticking it off, and editing it.

Whoever may not read a module's content (catalogue policy `can_read_content`) gets 404 for every
page and file of it, so nobody learns what a module they do not study contains. Editing is for
admins and the tutors of a cohort running the module (`can_edit_content`); other readers get 403.
Author text reaches pages only through `to_safe_html`.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from academy.catalogue.models import Module
from academy.catalogue.policy import can_edit_content, can_read_content
from academy.content import services
from academy.content.forms import RESOURCE_FORMS, DeleteForm, MoveForm, SectionForm
from academy.content.models import RESOURCE_KINDS, ContentSection, Resource
from academy.content.progress import progress_for
from academy.core import filetypes
from academy.core.access import guard, require
from academy.core.api import ID
from academy.core.downloads import send_stored_file
from academy.core.forms import save_or_show
from academy.core.richtext import to_safe_html
from academy.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("content", __name__)

FILE_LABELS = {t.mime: t.label for t in filetypes.FILE_TYPES.values()}
#: File errors keep their own status (413 too large, 415 wrong type) on the re-shown form.
FILE_ERROR_STATUSES = (413, 415)


guard(bp)


@bp.context_processor
def content_helpers():
    return {
        "rich_text": to_safe_html,
        "file_description": file_description,
        "web_host": web_host,
        "kind_labels": RESOURCE_KINDS,
    }


def file_description(resource: Resource) -> str:
    """ "PDF, 1.2 MB": what a learner is about to download."""
    label = FILE_LABELS.get(resource.file_type or "", "File")
    size = resource.file_size or 0
    if size >= 1024 * 1024:
        amount = f"{size / (1024 * 1024):.1f} MB"
    elif size >= 1024:
        amount = f"{round(size / 1024)} KB"
    else:
        amount = f"{size} bytes"
    return f"{label}, {amount}"


def web_host(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").removeprefix("www.")


# --- loading and authorising -------------------------------------------------------------------


def _readable(module: Module) -> Module:
    if not can_read_content(current_user, module):
        abort(404)
    return module


def _module_or_404(module_id: int) -> Module:
    return _readable(db.get_or_404(Module, module_id))


def _section_or_404(section_id: int) -> ContentSection:
    section = db.get_or_404(ContentSection, section_id)
    _readable(section.module)
    return section


def _resource_or_404(resource_id: int) -> Resource:
    resource = db.get_or_404(Resource, resource_id)
    _readable(resource.section.module)
    return resource


def _module_page(module: Module, anchor: str | None = None):
    return redirect(url_for(".module", module_id=module.id, _anchor=anchor))


def _form_status(form) -> int:
    status = getattr(form, "refusal_status", 200)
    return status if status in FILE_ERROR_STATUSES else 200


# --- studying ----------------------------------------------------------------------------------


@bp.get(f"/modules/<{ID}:module_id>/learn")
def module(module_id: int):
    module = _module_or_404(module_id)
    tracking = services.can_track_progress(current_user, module)
    return render_template(
        "content/module.html",
        module=module,
        sections=services.sections_of(module),
        tracking=tracking,
        progress=progress_for(current_user.id, [module.id])[module.id] if tracking else None,
        completed=services.completed_resource_ids(current_user, module) if tracking else set(),
        can_edit=can_edit_content(current_user, module),
    )


@bp.get(f"/resources/<{ID}:resource_id>")
def resource(resource_id: int):
    resource = _resource_or_404(resource_id)
    module = resource.section.module
    tracking = services.can_track_progress(current_user, module)
    return render_template(
        "content/resource.html",
        resource=resource,
        module=module,
        tracking=tracking,
        completed=services.completed_resource_ids(current_user, module) if tracking else set(),
        can_edit=can_edit_content(current_user, module),
    )


@bp.get(f"/resources/<{ID}:resource_id>/download")
def download(resource_id: int):
    resource = _resource_or_404(resource_id)
    if resource.kind != "file" or not resource.file_sha256:
        abort(404)
    try:
        return send_stored_file(
            resource.file_sha256, resource.file_name or "file", resource.file_type
        )
    except (FileNotFoundError, ValueError):
        log.error("resource %s points at missing file %s", resource.id, resource.file_sha256)
        abort(404)


@bp.post(f"/resources/<{ID}:resource_id>/complete")
def complete(resource_id: int):
    return _tick(resource_id, done=True)


@bp.post(f"/resources/<{ID}:resource_id>/incomplete")
def incomplete(resource_id: int):
    return _tick(resource_id, done=False)


def _tick(resource_id: int, *, done: bool):
    resource = _resource_or_404(resource_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    if done:
        services.mark_complete(current_user, resource)
    else:
        services.mark_incomplete(current_user, resource)
    db.session.commit()
    flash(f"{resource.title} is marked as {'complete' if done else 'not complete'}", "success")
    if request.form.get("from") == "resource":
        return redirect(url_for(".resource", resource_id=resource.id))
    return _module_page(resource.section.module, f"resource-{resource.id}")


# --- editing sections --------------------------------------------------------------------------


@bp.route(f"/modules/<{ID}:module_id>/learn/sections/new", methods=["GET", "POST"])
def new_section(module_id: int):
    module = _module_or_404(module_id)
    require(can_edit_content, module)
    form = SectionForm()
    if form.validate_on_submit():
        created = save_or_show(
            form, lambda: services.add_section(module, actor=current_user, **form.service_fields())
        )
        if created is not None:
            flash(f"{created.title} has been added", "success")
            return _module_page(module, f"section-{created.id}")
    return render_template("content/section_form.html", form=form, module=module, section=None)


@bp.route(f"/sections/<{ID}:section_id>/edit", methods=["GET", "POST"])
def edit_section(section_id: int):
    section = _section_or_404(section_id)
    require(can_edit_content, section.module)
    form = SectionForm(obj=section)
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_section(section, actor=current_user, **form.service_fields()),
    ):
        flash(f"{section.title} has been updated", "success")
        return _module_page(section.module, f"section-{section.id}")
    return render_template(
        "content/section_form.html", form=form, module=section.module, section=section
    )


@bp.route(f"/sections/<{ID}:section_id>/delete", methods=["GET", "POST"])
def delete_section(section_id: int):
    section = _section_or_404(section_id)
    module = section.module
    require(can_edit_content, module)
    form = DeleteForm()
    if form.validate_on_submit():
        title = section.title
        services.delete_section(section, actor=current_user)
        db.session.commit()
        flash(f"{title} has been deleted", "success")
        return _module_page(module)
    return render_template(
        "content/confirm_delete.html",
        form=form,
        module=module,
        what="section",
        title=section.title,
        consequence=f"Its {len(section.resources)} resources, and learners' progress on them, "
        "will be deleted too.",
    )


@bp.post(f"/sections/<{ID}:section_id>/move")
def move_section(section_id: int):
    section = _section_or_404(section_id)
    require(can_edit_content, section.module)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    services.move_section(section, actor=current_user, direction=form.direction.data)
    db.session.commit()
    return _module_page(section.module, f"section-{section.id}")


# --- editing resources -------------------------------------------------------------------------


@bp.route(f"/sections/<{ID}:section_id>/resources/new/<kind>", methods=["GET", "POST"])
def new_resource(section_id: int, kind: str):
    section = _section_or_404(section_id)
    require(can_edit_content, section.module)
    if kind not in RESOURCE_FORMS:
        abort(404)
    form = RESOURCE_FORMS[kind][0]()
    if form.validate_on_submit():
        created = save_or_show(
            form,
            lambda: services.add_resource(
                section, actor=current_user, kind=kind, **form.service_fields()
            ),
        )
        if created is not None:
            flash(f"{created.title} has been added", "success")
            return _module_page(section.module, f"resource-{created.id}")
    return (
        render_template(
            "content/resource_form.html",
            form=form,
            kind=kind,
            section=section,
            module=section.module,
            resource=None,
        ),
        _form_status(form),
    )


@bp.route(f"/resources/<{ID}:resource_id>/edit", methods=["GET", "POST"])
def edit_resource(resource_id: int):
    resource = _resource_or_404(resource_id)
    section = resource.section
    require(can_edit_content, section.module)
    form = RESOURCE_FORMS[resource.kind][1](obj=resource)
    if form.validate_on_submit() and save_or_show(
        form,
        lambda: services.update_resource(
            resource,
            actor=current_user,
            expected_version=form.expected_version,
            **form.service_fields(),
        ),
    ):
        flash(f"{resource.title} has been updated", "success")
        return _module_page(section.module, f"resource-{resource.id}")
    return (
        render_template(
            "content/resource_form.html",
            form=form,
            kind=resource.kind,
            section=section,
            module=section.module,
            resource=resource,
        ),
        _form_status(form),
    )


@bp.route(f"/resources/<{ID}:resource_id>/delete", methods=["GET", "POST"])
def delete_resource(resource_id: int):
    resource = _resource_or_404(resource_id)
    module = resource.section.module
    require(can_edit_content, module)
    form = DeleteForm()
    if form.validate_on_submit():
        title = resource.title
        services.delete_resource(resource, actor=current_user)
        db.session.commit()
        flash(f"{title} has been deleted", "success")
        return _module_page(module)
    return render_template(
        "content/confirm_delete.html",
        form=form,
        module=module,
        what=resource.kind_label.lower(),
        title=resource.title,
        consequence="Learners' progress on it will be deleted too.",
    )


@bp.post(f"/resources/<{ID}:resource_id>/move")
def move_resource(resource_id: int):
    resource = _resource_or_404(resource_id)
    require(can_edit_content, resource.section.module)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    services.move_resource(resource, actor=current_user, direction=form.direction.data)
    db.session.commit()
    return _module_page(resource.section.module, f"resource-{resource.id}")
