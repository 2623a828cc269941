"""/api/v1/organisations: admins manage every organisation; sponsors read their own."""

from __future__ import annotations

from flask import abort
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.core.api import ID, documented_errors, requires, stale_version
from academy.core.errors import Conflict
from academy.core.pagination import PAGINATION_HEADERS, PageArgs, paginate
from academy.extensions import db
from academy.organisations import policy, services
from academy.organisations.models import Organisation
from academy.organisations.schemas import (
    OrganisationCreateSchema,
    OrganisationSchema,
    OrganisationUpdateSchema,
)

blp = Blueprint("organisations_api", __name__, description="Organisations")


def _visible_or_404(organisation_id: int) -> Organisation:
    stmt = policy.visible_organisations(api_user()).where(Organisation.id == organisation_id)
    organisation = db.session.scalar(stmt)
    if organisation is None:
        abort(404)
    return organisation


admins_only = requires(
    policy.can_manage_organisations, "Only academy admins can change organisations."
)


@blp.post("/organisations")
@admins_only
@blp.arguments(OrganisationCreateSchema)
@blp.response(201, OrganisationSchema)
@documented_errors(blp, 400, 401, 403, 409)
def create_organisation(data):
    """Add an organisation (admins). A duplicate ODS code answers 409."""
    organisation = services.create_organisation(actor=api_user(), **data)
    db.session.commit()
    return organisation


@blp.get("/organisations")
@blp.arguments(PageArgs, location="query")
@blp.response(200, OrganisationSchema(many=True), headers=PAGINATION_HEADERS)
@documented_errors(blp, 401, 403)
def list_organisations(args):
    """Organisations the caller may see: admins every one, sponsors their own."""
    if not policy.can_list_organisations(api_user()):
        abort(403)
    return paginate(policy.visible_organisations(api_user()), args)


@blp.get(f"/organisations/<{ID}:organisation_id>")
@blp.response(200, OrganisationSchema)
@documented_errors(blp, 401, 404)
def get_organisation(organisation_id):
    """One organisation; 404 when it is outside the caller's scope."""
    return _visible_or_404(organisation_id)


@blp.patch(f"/organisations/<{ID}:organisation_id>")
@admins_only
@blp.arguments(OrganisationUpdateSchema)
@blp.response(200, OrganisationSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def update_organisation(data, organisation_id):
    """Change an organisation (admins), sending the `version` read. A stale version answers 409
    with the current state in `current`, and nothing is changed."""
    organisation = _visible_or_404(organisation_id)
    expected_version = data.pop("version")
    try:
        services.update_organisation(
            organisation, actor=api_user(), expected_version=expected_version, **data
        )
    except Conflict as error:
        if error.field == "version":
            error.extra["current"] = OrganisationSchema().dump(organisation)
        raise
    db.session.commit()
    return organisation
