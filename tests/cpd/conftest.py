"""Fixtures for the CPD record: a learner on a module that started this CPD year, a clock held
at 1 June 2027 (CPD year 2027: 1 April 2027 to 31 March 2028), and a helper to log entries."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from academy.core import clock
from academy.cpd import services
from academy.extensions import db

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
LEARNER_NAME = "Siân O'Brien-Nguyễn"


@pytest.fixture(autouse=True)
def frozen_clock():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def module(make):
    return make.module(code="DHL701", title="Leading digital change", credits=15)


@pytest.fixture
def cohort(make, module):
    programme = make.programme(modules=[module])
    return make.cohort(programme, starts_on=date(2027, 4, 12), ends_on=date(2028, 3, 17))


@pytest.fixture
def learner(make, cohort):
    return make.learner_in(cohort, name=LEARNER_NAME)


@pytest.fixture
def log_entry(app):
    """`log_entry(user, **fields)`: an entry saved through the service, committed."""

    def add(user, **fields):
        values = {
            "title": "Reading: the Wachter review",
            "activity_type": "reading",
            "started_on": date(2027, 5, 3),
            "hours": "2.5",
            **fields,
        }
        with app.test_request_context():
            entry = services.add_entry(user, actor=user, **values)
            db.session.commit()
        return entry

    return add


@pytest.fixture
def client_for(app, login_as):
    """`client_for(user)`: a fresh client signed in as `user`."""
    return lambda user: login_as(user, the_client=app.test_client())
