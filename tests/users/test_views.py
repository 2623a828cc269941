"""The user pages: admins manage accounts and roles, sponsors read their staff, others refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from academy.audit.models import AuditEvent
from academy.auth import services
from academy.auth.models import RoleAssignment, User
from academy.core import clock
from academy.extensions import db
from tests.conftest import count

NEW_USER = {
    "name": "Priya Shah",
    "email": "Priya.Shah@nhs.test",
    "organisation_id": "",
    "professional_registration": "GMC 7123456",
    "staff_number": "",
    "role": "",
}


def audit_events(action: str, obj) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_id == str(obj.id)
        )
    ).all()


def fresh(model, id_):
    """The row as the database holds it now, not as this test's session remembers it."""
    return db.session.scalars(
        sa.select(model).where(model.id == id_).execution_options(populate_existing=True)
    ).one()


def text(response) -> str:
    return " ".join(response.get_data(as_text=True).replace("&#39;", "'").split())


@pytest.fixture
def admin(make):
    return make.user("admin", name="Alex Admin")


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Guy's and St Thomas'")


@pytest.fixture
def other_trust(make):
    return make.organisation(ods_code="RRV", name="University College London Hospitals")


# --- creating users ----------------------------------------------------------------------------


def test_admin_creates_a_user_who_is_emailed_an_invitation(admin, login_as, outbox, trust):
    client = login_as(admin)

    response = client.post("/users/new", data={**NEW_USER, "organisation_id": str(trust.id)})

    user = db.session.scalar(sa.select(User).where(User.email == "priya.shah@nhs.test"))
    assert user is not None
    assert response.status_code == 302
    assert response.location.endswith(f"/users/{user.id}")
    assert (user.name, user.organisation_id, user.password_hash) == ("Priya Shah", trust.id, None)
    assert user.professional_registration == "GMC 7123456"
    assert user.staff_number is None
    [message] = outbox
    assert message["To"] == "priya.shah@nhs.test"
    assert "invited" in message["Subject"]
    [event] = audit_events("user.create", user)
    assert event.actor_id == admin.id
    assert "emailed priya.shah@nhs.test an invitation" in text(client.get(response.location))


def test_admin_creates_a_sponsor_of_the_chosen_organisation(admin, login_as, trust):
    response = login_as(admin).post(
        "/users/new", data={**NEW_USER, "organisation_id": str(trust.id), "role": "sponsor"}
    )

    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "priya.shah@nhs.test"))
    [role] = user.roles
    assert (role.role, role.organisation_id) == ("sponsor", trust.id)
    assert len(audit_events("role.grant", role)) == 1


def test_a_new_sponsor_needs_an_organisation(admin, login_as, outbox):
    response = login_as(admin).post("/users/new", data={**NEW_USER, "role": "sponsor"})

    assert response.status_code == 200
    assert "Choose the organisation this person sponsors" in text(response)
    assert count(User) == 1
    assert outbox == []


@pytest.mark.parametrize(
    "email", ["priya.shah@nhs.test", "PRIYA.SHAH@NHS.TEST", " Priya.Shah@nhs.test "]
)
def test_duplicate_email_in_any_case_is_a_form_error(admin, login_as, make, outbox, email):
    make.user(email="priya.shah@nhs.test")
    before = count(User)

    response = login_as(admin).post("/users/new", data={**NEW_USER, "email": email})

    body = text(response)
    assert response.status_code == 200
    assert "An account with this email address already exists" in body
    assert 'href="#email"' in body
    assert count(User) == before
    assert outbox == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Enter the person's full name"),
        ({"email": ""}, "Enter the person's email address"),
        ({"email": "not an email"}, "Enter an email address in the correct format"),
        ({"organisation_id": "999999"}, "Choose an organisation from the list"),
        ({"organisation_id": "abc"}, "Choose an organisation from the list"),
        ({"role": "overlord"}, "Choose a role from the list"),
        ({"staff_number": "9" * 33}, "Staff number must be 32 characters or fewer"),
    ],
)
def test_bad_user_input_is_a_clear_form_error(admin, login_as, change, message):
    response = login_as(admin).post("/users/new", data={**NEW_USER, **change})

    assert response.status_code == 200
    assert message in text(response)
    assert count(User) == 1


