"""The cohort services: the rules for cohorts, module deliveries, tutors, enrolments and their
status lifecycle, called directly."""

from __future__ import annotations

from datetime import date

import pytest

from academy.auth.models import RoleAssignment
from academy.cohorts import services
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core.errors import Conflict, DomainError
from academy.extensions import db
from tests.cohorts import audit_events, fresh
from tests.conftest import count

pytestmark = pytest.mark.usefixtures("ctx")

NEW_COHORT = {
    "name": "2027 autumn",
    "starts_on": date(2027, 9, 6),
    "ends_on": date(2028, 7, 14),
    "capacity": 25,
}


def new_cohort(admin, programme, **changes):
    return services.create_cohort(
        actor=admin, programme_id=programme.id, **{**NEW_COHORT, **changes}
    )


# --- cohorts -----------------------------------------------------------------------------------


def test_a_cohort_is_created_with_its_modules_and_audited(admin, programme, informatics):
    cohort = new_cohort(
        admin,
        programme,
        nation="wales",
        modules=[
            {
                "module_id": informatics.id,
                "starts_on": date(2027, 9, 6),
                "ends_on": date(2027, 12, 17),
            }
        ],
    )
    db.session.commit()

    cohort = fresh(Cohort, cohort.id)
    assert (cohort.name, cohort.capacity, cohort.places_taken, cohort.nation) == (
        "2027 autumn",
        25,
        0,
        "wales",
    )
    [delivery] = cohort.deliveries
    assert delivery.module_id == informatics.id
    [event] = audit_events("cohort.create", cohort)
    assert event.actor_id == admin.id and event.after["ends_on"] == "2028-07-14"
    assert len(audit_events("cohort.delivery_add", delivery)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_on": date(2027, 9, 5)}, "ends_on"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"nation": "atlantis"}, "nation"),
        ({"name": "   "}, "name"),
    ],
)
def test_bad_cohorts_are_refused_naming_the_field(admin, programme, changes, field):
    with pytest.raises(DomainError) as refused:
        new_cohort(admin, programme, **changes)
    assert refused.value.field == field
    assert refused.value.status == 422


def test_a_cohort_needs_a_programme_that_exists(admin):
    with pytest.raises(DomainError) as refused:
        services.create_cohort(actor=admin, programme_id=999_999, **NEW_COHORT)
    assert refused.value.field == "programme_id"


def test_a_cohort_name_is_unique_within_its_programme_in_any_case(admin, programme, cohort, make):
    with pytest.raises(Conflict) as refused:
        new_cohort(admin, programme, name="2027 SPRING")
    assert refused.value.field == "name" and refused.value.status == 409
    # Another programme may use the same name.
    other = make.programme(modules=[make.module()])
    assert new_cohort(admin, other, name="2027 spring").id


def test_renaming_to_a_name_in_use_is_a_conflict(admin, make, programme, cohort):
    other = make.cohort(programme, name="2028 spring")
    with pytest.raises(Conflict) as refused:
        services.update_cohort(
            other, actor=admin, expected_version=other.version, name="2027 spring"
        )
    assert refused.value.field == "name"


def test_a_module_outside_the_programme_is_refused_naming_its_entry(admin, programme, make):
    stranger = make.module()
    with pytest.raises(DomainError) as refused:
        new_cohort(
            admin,
            programme,
            modules=[
                {
                    "module_id": stranger.id,
                    "starts_on": date(2027, 9, 6),
                    "ends_on": date(2027, 10, 1),
                }
            ],
        )
    assert refused.value.field == "modules.0.module_id"


def test_capacity_cannot_drop_below_the_places_taken(admin, cohort, make):
    for _ in range(3):
        make.learner_in(cohort)

    with pytest.raises(DomainError) as refused:
        services.update_cohort(cohort, actor=admin, expected_version=cohort.version, capacity=2)
    assert refused.value.field == "capacity"
    assert "3 places already taken" in refused.value.message
    db.session.rollback()  # as the request would

    services.update_cohort(cohort, actor=admin, expected_version=cohort.version, capacity=3)
    db.session.commit()
    assert fresh(Cohort, cohort.id).capacity == 3


