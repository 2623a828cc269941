"""Every change to cohorts, module deliveries, tutors and enrolments. Functions flush; the caller
commits.

Places in a cohort are counted in `Cohort.places_taken`, moved only by `_take_places` and
`_give_back_place`: one conditional UPDATE each, so two admins enrolling at once cannot overfill a
cohort (PostgreSQL re-checks the condition on the locked row; SQLite has a single writer), and the
`places_within_capacity` CHECK is the backstop.
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from academy.audit import services as audit
from academy.auth import services as auth_services
from academy.auth.models import RoleAssignment, User
from academy.catalogue.models import Module, Programme, ProgrammeModule
from academy.cohorts.models import (
    ENROLMENT_STATUSES,
    HOLDS_A_PLACE,
    TRANSITIONS,
    Cohort,
    Enrolment,
    EnrolmentStatusChange,
    ModuleDelivery,
)
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.extensions import db
from academy.organisations.models import NATIONS, Organisation

log = logging.getLogger(__name__)

COHORT_FIELDS = ("programme_id", "name", "starts_on", "ends_on", "capacity", "nation")
#: Editable after creation. The programme is fixed: deliveries and enrolments depend on it.
EDITABLE_COHORT_FIELDS = ("name", "starts_on", "ends_on", "capacity", "nation")
MAX_CAPACITY = 10_000
STATUS_LABELS = {
    "active": "Active",
    "deferred": "Deferred",
    "withdrawn": "Withdrawn",
    "completed": "Completed",
}


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


def cohort_snapshot(cohort: Cohort) -> dict:
    return {field: _iso(getattr(cohort, field)) for field in COHORT_FIELDS}


def delivery_snapshot(delivery: ModuleDelivery) -> dict:
    return {
        "cohort_id": delivery.cohort_id,
        "module_id": delivery.module_id,
        "starts_on": _iso(delivery.starts_on),
        "ends_on": _iso(delivery.ends_on),
    }


def enrolment_snapshot(enrolment: Enrolment) -> dict:
    return {
        "user_id": enrolment.user_id,
        "cohort_id": enrolment.cohort_id,
        "sponsor_organisation_id": enrolment.sponsor_organisation_id,
        "status": enrolment.status,
    }


def _flush_versioned(message: str) -> None:
    """Flush, turning the mapper's version check into a 409: someone saved in between."""
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise Conflict(message, field="version") from exc


# --- cohorts -----------------------------------------------------------------------------------


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name for the cohort, like 2027 spring", field="name")
    if len(name) > 120:
        raise DomainError("The cohort name must be 120 characters or fewer", field="name")
    return name


def _check_cohort(cohort: Cohort) -> None:
    if cohort.starts_on is None:
        raise DomainError("Enter the date the cohort starts", field="starts_on")
    if cohort.ends_on is None:
        raise DomainError("Enter the date the cohort ends", field="ends_on")
    if cohort.ends_on < cohort.starts_on:
        raise DomainError("The cohort must end on or after the day it starts", field="ends_on")
    if cohort.capacity is None or cohort.capacity < 1:
        raise DomainError("Capacity must be 1 or more", field="capacity")
    if cohort.capacity > MAX_CAPACITY:
        raise DomainError(f"Capacity must be {MAX_CAPACITY:,} or fewer", field="capacity")
    if cohort.capacity < (cohort.places_taken or 0):
        raise DomainError(
            f"Capacity cannot be below the {cohort.places_taken} places already taken",
            field="capacity",
        )
    if cohort.nation not in NATIONS:
        raise DomainError(f"Nation must be one of: {', '.join(NATIONS)}", field="nation")


def _check_name_unique(programme_id: int, name: str, cohort_id: int | None = None) -> None:
    clash = db.session.scalar(
        sa.select(Cohort.id).where(
            Cohort.programme_id == programme_id,
            sa.func.lower(Cohort.name) == name.lower(),
            *([Cohort.id != cohort_id] if cohort_id else []),
        )
    )
    if clash is not None:
        raise Conflict(f"This programme already has a cohort called {name}", field="name")


