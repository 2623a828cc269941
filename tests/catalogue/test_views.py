"""The catalogue pages: admins build modules and programmes; anyone signed in reads them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.catalogue.models import Module, Programme
from academy.extensions import db
from tests.conftest import count

NEW_MODULE = {
    "code": "dhl701",
    "title": "Leading digital change",
    "topic": "change_management",
    "credits": "15",
    "level": "7",
    "pass_mark": "50",
    "learning_outcomes": "Explain the role of a CCIO\n\n  Plan a change programme  \n",
    "summary": "For new chief clinical information officers.",
}


@pytest.fixture
def admin(make):
    return make.user("admin")


def text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'")


def module_by_code(code: str) -> Module | None:
    return db.session.scalar(sa.select(Module).where(Module.code == code))


# --- modules -----------------------------------------------------------------------------------


def test_admin_adds_a_module_with_outcomes_one_per_line(admin, login_as):
    client = login_as(admin)

    response = client.post("/modules/new", data=NEW_MODULE)

    module = module_by_code("DHL701")
    assert response.status_code == 302
    assert response.location.endswith(f"/modules/{module.id}")
    assert module.learning_outcomes == ["Explain the role of a CCIO", "Plan a change programme"]
    page = text(client.get(response.location))
    assert "Leading digital change (DHL701) has been added" in page
    assert "<li>Plan a change programme</li>" in page


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"credits": "-15"}, "Credits must be 1 or more", "credits"),
        ({"credits": "lots"}, "Credits must be a whole number, like 15", "credits"),
        ({"topic": ""}, "Choose a topic", "topic"),
        ({"pass_mark": "120"}, "Pass mark must be from 0 to 100", "pass_mark"),
        ({"learning_outcomes": " \n "}, "Enter at least one learning outcome", "learning_outcomes"),
        ({"code": "D!"}, "Code must be 2 to 20 letters, digits or hyphens", "code"),
        (
            {"credential_valid_months": "0"},
            "Credential validity must be from 1 to 600 months",
            "credential_valid_months",
        ),
        (
            {"credential_valid_months": "three years"},
            "Credential validity must be a whole number of months, like 36",
            "credential_valid_months",
        ),
    ],
)
def test_bad_modules_are_clear_form_errors(admin, login_as, change, message, field):
    response = login_as(admin).post("/modules/new", data={**NEW_MODULE, **change})

    body = text(response)
    assert response.status_code == 200
    assert "There is a problem" in body and message in body
    assert f'href="#{field}"' in body
    assert count(Module) == 0


def test_a_duplicate_module_code_is_a_form_error(admin, login_as, make):
    make.module(code="DHL701")
    response = login_as(admin).post("/modules/new", data=NEW_MODULE)
    assert "A module with code DHL701 already exists" in text(response)
    assert count(Module) == 1


def test_admin_edits_a_module_from_a_form_showing_its_outcomes(admin, login_as, make):
    module = make.module(learning_outcomes=["First", "Second"], credits=15)
    client = login_as(admin)
    form = text(client.get(f"/modules/{module.id}/edit"))
    assert "First\nSecond</textarea>" in form

    data = {**NEW_MODULE, "code": module.code, "credits": "30", "version": str(module.version)}
    response = client.post(f"/modules/{module.id}/edit", data=data)

    assert response.status_code == 302
    db.session.refresh(module)
    assert module.credits == 30 and module.version == 2


def test_a_modules_credential_validity_is_set_shown_and_cleared(admin, login_as, make):
    client = login_as(admin)
    form = text(client.get("/modules/new"))
    assert "Credential valid for (months)" in form
    assert "Leave empty if it never expires" in form

    response = client.post("/modules/new", data={**NEW_MODULE, "credential_valid_months": "36"})

    module = module_by_code("DHL701")
    assert response.status_code == 302 and module.credential_valid_months == 36
    page = " ".join(text(client.get(response.location)).split())
    assert "Credential valid for" in page and "36 months" in page
    edit = text(client.get(f"/modules/{module.id}/edit"))
    assert 'value="36"' in edit

    data = {**NEW_MODULE, "credential_valid_months": "", "version": str(module.version)}
    response = client.post(f"/modules/{module.id}/edit", data=data)

    assert response.status_code == 302
    db.session.refresh(module)
    assert module.credential_valid_months is None
    assert "Does not expire" in text(client.get(response.location))


def test_a_stale_module_edit_is_refused(admin, login_as, make):
    module = make.module(credits=15)
    data = {**NEW_MODULE, "code": module.code, "credits": "30", "version": "7"}
    response = login_as(admin).post(f"/modules/{module.id}/edit", data=data)
    assert "changed by someone else" in text(response)
    db.session.refresh(module)
    assert module.credits == 15


def test_modules_can_be_filtered_by_topic(make, login_as):
    make.module(code="LEAD1", title="Leading teams", topic="leadership")
    make.module(code="INF1", title="Clinical coding", topic="informatics")

    page = text(login_as(make.user("learner")).get("/modules?topic=leadership"))

    assert "Leading teams" in page and "Clinical coding" not in page
    assert "Leadership modules (1)" in page


@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor"])
def test_only_admins_add_or_change_modules(make, login_as, role):
    own = make.organisation()
    module = make.module()
    client = login_as(make.user(role, organisation=own, scope=own))

    assert client.get("/modules/new").status_code == 403
    assert client.post("/modules/new", data=NEW_MODULE).status_code == 403
    assert client.get(f"/modules/{module.id}/edit").status_code == 403
    assert client.get(f"/modules/{module.id}").status_code == 200
    assert "Change module" not in text(client.get(f"/modules/{module.id}"))
    assert count(Module) == 1


def test_catalogue_pages_need_sign_in(client, make):
    module = make.module()
    response = client.get(f"/modules/{module.id}")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_unknown_ids_are_404(admin, login_as):
    client = login_as(admin)
    assert client.get("/modules/999999").status_code == 404
    assert client.get("/programmes/999999").status_code == 404
    assert client.get("/programmes/99999999999").status_code == 404


# --- programmes --------------------------------------------------------------------------------


def programme_form(*modules, core=(), **change) -> dict:
    return {
        "code": "pgc-dhl",
        "title": "Digital Health Leadership",
        "award_title": "Postgraduate Certificate in Digital Health Leadership",
        "credits_required": "60",
        "pass_band": "50",
        "merit_band": "60",
        "distinction_band": "70",
        "module_ids": [str(m.id) for m in modules],
        "core_module_ids": [str(m.id) for m in core],
        **change,
    }


def test_the_programme_form_offers_modules_as_checkboxes(admin, login_as, make):
    module = make.module(code="DHL701")
    page = text(login_as(admin).get("/programmes/new"))
    assert f'name="module_ids" type="checkbox" value="{module.id}"' in " ".join(page.split())
    assert f'name="core_module_ids" type="checkbox" value="{module.id}"' in " ".join(page.split())
    assert "<legend" in page


def test_admin_builds_a_programme_with_two_modules(admin, login_as, make):
    core = make.module(code="DHL701", credits=30)
    optional = make.module(code="DHL702", credits=15)
    client = login_as(admin)

    response = client.post("/programmes/new", data=programme_form(optional, core=[core]))

    programme = db.session.scalar(sa.select(Programme).where(Programme.code == "PGC-DHL"))
    assert response.status_code == 302, text(response)
    assert [(link.module_id, link.is_core) for link in programme.modules] == [
        (optional.id, False),
        (core.id, True),
    ]
    page = text(client.get(response.location))
    assert "Digital Health Leadership (PGC-DHL) has been added" in page
    assert "Core" in page and "Optional" in page
    assert "Pass 50, merit 60, distinction 70" in page
    assert "45 across 2 modules" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"merit_band": "45"}, "The merit band must be at or above the pass band"),
        ({"distinction_band": "55"}, "The distinction band must be at or above the merit band"),
        ({"credits_required": "-60"}, "Credits required must be 1 or more"),
        ({"module_ids": ["999999"]}, "Choose modules from the list"),
        ({"module_ids": []}, "Choose at least one module"),
        ({"award_type": "Degree"}, "Choose Certificate or Diploma"),
        ({"credential_valid_months": "-5"}, "Credential validity must be from 1 to 600 months"),
    ],
)
def test_bad_programmes_are_clear_form_errors(admin, login_as, make, change, message):
    module = make.module()
    response = login_as(admin).post("/programmes/new", data=programme_form(module, **change))
    assert response.status_code == 200
    assert message in text(response)
    assert count(Programme) == 0


def test_a_duplicate_programme_code_is_a_form_error(admin, login_as, make):
    make.programme(code="PGC-DHL")
    response = login_as(admin).post("/programmes/new", data=programme_form(make.module()))
    assert "A programme with code PGC-DHL already exists" in text(response)


def test_admin_edits_a_programmes_modules(admin, login_as, make):
    a, b = make.module(), make.module()
    programme = make.programme(code="PGC1", modules=[a])
    client = login_as(admin)
    form = " ".join(text(client.get(f"/programmes/{programme.id}/edit")).split())
    assert f'name="module_ids" type="checkbox" value="{a.id}" checked' in form

    response = client.post(
        f"/programmes/{programme.id}/edit",
        data=programme_form(a, b, core=[b], code="PGC1", version=str(programme.version)),
    )

    assert response.status_code == 302
    db.session.expire_all()
    programme = db.session.get(Programme, programme.id)
    assert [(link.module_id, link.is_core) for link in programme.modules] == [
        (a.id, False),
        (b.id, True),
    ]


def test_the_programmes_menu_item_is_for_admins(admin, login_as, make, app):
    admin_page = text(login_as(admin).get("/programmes"))
    assert 'href="/programmes"' in admin_page.split("</header>")[0]

    learner_client = login_as(make.user("learner"), the_client=app.test_client())
    learner_page = text(learner_client.get("/modules"))
    assert 'href="/programmes"' not in learner_page.split("</header>")[0]


def test_the_programme_page_links_content_only_where_it_can_be_read(make, login_as):
    studied, other = make.module(title="Studied module"), make.module(title="Other module")
    programme = make.programme(core=[studied, other])
    cohort = make.cohort(programme, modules=[studied])
    learner = make.learner_in(cohort)

    page = text(login_as(learner).get(f"/programmes/{programme.id}"))

    assert f'href="/modules/{studied.id}/learn"' in page
    assert f'href="/modules/{other.id}/learn"' not in page


def test_admin_sets_a_programmes_award_credential(admin, login_as, make):
    module = make.module()
    client = login_as(admin)
    form = " ".join(text(client.get("/programmes/new")).split())
    assert "Type of award" in form and '<option value="Diploma"' in form
    assert 'name="award_needs_ratification"' in form
    assert "Leave empty if it never expires" in form

    response = client.post(
        "/programmes/new",
        data=programme_form(
            module, award_type="Diploma", award_needs_ratification="y", credential_valid_months="1"
        ),
    )

    programme = db.session.scalar(sa.select(Programme).where(Programme.code == "PGC-DHL"))
    assert response.status_code == 302, text(response)
    assert (programme.award_type, programme.award_needs_ratification) == ("Diploma", True)
    assert programme.credential_valid_months == 1
    page = " ".join(text(client.get(response.location)).split())
    assert "Diploma" in page and "After the exam board has ratified the marks" in page
    assert "1 month" in page and "1 months" not in page

    edit = " ".join(text(client.get(f"/programmes/{programme.id}/edit")).split())
    assert 'value="Diploma" selected' in edit
    assert 'name="award_needs_ratification" type="checkbox" value="y" checked' in edit
    response = client.post(
        f"/programmes/{programme.id}/edit",
        data=programme_form(
            module, award_type="Certificate", credential_valid_months="",
            version=str(programme.version),
        ),
    )  # fmt: skip

    assert response.status_code == 302, text(response)
    db.session.expire_all()
    programme = db.session.get(Programme, programme.id)
    assert (programme.award_type, programme.award_needs_ratification) == ("Certificate", False)
    assert programme.credential_valid_months is None
    page = text(client.get(response.location))
    assert "As soon as the learner meets the award rules" in page
    assert "Does not expire" in page
