"""Fixtures for cohorts and enrolments: a programme of two modules, a cohort running both, the
admin who runs it, and two trusts whose staff share it."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin(make):
    return make.user("admin", name="Ada Okafor")


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Guy's and St Thomas'")


@pytest.fixture
def other_trust(make):
    return make.organisation(ods_code="RRK", name="University Hospitals Birmingham")


@pytest.fixture
def informatics(make):
    return make.module(code="DHL701", title="Health informatics in practice", credits=15)


@pytest.fixture
def change_management(make):
    return make.module(
        code="DHL702", title="Leading digital change", topic="change_management", credits=30
    )


@pytest.fixture
def programme(make, informatics, change_management):
    return make.programme(
        code="PGC01",
        title="Digital Health Leadership",
        core=[informatics],
        modules=[change_management],
        credits_required=60,
    )


@pytest.fixture
def cohort(make, programme):
    return make.cohort(programme, name="2027 spring", capacity=30)