# --- editing users -------------------------------------------------------------------------


def _edit_data(user: User, **change) -> dict:
    data = {
        "version": str(user.version),
        "name": user.name,
        "email": user.email,
        "organisation_id": str(user.organisation_id or ""),
        "professional_registration": user.professional_registration or "",
        "staff_number": user.staff_number or "",
        **change,
    }
    if user.active and "active" not in change:
        data["active"] = "y"
    return {k: v for k, v in data.items() if v is not None}


def test_admin_edits_a_user(admin, login_as, make, trust):
    person = make.user(name="Old Name")
    client = login_as(admin)
    assert "Old Name" in text(client.get(f"/users/{person.id}/edit"))

    response = client.post(
        f"/users/{person.id}/edit",
        data=_edit_data(person, name="New Name", organisation_id=str(trust.id), active=None),
    )

    assert response.status_code == 302
    saved = fresh(User, person.id)
    assert (saved.name, saved.organisation_id, saved.active) == ("New Name", trust.id, False)
    [event] = audit_events("user.update", person)
    assert event.after == {"name": "New Name", "organisation_id": trust.id, "active": False}


def test_edit_from_a_stale_page_is_refused_and_overwrites_nothing(admin, login_as, make, ctx):
    person = make.user(name="Original")
    stale = _edit_data(person, name="From the stale page")
    services.update_user(person, actor=admin, name="Changed meanwhile")
    db.session.commit()

    response = login_as(admin).post(f"/users/{person.id}/edit", data=stale)

    assert response.status_code == 200
    assert "changed by someone else" in text(response)
    assert fresh(User, person.id).name == "Changed meanwhile"


def test_email_taken_by_someone_else_is_a_form_error(admin, login_as, make):
    person = make.user()
    make.user(email="taken@nhs.test")

    response = login_as(admin).post(
        f"/users/{person.id}/edit", data=_edit_data(person, email="Taken@NHS.test")
    )

    assert "An account with this email address already exists" in text(response)
    assert fresh(User, person.id).email == person.email


# --- roles -----------------------------------------------------------------------------------


def test_admin_grants_a_sponsor_role_scoped_to_an_organisation(admin, login_as, make, trust):
    person = make.user(organisation=trust)
    client = login_as(admin)
    assert client.get(f"/users/{person.id}/roles/new").status_code == 200

    response = client.post(
        f"/users/{person.id}/roles/new",
        data={"role": "sponsor", "organisation_id": str(trust.id), "valid_from": ""},
    )

    assert response.status_code == 302
    [role] = db.session.scalars(
        sa.select(RoleAssignment).where(RoleAssignment.user_id == person.id)
    )
    assert (role.role, role.organisation_id, role.valid_from) == (
        "sponsor",
        trust.id,
        clock.today(),
    )
    [event] = audit_events("role.grant", role)
    assert event.actor_id == admin.id
    page = text(client.get(f"/users/{person.id}"))
    assert "Guy's and St Thomas' (RJ1)" in page and "Current" in page