def create_cohort(
    *,
    actor: User,
    programme_id: int,
    name: str,
    starts_on: date,
    ends_on: date,
    capacity: int,
    nation: str | None = None,
    modules: list[dict] | tuple = (),
) -> Cohort:
    """A new cohort, optionally with module deliveries (`modules`: dicts of `module_id`,
    `starts_on`, `ends_on`)."""
    programme = db.session.get(Programme, programme_id) if programme_id else None
    if programme is None:
        raise DomainError("Choose a programme that exists", field="programme_id")
    cohort = Cohort(
        programme_id=programme.id,
        name=_clean_name(name),
        starts_on=starts_on,
        ends_on=ends_on,
        capacity=capacity,
        places_taken=0,
        nation=nation or "england",
    )
    _check_cohort(cohort)
    _check_name_unique(programme.id, cohort.name)
    db.session.add(cohort)
    db.session.flush()
    audit.record("cohort.create", actor=actor, obj=cohort, after=cohort_snapshot(cohort))
    for index, module in enumerate(modules):
        try:
            add_delivery(cohort, actor=actor, **module)
        except DomainError as error:
            # Name the entry at fault, as the API's `modules` list gives them.
            error.field = f"modules.{index}.{error.field}" if error.field else "modules"
            raise
    log.info("cohort %s created by %s", cohort.id, getattr(actor, "id", "system"))
    return cohort


def update_cohort(
    cohort: Cohort, *, actor: User, expected_version: int | None = None, **fields
) -> Cohort:
    auth_services.check_version(cohort, expected_version)
    unknown = set(fields) - set(EDITABLE_COHORT_FIELDS)
    if unknown:
        raise DomainError(f"These cannot be changed: {', '.join(sorted(unknown))}")
    before = cohort_snapshot(cohort)
    db.session.refresh(cohort, ["places_taken"])  # enrolments move it without a new version
    for field, value in fields.items():
        if value is not None:
            setattr(cohort, field, _clean_name(value) if field == "name" else value)
    _check_cohort(cohort)
    with db.session.no_autoflush:  # the unsaved name must not reach the unique constraint first
        _check_name_unique(cohort.programme_id, cohort.name, cohort.id)
    outside = [d for d in cohort.deliveries if not _within(d, cohort)]
    if outside:
        codes = ", ".join(d.module.code for d in outside)
        raise DomainError(
            f"These modules run outside the new dates: {codes}. Change their dates first",
            field="starts_on"
            if any(d.starts_on < cohort.starts_on for d in outside)
            else "ends_on",
        )
    _flush_versioned("This cohort was changed by someone else; reload it and try again")
    old, new = audit.changes(before, cohort_snapshot(cohort))
    if new:
        audit.record("cohort.update", actor=actor, obj=cohort, before=old, after=new)
    return cohort


# --- module deliveries -------------------------------------------------------------------------


def _within(delivery: ModuleDelivery, cohort: Cohort) -> bool:
    return cohort.starts_on <= delivery.starts_on and delivery.ends_on <= cohort.ends_on


def _check_delivery_dates(delivery: ModuleDelivery, cohort: Cohort) -> None:
    if delivery.starts_on is None:
        raise DomainError("Enter the date the module starts", field="starts_on")
    if delivery.ends_on is None:
        raise DomainError("Enter the date the module ends", field="ends_on")
    if delivery.ends_on < delivery.starts_on:
        raise DomainError("The module must end on or after the day it starts", field="ends_on")
    if delivery.starts_on < cohort.starts_on:
        raise DomainError(
            f"The module cannot start before the cohort does ({cohort.starts_on:%d %B %Y})",
            field="starts_on",
        )
    if delivery.ends_on > cohort.ends_on:
        raise DomainError(
            f"The module cannot end after the cohort does ({cohort.ends_on:%d %B %Y})",
            field="ends_on",
        )


def programme_module_ids(programme_id: int) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(ProgrammeModule.module_id).where(ProgrammeModule.programme_id == programme_id)
        )
    )


def add_delivery(
    cohort: Cohort, *, actor: User, module_id: int, starts_on: date, ends_on: date
) -> ModuleDelivery:
    module = db.session.get(Module, module_id) if module_id else None
    if module is None or module.id not in programme_module_ids(cohort.programme_id):
        raise DomainError(
            "Choose a module that is part of this cohort's programme", field="module_id"
        )
    if any(d.module_id == module.id for d in cohort.deliveries):
        raise Conflict(f"This cohort already runs {module.code}", field="module_id")
    delivery = ModuleDelivery(module=module, starts_on=starts_on, ends_on=ends_on)
    _check_delivery_dates(delivery, cohort)
    cohort.deliveries.append(delivery)
    db.session.flush()
    audit.record(
        "cohort.delivery_add", actor=actor, obj=delivery, after=delivery_snapshot(delivery)
    )
    return delivery


