"""/api/v1/modules and /api/v1/programmes: any signed-in caller reads the catalogue; admins
change it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask_smorest import Blueprint
from sqlalchemy.orm.exc import StaleDataError

from academy.auth.api_auth import api_user
from academy.catalogue import policy, services
from academy.catalogue.models import Module, Programme
from academy.catalogue.schemas import (
    ModuleCreateSchema,
    ModuleListArgs,
    ModuleSchema,
    ModuleUpdateSchema,
    ProgrammeCreateSchema,
    ProgrammeSchema,
    ProgrammeUpdateSchema,
)
from academy.core.api import ID, documented_errors, requires, stale_version
from academy.core.errors import Conflict
from academy.core.pagination import PAGINATION_HEADERS, PageArgs, paginate
from academy.extensions import db

blp = Blueprint("catalogue_api", __name__, description="Programmes and modules")

admins_only = requires(policy.can_manage_catalogue, "Only academy admins can change the catalogue.")


def _or_404(model, object_id: int):
    found = db.session.get(model, object_id)
    if found is None:
        abort(404)
    return found


def _save_update(obj, update, schema, data: dict):
    """Apply a versioned PATCH: a stale `version` (sent, or lost to a concurrent write) answers
    409 with the current state, and nothing is changed."""
    expected_version = data.pop("version")
    try:
        update(obj, actor=api_user(), expected_version=expected_version, **data)
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        db.session.refresh(obj)
        raise Conflict(
            "This record was changed by someone else; reload it and try again",
            field="version",
            extra={"current": schema().dump(obj)},
        ) from error
    except Conflict as error:
        if error.field == "version":
            error.extra["current"] = schema().dump(obj)
        raise
    return obj


# --- modules -----------------------------------------------------------------------------------


@blp.post("/modules")
@admins_only
@blp.arguments(ModuleCreateSchema)
@blp.response(201, ModuleSchema)
@documented_errors(blp, 400, 401, 403, 409)
def create_module(data):
    """Add a module (admins). The code is stored upper-case; a code already in use answers 409."""
    module = services.create_module(actor=api_user(), **data)
    db.session.commit()
    return module


@blp.get("/modules")
@blp.arguments(ModuleListArgs, location="query")
@blp.response(200, ModuleSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def list_modules(args):
    """Every module, by code, optionally of one `topic`."""
    stmt = sa.select(Module).order_by(Module.code, Module.id)
    if args.get("topic"):
        stmt = stmt.where(Module.topic == args["topic"])
    return paginate(stmt, args)


@blp.get(f"/modules/<{ID}:module_id>")
@blp.response(200, ModuleSchema)
@documented_errors(blp, 401, 404)
def get_module(module_id):
    """One module."""
    return _or_404(Module, module_id)


@blp.patch(f"/modules/<{ID}:module_id>")
@admins_only
@blp.arguments(ModuleUpdateSchema)
@blp.response(200, ModuleSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def update_module(data, module_id):
    """Change a module (admins), sending the `version` read. A stale version answers 409 with the
    current state in `current`; a code already in use answers 409 too."""
    module = _or_404(Module, module_id)
    return _save_update(module, services.update_module, ModuleSchema, data)


# --- programmes --------------------------------------------------------------------------------


@blp.post("/programmes")
@admins_only
@blp.arguments(ProgrammeCreateSchema)
@blp.response(201, ProgrammeSchema)
@documented_errors(blp, 400, 401, 403, 409)
def create_programme(data):
    """Add a programme (admins) offering `module_ids` in that order; `core_module_ids` are core
    (and offered even if missing from `module_ids`). Unknown module ids answer 422."""
    programme = services.create_programme(actor=api_user(), **data)
    db.session.commit()
    return programme


@blp.get("/programmes")
@blp.arguments(PageArgs, location="query")
@blp.response(200, ProgrammeSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401)
def list_programmes(args):
    """Every programme, by code, with its modules."""
    return paginate(sa.select(Programme).order_by(Programme.code, Programme.id), args)


@blp.get(f"/programmes/<{ID}:programme_id>")
@blp.response(200, ProgrammeSchema)
@documented_errors(blp, 401, 404)
def get_programme(programme_id):
    """One programme with its modules (`core` marks the core ones)."""
    return _or_404(Programme, programme_id)


@blp.patch(f"/programmes/<{ID}:programme_id>")
@admins_only
@blp.arguments(ProgrammeUpdateSchema)
@blp.response(200, ProgrammeSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def update_programme(data, programme_id):
    """Change a programme (admins), sending the `version` read. `module_ids` replaces the modules
    offered. A stale version answers 409 with the current state in `current`."""
    programme = _or_404(Programme, programme_id)
    return _save_update(programme, services.update_programme, ProgrammeSchema, data)