def test_a_sponsor_role_needs_an_organisation(admin, login_as, make):
    person = make.user()

    response = login_as(admin).post(
        f"/users/{person.id}/roles/new", data={"role": "sponsor", "organisation_id": ""}
    )

    assert response.status_code == 200
    assert "Choose the organisation this person sponsors" in text(response)
    assert count(RoleAssignment) == 1  # the admin's own


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"role": ""}, "Choose a role"),
        ({"role": "tutor", "cohort_id": "7"}, "No cohort has id 7"),
        ({"role": "tutor", "cohort_id": "seven"}, "Cohort ID must be a number"),
        ({"role": "learner", "organisation_id": "{trust}"}, "A learner role cannot be scoped"),
        ({"role": "learner", "valid_from": "2030-02-31"}, "Start date must be a real date"),
        (
            {"role": "learner", "valid_from": "2030-01-02", "valid_to": "2030-01-01"},
            "The end date must be on or after the start date",
        ),
    ],
)
def test_bad_role_input_is_a_clear_form_error(admin, login_as, make, trust, data, message):
    person = make.user()
    data = {k: v.format(trust=trust.id) for k, v in data.items()}

    response = login_as(admin).post(f"/users/{person.id}/roles/new", data=data)

    assert response.status_code == 200
    assert message in text(response)
    assert person.roles == [] and count(RoleAssignment) == 1


def test_admin_ends_a_role(admin, login_as, make, trust):
    person = make.user()
    role = make.role(person, "sponsor", scope=trust)
    client = login_as(admin)
    assert f"/users/{person.id}/roles/{role.id}/end" in text(client.get(f"/users/{person.id}"))

    response = client.post(f"/users/{person.id}/roles/{role.id}/end")

    assert response.status_code == 302
    assert response.location.endswith(f"/users/{person.id}")
    ended = fresh(RoleAssignment, role.id)
    assert ended.ended_at is not None and not ended.is_current(clock.today())
    [event] = audit_events("role.end", role)
    assert event.actor_id == admin.id
    page = text(client.get(f"/users/{person.id}"))
    assert "role has been ended" in page and "Ended" in page
    assert f"/roles/{role.id}/end" not in page


def test_ending_another_users_role_through_this_user_is_404(admin, login_as, make, trust):
    person, other = make.user(), make.user()
    role = make.role(other, "learner")

    response = login_as(admin).post(f"/users/{person.id}/roles/{role.id}/end")

    assert response.status_code == 404
    assert fresh(RoleAssignment, role.id).ended_at is None


def test_ending_a_role_twice_says_so(admin, login_as, make):
    person = make.user()
    role = make.role(person, "learner")
    client = login_as(admin)
    client.post(f"/users/{person.id}/roles/{role.id}/end")

    response = client.post(f"/users/{person.id}/roles/{role.id}/end", follow_redirects=True)

    assert "This role has already been ended" in text(response)
    assert len(audit_events("role.end", role)) == 1


def test_future_roles_are_labelled(admin, login_as, make):
    person = make.user()
    make.role(person, "tutor", valid_from=clock.today() + timedelta(days=30))
    assert "Future" in text(login_as(admin).get(f"/users/{person.id}"))


def test_admin_resends_an_invitation(admin, login_as, make, outbox):
    invited = make.user(password_hash=None)
    client = login_as(admin)
    assert "Resend invitation" in text(client.get(f"/users/{invited.id}"))

    response = client.post(f"/users/{invited.id}/invitation")

    assert response.status_code == 302
    [message] = outbox
    assert message["To"] == invited.email
    assert "Resend invitation" not in text(client.get(f"/users/{admin.id}"))


# --- who sees what -----------------------------------------------------------------------------


def test_sponsor_sees_only_their_organisations_staff(make, login_as, trust, other_trust):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    colleague = make.user(organisation=trust, name="Colleague Inside")
    outsider = make.user(organisation=other_trust, name="Outsider Elsewhere")
    client = login_as(sponsor)

    listing = text(client.get("/users"))
    assert colleague.name in listing and outsider.name not in listing
    assert "Add a user" not in listing

    page = client.get(f"/users/{colleague.id}")
    assert page.status_code == 200
    body = text(page)
    assert f"/users/{colleague.id}/edit" not in body and "Grant a role" not in body
    assert client.get(f"/users/{outsider.id}").status_code == 404
    assert client.get(f"/users/{outsider.id}/edit").status_code == 404


