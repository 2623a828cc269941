"""Issuing at the same instant, for real, on a database of its own: the same credential asked
for twice gives one credential (the unique issue key refuses the second and it returns the
first), and credentials for different learners never share a status-list bit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.auth.models import User
from academy.catalogue.models import Module
from academy.credentials import services
from academy.credentials.models import Credential
from academy.extensions import db
from tests.concurrency import committed_app, run_together  # noqa: F401 - a fixture
from tests.factories import Factories


def _issue(app, user_id, module_id, cohort_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        module = db.session.get(Module, module_id)
        credential = services.issue_module_credential(
            user, module, cohort_id=cohort_id, credits=module.credits
        )
        uuid = credential.uuid
        db.session.commit()
        db.session.remove()
        return uuid


@pytest.mark.no_db
def test_the_same_credential_issued_twice_at_once_is_issued_once(committed_app):  # noqa: F811
    app = committed_app
    with app.app_context():
        make = Factories(app)
        cohort = make.cohort()
        learner = make.learner_in(cohort)
        ids = (learner.id, cohort.deliveries[0].module_id, cohort.id)
        db.session.remove()
    first, second = run_together(lambda: _issue(app, *ids), lambda: _issue(app, *ids))
    assert first == second
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count(Credential.id)).where(Credential.user_id == ids[0])
        )
        db.session.remove()
    assert count == 1


@pytest.mark.no_db
def test_learners_issued_at_once_get_their_own_status_bits(committed_app):  # noqa: F811
    app = committed_app
    with app.app_context():
        make = Factories(app)
        cohort = make.cohort()
        learners = [make.learner_in(cohort).id for _ in range(4)]
        module_id, cohort_id = cohort.deliveries[0].module_id, cohort.id
        db.session.remove()
    run_together(*[lambda u=u: _issue(app, u, module_id, cohort_id) for u in learners])
    with app.app_context():
        slots = db.session.execute(
            sa.select(
                Credential.revocation_list_id,
                Credential.revocation_index,
                Credential.suspension_list_id,
                Credential.suspension_index,
            ).where(Credential.user_id.in_(learners))
        ).all()
        db.session.remove()
    assert len(slots) == 4
    assert len({(row[0], row[1]) for row in slots}) == 4
    assert len({(row[2], row[3]) for row in slots}) == 4