def update_delivery(
    delivery: ModuleDelivery, *, actor: User, starts_on: date, ends_on: date
) -> ModuleDelivery:
    before = delivery_snapshot(delivery)
    delivery.starts_on, delivery.ends_on = starts_on, ends_on
    _check_delivery_dates(delivery, delivery.cohort)
    db.session.flush()
    old, new = audit.changes(before, delivery_snapshot(delivery))
    if new:
        audit.record("cohort.delivery_update", actor=actor, obj=delivery, before=old, after=new)
    return delivery


def remove_delivery(delivery: ModuleDelivery, *, actor: User) -> None:
    # Imported here: assessment builds on cohorts, not the other way round.
    from academy.assessment.models import Assignment

    has_assignments = db.session.scalar(
        sa.select(Assignment.id).where(Assignment.delivery_id == delivery.id).limit(1)
    )
    if has_assignments is not None:
        raise DomainError(
            f"{delivery.module.code} has assignments in this cohort, so it cannot be removed"
        )
    before = delivery_snapshot(delivery)
    delivery_id = delivery.id
    delivery.cohort.deliveries.remove(delivery)
    db.session.flush()
    audit.record(
        "cohort.delivery_remove",
        actor=actor,
        object_type="module_delivery",
        object_id=delivery_id,
        before=before,
    )


# --- tutors ------------------------------------------------------------------------------------


def current_tutor_roles(cohort: Cohort) -> list[RoleAssignment]:
    """The tutor role assignments of `cohort` held today, with their users, by name."""
    today = clock.today()
    return list(
        db.session.scalars(
            sa.select(RoleAssignment)
            .join(RoleAssignment.user)
            .where(
                RoleAssignment.role == "tutor",
                RoleAssignment.cohort_id == cohort.id,
                RoleAssignment.ended_at.is_(None),
                RoleAssignment.valid_from <= today,
                sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            )
            .order_by(User.name, RoleAssignment.id)
        )
    )


def assign_tutor(cohort: Cohort, user: User | None, *, actor: User) -> RoleAssignment:
    if user is None:
        raise DomainError("Choose a person who has an account", field="user_id")
    if not user.active:
        raise DomainError(f"{user.name}'s account is deactivated", field="user_id")
    try:
        return auth_services.grant_role(user, "tutor", actor=actor, cohort_id=cohort.id)
    except Conflict as exc:
        raise Conflict(f"{user.name} already teaches this cohort", field="user_id") from exc


def remove_tutor(assignment: RoleAssignment, *, actor: User) -> RoleAssignment:
    return auth_services.end_role(assignment, actor=actor)


# --- places ------------------------------------------------------------------------------------


def _take_places(cohort: Cohort, count: int) -> None:
    """Hold `count` more places, or refuse if the cohort has too few left. One conditional
    UPDATE, which does not bump the cohort's version: enrolling must not make an admin's open
    edit page stale."""
    table = Cohort.__table__
    db.session.flush()
    result = db.session.execute(
        sa.update(table)
        .where(table.c.id == cohort.id, table.c.places_taken + count <= table.c.capacity)
        .values(places_taken=table.c.places_taken + count)
    )
    db.session.expire(cohort, ["places_taken"])
    if result.rowcount == 0:
        left = cohort.places_left
        if count == 1 or left <= 0:
            raise Conflict(f"The cohort is full: all {cohort.capacity} places are taken")
        raise Conflict(f"The cohort has {left} places left, not enough for {count} learners")


def _give_back_place(cohort: Cohort) -> None:
    table = Cohort.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == cohort.id, table.c.places_taken > 0)
        .values(places_taken=table.c.places_taken - 1)
    )
    db.session.expire(cohort, ["places_taken"])


# --- enrolments --------------------------------------------------------------------------------


def enrolment_of(user: User, cohort: Cohort) -> Enrolment | None:
    return db.session.scalar(
        sa.select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.cohort_id == cohort.id)
    )


def _check_can_enrol(user: User | None, sponsor: Organisation | None) -> None:
    if user is None:
        raise DomainError("Choose a person who has an account", field="user_id")
    if not user.active:
        raise DomainError(f"{user.name}'s account is deactivated", field="user_id")
    if sponsor is None:
        raise DomainError(
            "Choose the sponsoring organisation that exists", field="sponsor_organisation_id"
        )


