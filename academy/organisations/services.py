"""Every change to organisations. Functions flush; the caller commits."""

from __future__ import annotations

import re

import sqlalchemy as sa

from academy.audit import services as audit
from academy.core.errors import Conflict, DomainError
from academy.extensions import db
from academy.organisations.models import (
    DEFAULT_CREDENTIAL_TARGET,
    NATIONS,
    REGIONS,
    SECTORS,
    Organisation,
)

FIELDS = ("ods_code", "name", "sector", "nation", "region", "credential_target")
#: ODS codes are 3 to 6 letters and digits (trusts RJ1, ICBs QWE, practices A81001, sites RJ122).
ODS_CODE = re.compile(r"^[A-Z0-9]{3,6}$")


def snapshot(organisation: Organisation) -> dict:
    return {field: getattr(organisation, field) for field in FIELDS}


def organisation_by_ods(ods_code: str) -> Organisation | None:
    return db.session.scalar(
        sa.select(Organisation).where(Organisation.ods_code == ods_code.strip().upper())
    )


def _validate(organisation: Organisation) -> None:
    if not ODS_CODE.match(organisation.ods_code or ""):
        raise DomainError("ODS code must be 3 to 6 letters or digits, like RJ1", field="ods_code")
    if not (organisation.name or "").strip():
        raise DomainError("Enter the organisation's name", field="name")
    if organisation.sector not in SECTORS:
        raise DomainError(f"Sector must be one of: {', '.join(SECTORS)}", field="sector")
    if organisation.nation not in NATIONS:
        raise DomainError(f"Nation must be one of: {', '.join(NATIONS)}", field="nation")
    if organisation.region is not None:
        if organisation.region not in REGIONS:
            raise DomainError(f"Region must be one of: {', '.join(REGIONS)}", field="region")
        # NHS England's regions divide England only; elsewhere reports group by nation.
        if organisation.nation != "england":
            raise DomainError(
                "Only organisations in England have an NHS England region", field="region"
            )
    if organisation.credential_target is None or organisation.credential_target < 0:
        raise DomainError("Credential target must be 0 or more", field="credential_target")


def create_organisation(
    *,
    actor,
    ods_code: str,
    name: str,
    sector: str,
    nation: str,
    credential_target: int | None = None,
    region: str | None = None,
) -> Organisation:
    ods_code = (ods_code or "").strip().upper()
    if organisation_by_ods(ods_code) is not None:
        raise Conflict(f"An organisation with ODS code {ods_code} already exists", field="ods_code")
    organisation = Organisation(
        ods_code=ods_code,
        name=(name or "").strip(),
        sector=sector,
        nation=nation,
        credential_target=DEFAULT_CREDENTIAL_TARGET
        if credential_target is None
        else credential_target,
        region=region or None,
    )
    _validate(organisation)
    db.session.add(organisation)
    db.session.flush()
    audit.record("organisation.create", actor=actor, obj=organisation, after=snapshot(organisation))
    return organisation


def update_organisation(
    organisation: Organisation, *, actor, expected_version: int | None = None, **fields
) -> Organisation:
    from academy.auth.services import check_version

    check_version(organisation, expected_version)
    before = snapshot(organisation)
    if "ods_code" in fields and fields["ods_code"] is not None:
        ods_code = fields.pop("ods_code").strip().upper()
        existing = organisation_by_ods(ods_code)
        if existing is not None and existing.id != organisation.id:
            raise Conflict(
                f"An organisation with ODS code {ods_code} already exists", field="ods_code"
            )
        organisation.ods_code = ods_code
    for field in ("name", "sector", "nation", "credential_target"):
        if field in fields and fields[field] is not None:
            value = fields[field]
            setattr(organisation, field, value.strip() if isinstance(value, str) else value)
    # Unlike the other fields, an empty region is a value: the organisation has none.
    if "region" in fields:
        organisation.region = fields["region"] or None
    _validate(organisation)
    db.session.flush()
    old, new = audit.changes(before, snapshot(organisation))
    if new:
        audit.record("organisation.update", actor=actor, obj=organisation, before=old, after=new)
    return organisation
