"""The account page and changing one's own password."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core import clock
from tests.auth.helpers import body, error_summary, h1, inputs, table_rows, text
from tests.factories import PASSWORD

NEW_PASSWORD = "another long and memorable passphrase"


def can_sign_in(app, email: str, password: str) -> bool:
    response = app.test_client().post("/sign-in", data={"email": email, "password": password})
    return response.status_code == 302


def change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(
        "/account/password",
        data={"current_password": current, "password": new, "confirm": confirm or new},
    )


def test_the_account_page_needs_signing_in(client):
    response = client.get("/account")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/sign-in", "next=%2Faccount")


def test_the_account_page_shows_your_details(client, make, login_as):
    trust = make.organisation(name="Leeds Teaching Hospitals NHS Trust", ods_code="RR8")
    user = make.user(
        organisation=trust,
        name="Dr Priya Shah",
        email="priya.shah@nhs.test",
        professional_registration="GMC 7098765",
        staff_number="12345678",
    )
    login_as(user)
    response = client.get("/account")
    assert response.status_code == 200
    assert h1(response) == "Your account"
    page = text(body(response))
    for expected in (
        "Name Dr Priya Shah",
        "Email address priya.shah@nhs.test",
        "Organisation Leeds Teaching Hospitals NHS Trust (RR8)",
        "Professional registration GMC 7098765",
        "Staff number 12345678",
    ):
        assert expected in page
    assert 'href="/account/password"' in body(response)


def test_the_account_page_lists_current_future_and_ended_roles(client, make, login_as):
    trust = make.organisation(name="Royal Cornwall Hospitals NHS Trust", ods_code="REF")
    user = make.user("sponsor", scope=trust)
    make.role(user, "tutor", valid_from=date(2020, 9, 1), valid_to=date(2021, 7, 31))
    make.role(user, "examiner", valid_from=clock.today() + timedelta(days=30))
    make.role(user, "admin")
    login_as(user)

    rows = table_rows(client.get("/account"))
    # Current roles first, then those still to come, then history; newest first within each.
    starts_on = clock.today() + timedelta(days=30)
    starts = f"{starts_on.day} {starts_on:%B %Y}"
    assert rows == [
        "Role For From Until Status",
        "Academy admin The whole academy 1 January 2020 No end date Current",
        "Sponsor Royal Cornwall Hospitals NHS Trust (REF) 1 January 2020 No end date Current",
        f"Examiner All programmes {starts} No end date Not started",
        "Tutor All cohorts 1 September 2020 31 July 2021 Ended",
    ]


def test_someone_with_no_roles_is_told_so(client, make, login_as):
    login_as(make.user())
    assert "You do not hold any roles yet" in text(body(client.get("/account")))


def test_names_are_escaped_wherever_they_appear(client, make, login_as):
    login_as(make.user(name="<script>alert(1)</script>"))
    page = body(client.get("/account"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_change_password_page_has_labelled_fields_for_password_managers(client, make, login_as):
    login_as(make.user())
    page = client.get("/account/password")
    assert page.status_code == 200
    assert h1(page) == "Change your password"
    autocomplete = {field["name"]: field.get("autocomplete") for field in inputs(page)}
    assert autocomplete["current_password"] == "current-password"
    assert autocomplete["password"] == autocomplete["confirm"] == "new-password"


def test_a_wrong_current_password_is_a_form_error_and_changes_nothing(app, client, make, login_as):
    user = make.user()
    login_as(user)
    response = change(client, "not my password at all")
    assert response.status_code == 200
    assert error_summary(response) == [("#current_password", "Your current password is not right")]
    assert can_sign_in(app, user.email, PASSWORD)
    assert not can_sign_in(app, user.email, NEW_PASSWORD)


def test_new_password_mistakes_are_form_errors(app, client, make, login_as):
    user = make.user()
    login_as(user)
    mismatch = change(client, PASSWORD, NEW_PASSWORD, "something else entirely")
    assert error_summary(mismatch) == [("#confirm", "Passwords do not match")]
    short = change(client, PASSWORD, "short")
    assert error_summary(short) == [("#password", "Password must be at least 12 characters")]
    own_email = change(client, PASSWORD, user.email)
    assert error_summary(own_email) == [("#password", "Password must not be your email address")]
    assert can_sign_in(app, user.email, PASSWORD)


def test_changing_the_password_lets_you_sign_in_with_the_new_one(app, client, make, login_as, db):
    user = make.user()
    login_as(user)
    response = change(client, PASSWORD)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account"
    assert "Your password has been changed" in body(client.get("/account"))
    assert can_sign_in(app, user.email, NEW_PASSWORD)
    assert not can_sign_in(app, user.email, PASSWORD)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.password_set"))
    assert (event.actor_id, event.after) == (user.id, {"reason": "changed"})


def test_change_password_needs_signing_in(client):
    response = change(client, PASSWORD)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sign-in"