def holds_learner_role(user: User) -> bool:
    """A learner role held now or later, so enrolling never grants an overlapping one."""
    today = clock.today()
    return any(
        r.role == "learner" and r.ended_at is None and (r.valid_to is None or r.valid_to >= today)
        for r in user.roles
    )


def _add_enrolment(
    user: User, cohort: Cohort, sponsor: Organisation, *, actor: User, reason: str
) -> Enrolment:
    """The enrolment row, its first history entry, its audit and the learner role; the caller
    has already taken the place."""
    enrolment = Enrolment(
        user=user,
        cohort=cohort,
        sponsor_organisation=sponsor,
        status="active",
        enrolled_at=clock.now(),
    )
    enrolment.history.append(
        EnrolmentStatusChange(
            from_status=None, to_status="active", reason=reason, changed_by_id=actor.id
        )
    )
    db.session.add(enrolment)
    db.session.flush()
    audit.record(
        "enrolment.create", actor=actor, obj=enrolment, after=enrolment_snapshot(enrolment)
    )
    if not holds_learner_role(user):
        auth_services.grant_role(user, "learner", actor=actor)
    return enrolment


def enrol(
    user: User | None,
    cohort: Cohort,
    sponsor_organisation: Organisation | None,
    *,
    actor: User,
    reason: str = "Enrolled",
) -> Enrolment:
    """Enrol `user` in `cohort`, sponsored by `sponsor_organisation`. A duplicate or a full
    cohort is a Conflict (409)."""
    _check_can_enrol(user, sponsor_organisation)
    existing = enrolment_of(user, cohort)
    if existing is not None:
        raise Conflict(
            f"{user.name} is already enrolled in this cohort ({existing.status})", field="user_id"
        )
    _take_places(cohort, 1)
    enrolment = _add_enrolment(
        user, cohort, sponsor_organisation, actor=actor, reason=(reason or "").strip() or "Enrolled"
    )
    log.info("user %s enrolled in cohort %s by %s", user.id, cohort.id, actor.id)
    return enrolment


def enrol_many(
    entries: list[tuple[User, Organisation]], cohort: Cohort, *, actor: User, reason: str
) -> list[Enrolment]:
    """Enrol every (user, sponsor) in `entries`, holding all their places in one conditional
    UPDATE: the whole batch fits, or nothing is enrolled. Callers check for duplicates first;
    the unique constraint refuses any that slip past."""
    if not entries:
        return []
    _take_places(cohort, len(entries))
    return [
        _add_enrolment(user, cohort, sponsor, actor=actor, reason=reason)
        for user, sponsor in entries
    ]


def allowed_statuses(enrolment: Enrolment) -> list[str]:
    """The statuses `enrolment` may move to, in lifecycle order."""
    return [s for s in ENROLMENT_STATUSES if s in TRANSITIONS[enrolment.status]]


def change_status(
    enrolment: Enrolment,
    *,
    status: str,
    reason: str,
    actor: User,
    expected_version: int | None = None,
) -> Enrolment:
    """Move an enrolment along its lifecycle, keeping who, when and why. Withdrawing frees the
    place."""
    auth_services.check_version(enrolment, expected_version)
    current = enrolment.status
    if status not in TRANSITIONS.get(current, set()):
        allowed = allowed_statuses(enrolment)
        options = (
            f"it can change to {_or_list([STATUS_LABELS[s].lower() for s in allowed])}"
            if allowed
            else "it cannot change any more"
        )
        raise DomainError(
            f"A {current} enrolment cannot become {status}: {options}", field="status"
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason for the change", field="reason")
    if len(reason) > 2000:
        raise DomainError("The reason must be 2,000 characters or fewer", field="reason")
    before = enrolment_snapshot(enrolment)
    enrolment.status = status
    enrolment.history.append(
        EnrolmentStatusChange(
            from_status=current, to_status=status, reason=reason, changed_by_id=actor.id
        )
    )
    # The enrolment's own versioned UPDATE goes first, so a stale change moves no places.
    _flush_versioned("This enrolment was changed by someone else; reload it and try again")
    held, holds = current in HOLDS_A_PLACE, status in HOLDS_A_PLACE
    if held and not holds:
        _give_back_place(enrolment.cohort)
    elif holds and not held:
        _take_places(enrolment.cohort, 1)
    audit.record(
        "enrolment.status",
        actor=actor,
        obj=enrolment,
        before={"status": before["status"]},
        after={"status": status, "reason": reason},
    )
    log.info("enrolment %s %s -> %s by %s", enrolment.id, current, status, actor.id)
    return enrolment


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