def test_a_stale_cohort_edit_is_a_conflict(admin, cohort):
    with pytest.raises(Conflict) as refused:
        services.update_cohort(cohort, actor=admin, expected_version=cohort.version - 1, capacity=9)
    assert refused.value.field == "version"


def test_enrolling_does_not_make_an_open_edit_page_stale(admin, cohort, make):
    version = cohort.version
    services.enrol(
        make.user(organisation=make.organisation()), cohort, make.organisation(), actor=admin
    )
    db.session.commit()

    assert fresh(Cohort, cohort.id).version == version
    services.update_cohort(cohort, actor=admin, expected_version=version, name="2027 late spring")
    db.session.commit()
    assert fresh(Cohort, cohort.id).name == "2027 late spring"


def test_new_cohort_dates_must_still_hold_its_modules(admin, cohort):
    with pytest.raises(DomainError) as refused:
        services.update_cohort(
            cohort, actor=admin, expected_version=cohort.version, ends_on=date(2027, 6, 30)
        )
    assert refused.value.field == "ends_on"
    assert "DHL701" in refused.value.message


def test_an_update_is_audited_with_only_what_changed(admin, cohort):
    services.update_cohort(
        cohort, actor=admin, expected_version=cohort.version, capacity=40, name=cohort.name
    )
    db.session.commit()
    [event] = audit_events("cohort.update", cohort)
    assert event.before == {"capacity": 30} and event.after == {"capacity": 40}


# --- module deliveries -------------------------------------------------------------------------


def test_deliveries_are_added_changed_and_removed(admin, make, programme, informatics):
    cohort = make.cohort(programme, modules=[])

    delivery = services.add_delivery(
        cohort,
        actor=admin,
        module_id=informatics.id,
        starts_on=date(2027, 2, 1),
        ends_on=date(2027, 4, 30),
    )
    services.update_delivery(
        delivery, actor=admin, starts_on=date(2027, 3, 1), ends_on=date(2027, 5, 28)
    )
    db.session.commit()
    assert fresh(ModuleDelivery, delivery.id).starts_on == date(2027, 3, 1)

    services.remove_delivery(delivery, actor=admin)
    db.session.commit()
    assert count(ModuleDelivery) == 0
    for action in ("cohort.delivery_add", "cohort.delivery_update", "cohort.delivery_remove"):
        assert len(audit_events(action, delivery)) == 1, action


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "field"),
    [
        (date(2027, 1, 10), date(2027, 3, 1), "starts_on"),  # before the cohort starts
        (date(2027, 2, 1), date(2027, 12, 18), "ends_on"),  # after the cohort ends
        (date(2027, 3, 1), date(2027, 2, 1), "ends_on"),  # ends before it starts
    ],
)
def test_delivery_dates_must_fall_within_the_cohort(
    admin, make, programme, informatics, starts_on, ends_on, field
):
    cohort = make.cohort(programme, modules=[])
    with pytest.raises(DomainError) as refused:
        services.add_delivery(
            cohort, actor=admin, module_id=informatics.id, starts_on=starts_on, ends_on=ends_on
        )
    assert refused.value.field == field


def test_a_delivery_must_be_a_module_of_the_programme_and_not_a_duplicate(
    admin, cohort, informatics, make
):
    dates = {"starts_on": date(2027, 2, 1), "ends_on": date(2027, 3, 1)}
    with pytest.raises(DomainError) as refused:
        services.add_delivery(cohort, actor=admin, module_id=make.module().id, **dates)
    assert refused.value.field == "module_id"
    with pytest.raises(Conflict) as duplicate:
        services.add_delivery(cohort, actor=admin, module_id=informatics.id, **dates)
    assert duplicate.value.field == "module_id"


# --- tutors ------------------------------------------------------------------------------------