def test_tutor_may_open_the_list_but_sees_nobody_yet(make, login_as, trust):
    make.user(organisation=trust, name="Someone Else")
    client = login_as(make.user("tutor"))
    response = client.get("/users")
    assert response.status_code == 200
    assert "Someone Else" not in text(response)


@pytest.mark.parametrize("role", ["learner", "examiner", None])
def test_other_roles_are_refused(make, login_as, role):
    person = make.user()
    client = login_as(make.user(role))
    assert client.get("/users").status_code == 403
    assert client.get(f"/users/{person.id}").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/users?q=x")
    assert response.status_code == 302
    assert "/sign-in" in response.location and "next=" in response.location


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/users/new", {**NEW_USER, "email": "sneaky@nhs.test"}),
        ("/users/{colleague}/edit", {"name": "Hijacked", "email": "x@nhs.test", "version": "1"}),
        ("/users/{colleague}/roles/new", {"role": "admin"}),
        ("/users/{colleague}/roles/{role}/end", {}),
        ("/users/{colleague}/invitation", {}),
    ],
)
def test_non_admins_cannot_change_anything(make, login_as, trust, outbox, path, data):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    colleague = make.user(organisation=trust, name="Colleague", password_hash=None)
    role = make.role(colleague, "learner")
    before = (count(User), count(RoleAssignment), count(AuditEvent))

    response = login_as(sponsor).post(path.format(colleague=colleague.id, role=role.id), data=data)

    assert response.status_code == 403
    assert (count(User), count(RoleAssignment), count(AuditEvent) - 1) == before  # 1: sign-in
    saved = fresh(User, colleague.id)
    assert saved.name == "Colleague" and fresh(RoleAssignment, role.id).ended_at is None
    assert outbox == []


# --- searching and filtering -----------------------------------------------------------------


def test_search_finds_by_partial_name_or_email(admin, login_as, make):
    make.user(name="Priya Shah", email="p.shah@nhs.test")
    make.user(name="Tom Jones", email="tom.jones@nhs.test")
    client = login_as(admin)

    by_name = text(client.get("/users?q=SHA"))
    assert "Priya Shah" in by_name and "Tom Jones" not in by_name
    by_email = text(client.get("/users?q=tom.jones@"))
    assert "Tom Jones" in by_email and "Priya Shah" not in by_email
    assert "No users match" in text(client.get("/users?q=_"))


def test_filters_by_current_role_and_organisation(admin, login_as, make, trust, other_trust):
    make.user("sponsor", organisation=trust, scope=trust, name="Sam Sponsor")
    make.user("learner", organisation=trust, name="Lee Learner")
    make.user("learner", organisation=other_trust, name="Lou Learner")
    former = make.user(organisation=trust, name="Fay Former")
    make.role(former, "sponsor", scope=trust, valid_to=date(2021, 1, 1))
    client = login_as(admin)

    sponsors = text(client.get("/users?role=sponsor"))
    assert "Sam Sponsor" in sponsors
    assert "Lee Learner" not in sponsors and "Fay Former" not in sponsors

    at_trust = text(client.get(f"/users?role=learner&organisation={trust.id}"))
    assert "Lee Learner" in at_trust and "Lou Learner" not in at_trust


def test_list_takes_the_same_number_of_queries_however_many_rows(admin, login_as, make, trust):
    client = login_as(admin)

    def queries_for_list() -> int:
        # Requests share this test's session, so start each count from the same (empty) state.
        db.session.expire_all()
        statements = []

        def remember(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            assert client.get("/users").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
        return len(statements)

    few = queries_for_list()
    for _ in range(10):
        organisation = make.organisation()
        make.user("sponsor", organisation=organisation, scope=organisation)
        make.user("learner", organisation=trust)
    assert queries_for_list() == few


def test_user_text_is_escaped(admin, login_as, make):
    person = make.user(name='<img src=x onerror="alert(1)">')
    client = login_as(admin)
    for path in ("/users", f"/users/{person.id}", f"/users/{person.id}/edit"):
        body = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in body
        assert "&lt;img src=x" in body
