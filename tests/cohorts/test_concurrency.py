"""Capacity holds when admins enrol at the same moment: real concurrent requests against a real,
committed database (not the per-test rolled-back transaction), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from academy.auth import services as auth_services
from academy.auth.models import RoleAssignment, User
from academy.catalogue.models import Module, Programme, ProgrammeModule
from academy.cohorts.models import Cohort, Enrolment
from academy.extensions import db
from academy.organisations.models import Organisation
from tests.concurrency import run_together, separate_database

CAPACITY = 5
REQUESTS = 16


def _committed_world(app) -> tuple[int, list[tuple[int, str]]]:
    """A cohort of CAPACITY places and REQUESTS would-be learners, each paired with the token of
    a different admin, committed as the requests will find them."""
    trust = Organisation(
        ods_code="RJ1", name="Guy's and St Thomas'", sector="acute", nation="england"
    )
    module = Module(code="DHL701", title="Health informatics", topic="informatics", credits=15)
    programme = Programme(
        code="PGC01", title="Digital Health Leadership", award_title="PG Cert", credits_required=60
    )
    programme.modules.append(ProgrammeModule(module=module, is_core=True))
    cohort = Cohort(
        programme=programme,
        name="2027 spring",
        starts_on=date(2027, 1, 11),
        ends_on=date(2027, 12, 17),
        capacity=CAPACITY,
    )
    db.session.add_all([trust, cohort])
    db.session.flush()
    pairs = []
    for n in range(REQUESTS):
        admin = User(email=f"admin{n}@academy.test", name=f"Admin {n}", active=True)
        learner = User(email=f"learner{n}@nhs.test", name=f"Learner {n}", organisation=trust)
        db.session.add_all([admin, learner])
        db.session.flush()
        db.session.add(RoleAssignment(user=admin, role="admin", valid_from=date(2020, 1, 1)))
        _, secret = auth_services.issue_token(admin, label="concurrency")
        pairs.append((learner.id, secret))
    db.session.commit()
    return cohort.id, pairs


@pytest.mark.no_db
def test_simultaneous_enrolments_never_overfill_a_cohort(tmp_path):
    with separate_database(tmp_path) as app:
        with app.test_request_context():
            cohort_id, pairs = _committed_world(app)

        def enrol(pair: tuple[int, str]):
            learner_id, token = pair
            client = app.test_client()
            return lambda: (
                client.post(
                    f"/api/v1/cohorts/{cohort_id}/enrolments",
                    json={"user_id": learner_id},
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code
            )

        statuses = run_together(*(enrol(pair) for pair in pairs))

        assert sorted(statuses) == [201] * CAPACITY + [409] * (REQUESTS - CAPACITY)
        with app.app_context():
            assert db.session.get(Cohort, cohort_id).places_taken == CAPACITY
            enrolled = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Enrolment)
                .where(Enrolment.cohort_id == cohort_id)
            )
            assert enrolled == CAPACITY