def test_a_tutor_is_assigned_and_removed_through_a_scoped_role(admin, cohort, make):
    tutor = make.user(name="Dr Tomasz Nowak")

    assignment = services.assign_tutor(cohort, tutor, actor=admin)
    db.session.commit()
    assert (assignment.role, assignment.cohort_id) == ("tutor", cohort.id)
    assert services.current_tutor_roles(cohort) == [assignment]
    assert len(audit_events("role.grant", assignment)) == 1

    with pytest.raises(Conflict) as duplicate:
        services.assign_tutor(cohort, tutor, actor=admin)
    assert duplicate.value.field == "user_id"
    db.session.rollback()

    services.remove_tutor(assignment, actor=admin)
    db.session.commit()
    assert services.current_tutor_roles(cohort) == []
    assert fresh(RoleAssignment, assignment.id).ended_by_id == admin.id


@pytest.mark.parametrize("who", ["nobody", "inactive"])
def test_a_tutor_must_be_an_active_account(admin, cohort, make, who):
    user = None if who == "nobody" else make.user(active=False)
    with pytest.raises(DomainError) as refused:
        services.assign_tutor(cohort, user, actor=admin)
    assert refused.value.field == "user_id" and refused.value.status == 422


# --- enrolling ---------------------------------------------------------------------------------


def test_enrolling_holds_a_place_keeps_history_audits_and_makes_a_learner(
    admin, cohort, trust, make
):
    person = make.user(organisation=trust)

    enrolment = services.enrol(person, cohort, trust, actor=admin, reason="Trust nomination")
    db.session.commit()

    enrolment = fresh(Enrolment, enrolment.id)
    assert (enrolment.status, enrolment.sponsor_organisation_id) == ("active", trust.id)
    [change] = enrolment.history
    assert (change.from_status, change.to_status, change.reason, change.changed_by_id) == (
        None,
        "active",
        "Trust nomination",
        admin.id,
    )
    assert fresh(Cohort, cohort.id).places_taken == 1
    assert [r.role for r in person.roles] == ["learner"]
    [event] = audit_events("enrolment.create", enrolment)
    assert event.actor_id == admin.id and event.after["sponsor_organisation_id"] == trust.id


def test_a_learner_already_holding_the_role_gets_no_second_one(admin, cohort, trust, make):
    learner = make.user("learner", organisation=trust)
    services.enrol(learner, cohort, trust, actor=admin)
    db.session.commit()
    assert [r.role for r in learner.roles] == ["learner"]


def test_enrolling_twice_is_a_conflict(admin, cohort, trust, make):
    learner = make.learner_in(cohort, organisation=trust)
    with pytest.raises(Conflict) as refused:
        services.enrol(learner, cohort, trust, actor=admin)
    assert refused.value.status == 409 and refused.value.field == "user_id"


def test_a_full_cohort_refuses_another_learner(admin, make, programme, trust):
    cohort = make.cohort(programme, capacity=2)
    for _ in range(2):
        make.learner_in(cohort)

    with pytest.raises(Conflict) as refused:
        services.enrol(make.user(), cohort, trust, actor=admin)
    assert refused.value.message.startswith("The cohort is full")
    db.session.rollback()
    assert fresh(Cohort, cohort.id).places_taken == 2
    assert count(Enrolment) == 2


@pytest.mark.parametrize("who", ["nobody", "inactive"])
def test_only_existing_active_accounts_are_enrolled(admin, cohort, trust, make, who):
    user = None if who == "nobody" else make.user(active=False)
    with pytest.raises(DomainError) as refused:
        services.enrol(user, cohort, trust, actor=admin)
    assert refused.value.field == "user_id" and refused.value.status == 422
    assert count(Enrolment) == 0


def test_a_sponsor_is_needed(admin, cohort, make):
    with pytest.raises(DomainError) as refused:
        services.enrol(make.user(), cohort, None, actor=admin)
    assert refused.value.field == "sponsor_organisation_id"


# --- the status lifecycle ----------------------------------------------------------------------

