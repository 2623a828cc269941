"""A module taught in one cohort, with the people around it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Course:
    module: object
    programme: object
    cohort: object
    learner: object
    tutor: object
    admin: object
    section: object


@pytest.fixture
def course(make) -> Course:
    module = make.module(code="DHL701", title="Leading digital change")
    programme = make.programme(core=[module])
    cohort = make.cohort(programme)
    return Course(
        module=module,
        programme=programme,
        cohort=cohort,
        learner=make.learner_in(cohort, name="Dr Priya Shah"),
        tutor=make.user("tutor", scope=cohort, name="Tom Tutor"),
        admin=make.user("admin"),
        section=make.section(module, title="Week 1: Why informatics matters"),
    )


@pytest.fixture
def elsewhere(make):
    """Another cohort running another module, with its own tutor and learner."""
    cohort = make.cohort()
    return {
        "cohort": cohort,
        "tutor": make.user("tutor", scope=cohort),
        "learner": make.learner_in(cohort),
    }
