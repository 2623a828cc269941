"""The catalogue services: the rules both the HTML pages and the API rely on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.catalogue import services
from academy.core.errors import Conflict, DomainError
from academy.extensions import db

MODULE = {
    "code": "dhl701",
    "title": "Leading digital change",
    "topic": "change_management",
    "credits": 15,
    "level": 7,
    "learning_outcomes": ["Explain the role of a CCIO", "Plan a change programme"],
}


@pytest.fixture
def admin(make):
    return make.user("admin")


def events(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_create_module_upper_cases_the_code_defaults_the_pass_mark_and_audits(ctx, admin):
    module = services.create_module(actor=admin, **MODULE, summary="  For CCIOs.  ")

    assert (module.code, module.pass_mark, module.summary) == ("DHL701", 50, "For CCIOs.")
    [event] = events("module.create")
    assert event.actor_id == admin.id and event.after["code"] == "DHL701"


def test_a_duplicate_module_code_in_any_case_is_a_conflict(ctx, admin, make):
    make.module(code="DHL701")
    with pytest.raises(Conflict) as raised:
        services.create_module(actor=admin, **{**MODULE, "code": " Dhl701 "})
    assert raised.value.field == "code"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "D"}, "code"),
        ({"code": "DHL 701"}, "code"),
        ({"title": "  "}, "title"),
        ({"topic": "astrology"}, "topic"),
        ({"credits": 0}, "credits"),
        ({"credits": -15}, "credits"),
        ({"credits": 1001}, "credits"),
        ({"level": 9}, "level"),
        ({"pass_mark": -1}, "pass_mark"),
        ({"pass_mark": 101}, "pass_mark"),
        ({"learning_outcomes": []}, "learning_outcomes"),
        ({"learning_outcomes": ["Fine", "   "]}, "learning_outcomes"),
        ({"learning_outcomes": "Not a list"}, "learning_outcomes"),
        ({"credential_valid_months": 0}, "credential_valid_months"),
        ({"credential_valid_months": 601}, "credential_valid_months"),
        ({"credential_valid_months": True}, "credential_valid_months"),
        ({"credential_valid_months": "36"}, "credential_valid_months"),
    ],
)
def test_bad_modules_are_refused_naming_the_field(ctx, admin, change, field):
    with pytest.raises(DomainError) as raised:
        services.create_module(actor=admin, **{**MODULE, **change})
    assert raised.value.field == field
    assert raised.value.status == 422


def test_update_module_checks_the_version_and_audits_only_changes(ctx, admin, make):
    module = make.module(code="DHL701", credits=15)
    with pytest.raises(Conflict):
        services.update_module(module, actor=admin, expected_version=module.version + 1, credits=30)

    services.update_module(
        module, actor=admin, expected_version=module.version, credits=30, code="dhl701"
    )

    [event] = events("module.update")
    assert event.before == {"credits": 15} and event.after == {"credits": 30}
    assert module.version == 2


def test_module_credential_validity_is_set_kept_cleared_and_audited(ctx, admin):
    module = services.create_module(actor=admin, **MODULE)
    assert module.credential_valid_months is None

    services.update_module(module, actor=admin, credential_valid_months=36)
    services.update_module(module, actor=admin, title="Renamed")
    assert module.credential_valid_months == 36
    services.update_module(module, actor=admin, credential_valid_months=None)

    assert module.credential_valid_months is None
    changes = [(e.before, e.after) for e in events("module.update")]
    assert ({"credential_valid_months": None}, {"credential_valid_months": 36}) in changes
    assert ({"credential_valid_months": 36}, {"credential_valid_months": None}) in changes


def test_update_module_refuses_another_modules_code(ctx, admin, make):
    make.module(code="DHL701")
    module = make.module(code="DHL702")
    with pytest.raises(Conflict):
        services.update_module(module, actor=admin, code="dhl701")


# --- programmes --------------------------------------------------------------------------------


def programme_fields(*modules, core=(), **change) -> dict:
    return {
        "code": "pgc-dhl",
        "title": "Digital Health Leadership",
        "award_title": "Postgraduate Certificate in Digital Health Leadership",
        "credits_required": 60,
        "module_ids": [m.id for m in modules],
        "core_module_ids": [m.id for m in core],
        **change,
    }


def test_create_programme_keeps_the_order_marks_core_and_adds_missing_core(ctx, admin, make):
    a, b, c = make.module(), make.module(), make.module()

    programme = services.create_programme(actor=admin, **programme_fields(b, a, core=[a, c]))

    assert programme.code == "PGC-DHL"
    assert [(link.module_id, link.is_core, link.position) for link in programme.modules] == [
        (b.id, False, 0),
        (a.id, True, 1),
        (c.id, True, 2),
    ]
    assert (programme.pass_band, programme.merit_band, programme.distinction_band) == (50, 60, 70)
    [event] = events("programme.create")
    assert event.after["modules"][1] == {"module_id": a.id, "core": True}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credits_required": 0}, "credits_required"),
        ({"credits_required": -60}, "credits_required"),
        ({"award_title": ""}, "award_title"),
        ({"pass_band": 65}, "merit_band"),
        ({"merit_band": 75}, "distinction_band"),
        ({"distinction_band": 101}, "distinction_band"),
        ({"pass_band": -1}, "pass_band"),
        ({"module_ids": [999_999]}, "module_ids"),
        ({"core_module_ids": [999_998]}, "core_module_ids"),
        ({"module_ids": []}, "module_ids"),
        ({"award_type": "Degree"}, "award_type"),
        ({"award_needs_ratification": "yes"}, "award_needs_ratification"),
        ({"credential_valid_months": -1}, "credential_valid_months"),
    ],
)
def test_bad_programmes_are_refused_naming_the_field(ctx, admin, make, change, field):
    module = make.module()
    with pytest.raises(DomainError) as raised:
        services.create_programme(actor=admin, **programme_fields(module, **change))
    assert raised.value.field == field


def test_a_duplicate_programme_code_is_a_conflict(ctx, admin, make):
    make.programme(code="PGC-DHL")
    with pytest.raises(Conflict):
        services.create_programme(actor=admin, **programme_fields(make.module()))


def test_changing_only_the_modules_still_moves_the_version(ctx, admin, make):
    a, b = make.module(), make.module()
    programme = make.programme(modules=[a], core=[b])
    version = programme.version

    services.update_programme(
        programme, actor=admin, expected_version=version, module_ids=[a.id, b.id]
    )
    db.session.commit()

    assert [(link.module_id, link.is_core) for link in programme.modules] == [
        (a.id, False),
        (b.id, True),  # still core: only core_module_ids changes that
    ]
    assert programme.version == version + 1
    [event] = events("programme.update")
    assert "modules" in event.after


def test_core_module_ids_alone_re_marks_the_current_modules(ctx, admin, make):
    a, b = make.module(), make.module()
    programme = make.programme(modules=[a, b])

    services.update_programme(programme, actor=admin, core_module_ids=[b.id])

    assert [(link.module_id, link.is_core) for link in programme.modules] == [
        (a.id, False),
        (b.id, True),
    ]


def test_removing_a_module_from_a_programme(ctx, admin, make):
    a, b = make.module(), make.module()
    programme = make.programme(modules=[a, b])

    services.update_programme(programme, actor=admin, module_ids=[b.id], core_module_ids=[])
    db.session.commit()
    db.session.expire_all()

    assert [link.module_id for link in programme.modules] == [b.id]


def test_programme_award_settings_default_change_and_audit(ctx, admin, make):
    module = make.module()
    programme = services.create_programme(actor=admin, **programme_fields(module))
    assert (
        programme.award_type,
        programme.award_needs_ratification,
        programme.credential_valid_months,
    ) == ("Certificate", False, None)

    services.update_programme(
        programme,
        actor=admin,
        award_type="Diploma",
        award_needs_ratification=True,
        credential_valid_months=60,
    )
    services.update_programme(programme, actor=admin, title="Renamed")
    assert programme.credential_valid_months == 60
    services.update_programme(programme, actor=admin, credential_valid_months=None)

    assert (programme.award_type, programme.award_needs_ratification) == ("Diploma", True)
    assert programme.credential_valid_months is None
    first = events("programme.update")[0]
    assert first.after == {
        "award_type": "Diploma",
        "award_needs_ratification": True,
        "credential_valid_months": 60,
    }