STATUSES = ("active", "deferred", "withdrawn", "completed")
#: The lifecycle as the issue states it: withdrawn and completed are final.
ALLOWED = {
    ("active", "deferred"),
    ("active", "withdrawn"),
    ("active", "completed"),
    ("deferred", "active"),
    ("deferred", "withdrawn"),
}
PAIRS = [(a, b) for a in STATUSES for b in STATUSES if a != b]


@pytest.mark.parametrize(("start", "target"), PAIRS)
def test_only_the_lifecycle_transitions_are_allowed(admin, cohort, make, start, target):
    enrolment = make.enrolment(
        make.user("learner", organisation=make.organisation()), cohort, status=start
    )

    if (start, target) in ALLOWED:
        services.change_status(
            enrolment,
            status=target,
            reason="Agreed with the trust",
            actor=admin,
            expected_version=enrolment.version,
        )
        db.session.commit()
        assert fresh(Enrolment, enrolment.id).status == target
    else:
        with pytest.raises(DomainError) as refused:
            services.change_status(
                enrolment,
                status=target,
                reason="Agreed",
                actor=admin,
                expected_version=enrolment.version,
            )
        assert refused.value.field == "status" and refused.value.status == 422
        db.session.rollback()
        assert fresh(Enrolment, enrolment.id).status == start


def test_every_change_is_kept_with_who_when_and_why(admin, cohort, make):
    learner = make.learner_in(cohort)
    enrolment = services.enrolment_of(learner, cohort)
    other_admin = make.user("admin", name="Ben Admin")

    services.change_status(
        enrolment,
        status="deferred",
        reason="Maternity leave",
        actor=admin,
        expected_version=enrolment.version,
    )
    db.session.commit()
    services.change_status(
        enrolment,
        status="active",
        reason="Back from leave",
        actor=other_admin,
        expected_version=enrolment.version,
    )
    db.session.commit()

    history = fresh(Enrolment, enrolment.id).history
    assert [(h.from_status, h.to_status, h.reason, h.changed_by_id) for h in history[1:]] == [
        ("active", "deferred", "Maternity leave", admin.id),
        ("deferred", "active", "Back from leave", other_admin.id),
    ]
    assert all(h.changed_at is not None for h in history)
    events = audit_events("enrolment.status", enrolment)
    assert [(e.before, e.after["status"], e.actor_id) for e in events] == [
        ({"status": "active"}, "deferred", admin.id),
        ({"status": "deferred"}, "active", other_admin.id),
    ]


def test_withdrawing_frees_the_place(admin, make, programme, trust):
    cohort = make.cohort(programme, capacity=1)
    learner = make.learner_in(cohort)
    enrolment = services.enrolment_of(learner, cohort)

    services.change_status(
        enrolment,
        status="withdrawn",
        reason="Left the trust",
        actor=admin,
        expected_version=enrolment.version,
    )
    db.session.commit()
    assert fresh(Cohort, cohort.id).places_taken == 0

    services.enrol(make.user(), cohort, trust, actor=admin)
    db.session.commit()
    assert fresh(Cohort, cohort.id).places_taken == 1


def test_deferring_keeps_the_place(admin, cohort, make):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    services.change_status(
        enrolment,
        status="deferred",
        reason="Illness",
        actor=admin,
        expected_version=enrolment.version,
    )
    db.session.commit()
    assert fresh(Cohort, cohort.id).places_taken == 1


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(admin, cohort, make, reason):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    with pytest.raises(DomainError) as refused:
        services.change_status(
            enrolment,
            status="deferred",
            reason=reason,
            actor=admin,
            expected_version=enrolment.version,
        )
    assert refused.value.field == "reason"


def test_a_stale_status_change_is_a_conflict_and_changes_nothing(admin, cohort, make):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    with pytest.raises(Conflict) as refused:
        services.change_status(
            enrolment,
            status="withdrawn",
            reason="Left",
            actor=admin,
            expected_version=enrolment.version + 1,
        )
    assert refused.value.field == "version"
    db.session.rollback()
    assert fresh(Enrolment, enrolment.id).status == "active"
    assert fresh(Cohort, cohort.id).places_taken == 1
