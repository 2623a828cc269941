"""The cohort pages: admins run cohorts, tutors see theirs, sponsors their staff, learners their
programme; what is out of scope answers 404."""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa

from academy.auth.models import RoleAssignment, User
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.content.models import ResourceCompletion
from academy.extensions import db
from tests.cohorts import audit_events, fresh, multipart, text
from tests.conftest import count

HEADER = "email,name,organisation_ods,professional_registration,staff_number"
COHORT_FORM = {
    "programme_id": "",
    "name": "2027 autumn",
    "starts_on": "2027-09-06",
    "ends_on": "2028-07-14",
    "capacity": "25",
    "nation": "england",
}


def enrolment_of(user) -> Enrolment:
    return db.session.scalar(sa.select(Enrolment).where(Enrolment.user_id == user.id))


# --- cohorts -----------------------------------------------------------------------------------


def test_admin_lists_cohorts_with_places(admin, login_as, cohort, make):
    make.learner_in(cohort)
    body = text(login_as(admin).get("/cohorts"))
    assert "2027 spring" in body
    assert "PGC01: Digital Health Leadership" in body
    assert "1 of 30" in body
    assert "11 January 2027" in body


def test_admin_opens_a_cohort(admin, login_as, programme):
    client = login_as(admin)
    response = client.post("/cohorts/new", data={**COHORT_FORM, "programme_id": str(programme.id)})

    cohort = db.session.scalar(sa.select(Cohort).where(Cohort.name == "2027 autumn"))
    assert response.status_code == 302 and response.location.endswith(f"/cohorts/{cohort.id}")
    assert cohort.capacity == 25 and cohort.places_taken == 0
    assert "has been opened" in text(client.get(response.location))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_on": "2027-09-01"}, "The cohort must end on or after the day it starts"),
        ({"capacity": "0"}, "Capacity must be between 1 and 10,000"),
        ({"capacity": "lots"}, "Capacity must be a whole number"),
        ({"starts_on": "2027-02-30"}, "Enter a real date the cohort starts"),
        ({"name": "2027 spring"}, "This programme already has a cohort called 2027 spring"),
        ({"programme_id": ""}, "Choose a programme"),
    ],
)
def test_bad_cohorts_are_clear_form_errors(admin, login_as, programme, cohort, change, message):
    data = {**COHORT_FORM, "programme_id": str(programme.id), **change}
    response = login_as(admin).post("/cohorts/new", data=data)
    assert response.status_code == 200
    assert message in text(response)
    assert "There is a problem" in text(response)
    assert count(Cohort) == 1


def test_admin_edits_a_cohort_and_a_stale_page_is_refused(admin, login_as, cohort):
    client = login_as(admin)
    data = {**COHORT_FORM, "name": "2027 late spring", "version": str(cohort.version)}
    del data["programme_id"]
    data.update(starts_on="2027-01-11", ends_on="2027-12-17")

    assert client.post(f"/cohorts/{cohort.id}/edit", data=data).status_code == 302
    assert fresh(Cohort, cohort.id).name == "2027 late spring"

    stale = client.post(f"/cohorts/{cohort.id}/edit", data={**data, "name": "Another"})
    assert "changed by someone else" in text(stale)
    assert fresh(Cohort, cohort.id).name == "2027 late spring"


def test_admin_adds_changes_and_removes_a_module(admin, login_as, make, programme, informatics):
    cohort = make.cohort(programme, modules=[])
    client = login_as(admin)
    page = text(client.get(f"/cohorts/{cohort.id}/modules/new"))
    assert "DHL701: Health informatics in practice" in page

    response = client.post(
        f"/cohorts/{cohort.id}/modules/new",
        data={"module_id": str(informatics.id), "starts_on": "2027-02-01", "ends_on": "2027-04-30"},
    )
    assert response.status_code == 302
    delivery = db.session.scalar(sa.select(ModuleDelivery))
    outside = client.post(
        f"/cohorts/{cohort.id}/modules/{delivery.id}/edit",
        data={"starts_on": "2026-12-01", "ends_on": "2027-04-30"},
    )
    assert "The module cannot start before the cohort does (11 January 2027)" in text(outside)
    client.post(
        f"/cohorts/{cohort.id}/modules/{delivery.id}/edit",
        data={"starts_on": "2027-03-01", "ends_on": "2027-04-30"},
    )
    assert fresh(ModuleDelivery, delivery.id).starts_on.isoformat() == "2027-03-01"

    client.post(f"/cohorts/{cohort.id}/modules/{delivery.id}/remove")
    assert count(ModuleDelivery) == 0


def test_admin_assigns_and_removes_a_tutor(admin, login_as, make, cohort):
    tutor = make.user(email="tomasz.nowak@nhs.test", name="Dr Tomasz Nowak")
    client = login_as(admin)

    response = client.post(
        f"/cohorts/{cohort.id}/tutors/new", data={"email": "Tomasz.Nowak@nhs.test"}
    )
    assert response.status_code == 302
    assert "Dr Tomasz Nowak" in text(client.get(f"/cohorts/{cohort.id}"))
    again = client.post(f"/cohorts/{cohort.id}/tutors/new", data={"email": tutor.email})
    assert "Dr Tomasz Nowak already teaches this cohort" in text(again)
    nobody = client.post(f"/cohorts/{cohort.id}/tutors/new", data={"email": "nobody@nhs.test"})
    assert "Nobody has an account with this email address" in text(nobody)
    assert 'href="#email"' in nobody.get_data(as_text=True)

    role = db.session.scalar(sa.select(RoleAssignment).where(RoleAssignment.role == "tutor"))
    client.post(f"/cohorts/{cohort.id}/tutors/{role.id}/remove")
    assert fresh(RoleAssignment, role.id).ended_at is not None
    assert "Nobody teaches this cohort yet" in text(client.get(f"/cohorts/{cohort.id}"))


def test_admin_enrols_a_learner_sponsored_by_their_employer(admin, login_as, make, cohort, trust):
    person = make.user(email="priya.shah@nhs.test", name="Priya Shah", organisation=trust)
    client = login_as(admin)

    response = client.post(
        f"/cohorts/{cohort.id}/enrolments/new",
        data={"email": "priya.shah@nhs.test", "sponsor_organisation_id": ""},
    )

    assert response.status_code == 302
    enrolment = enrolment_of(person)
    assert enrolment.sponsor_organisation_id == trust.id
    page = text(client.get(f"/cohorts/{cohort.id}"))
    assert "Priya Shah" in page and "Guy's and St Thomas'" in page and "Active" in page
    again = client.post(f"/cohorts/{cohort.id}/enrolments/new", data={"email": person.email})
    assert "Priya Shah is already enrolled in this cohort" in text(again)


def test_enrolling_in_a_full_cohort_is_a_form_error(admin, login_as, make, programme, trust):
    cohort = make.cohort(programme, capacity=1)
    make.learner_in(cohort)
    person = make.user(organisation=trust)
    response = login_as(admin).post(
        f"/cohorts/{cohort.id}/enrolments/new", data={"email": person.email}
    )
    assert response.status_code == 200
    assert "The cohort is full" in text(response)
    assert enrolment_of(person) is None


def test_a_learner_without_an_employer_needs_a_chosen_sponsor(admin, login_as, make, cohort, trust):
    person = make.user()
    client = login_as(admin)
    response = client.post(f"/cohorts/{cohort.id}/enrolments/new", data={"email": person.email})
    assert "has no employing organisation recorded" in text(response)
    client.post(
        f"/cohorts/{cohort.id}/enrolments/new",
        data={"email": person.email, "sponsor_organisation_id": str(trust.id)},
    )
    assert enrolment_of(person).sponsor_organisation_id == trust.id


def test_admin_changes_a_status_and_sees_the_history(admin, login_as, make, cohort):
    learner = make.learner_in(cohort, name="Liam Evans")
    enrolment = enrolment_of(learner)
    client = login_as(admin)
    url = f"/cohorts/{cohort.id}/enrolments/{enrolment.id}"
    page = text(client.get(url))
    assert "Deferred" in page and "Completed" in page

    response = client.post(
        url, data={"status": "deferred", "reason": "Long-term sick leave", "version": "1"}
    )

    assert response.status_code == 302
    page = text(client.get(url))
    assert "Liam Evans's enrolment is now deferred" in page
    assert "Active to deferred" in page and "Long-term sick leave" in page and "Ada Okafor" in page
    assert len(audit_events("enrolment.status", enrolment)) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "deferred", "reason": ""}, "Give the reason for the change"),
        ({"status": "archived", "reason": "x"}, "Choose a status from the list"),
        ({"status": "deferred", "reason": "x", "version": "0"}, "changed by someone else"),
        ({"status": "deferred", "reason": "x", "version": ""}, "This page is out of date"),
    ],
)
def test_bad_status_changes_are_form_errors(admin, login_as, make, cohort, data, message):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    response = login_as(admin).post(
        f"/cohorts/{cohort.id}/enrolments/{enrolment.id}", data={"version": "1", **data}
    )
    assert response.status_code == 200
    assert message in text(response)
    assert fresh(Enrolment, enrolment.id).status == "active"


def test_a_final_status_offers_no_change(admin, login_as, make, cohort):
    enrolment = make.enrolment(
        make.user(organisation=make.organisation()), cohort, status="completed"
    )
    url = f"/cohorts/{cohort.id}/enrolments/{enrolment.id}"
    client = login_as(admin)
    assert "A completed enrolment cannot change any more" in text(client.get(url))
    client.post(url, data={"status": "active", "reason": "Oops", "version": "1"})
    assert fresh(Enrolment, enrolment.id).status == "completed"


def test_the_learner_list_filters_by_status(admin, login_as, make, cohort):
    make.learner_in(cohort, name="Active Annie")
    make.enrolment(
        make.user(name="Deferred Dan", organisation=make.organisation()), cohort, status="deferred"
    )
    page = text(login_as(admin).get(f"/cohorts/{cohort.id}?status=deferred"))
    assert "Deferred Dan" in page and "Active Annie" not in page


@pytest.mark.parametrize("role", ["learner", "sponsor", "tutor", "examiner"])
def test_only_admins_manage_cohorts(login_as, make, cohort, trust, role):
    user = make.user(role, organisation=trust, scope=cohort if role == "tutor" else trust)
    client = login_as(user)
    for path in ("/cohorts", "/cohorts/new"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/cohorts/{cohort.id}/enrolments/new", data={}).status_code in (403, 404)


def test_signed_out_visitors_are_sent_to_sign_in(client, cohort):
    for path in (
        "/cohorts",
        f"/cohorts/{cohort.id}",
        "/my-cohorts",
        "/sponsored-enrolments",
        "/learning",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.location, path


# --- import ------------------------------------------------------------------------------------


def upload(client, cohort, data: bytes):
    return client.post(f"/cohorts/{cohort.id}/import", **multipart(data))


def test_admin_previews_then_confirms_an_import(admin, login_as, make, cohort, trust, outbox):
    make.user(email="known@nhs.test", name="Known Person", organisation=trust)
    rows = ["known@nhs.test,Known P.,RJ1,,"] + [
        f"new{n}@nhs.test,New {n},RJ1,,ESR-{n}" for n in range(29)
    ]
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    client = login_as(admin)

    preview = upload(client, cohort, data)

    page = text(preview)
    assert "Check the learners to import" in page
    assert "30 learners" in page and "29 new accounts" in page and "1 existing accounts" in page
    assert "Existing account" in page and "named Known Person" in page
    assert count(Enrolment) == 0 and outbox == []
    sha256 = hashlib.sha256(data).hexdigest()
    assert f'value="{sha256}"' in preview.get_data(as_text=True)

    response = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"sha256": sha256})

    assert response.status_code == 302
    assert count(Enrolment) == 30 and fresh(Cohort, cohort.id).places_taken == 30
    assert len(outbox) == 29 and "known@nhs.test" not in {m["To"] for m in outbox}
    page = text(client.get(response.location))
    assert "30 learners have been enrolled in 2027 spring: 29 new accounts" in page
    assert "New 28" in page or "New 9" in page


def test_a_file_with_one_bad_row_shows_the_row_and_column_and_imports_nothing(
    admin, login_as, cohort, trust, outbox
):
    data = f"{HEADER}\na@nhs.test,A,RJ1,,\nb@nhs.test,B,NOPE,,\n".encode()
    client = login_as(admin)

    preview = upload(client, cohort, data)

    page = text(preview)
    assert "The file cannot be imported" in page
    assert "Row 3, organisation_ods: No organisation has the ODS code NOPE" in page
    assert "the header is row 1" in page
    assert 'name="sha256"' not in preview.get_data(as_text=True)
    # Confirming anyway re-checks the stored file and still imports nothing.
    sha256 = hashlib.sha256(data).hexdigest()
    again = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"sha256": sha256})
    assert "No organisation has the ODS code NOPE" in text(again)
    assert count(Enrolment) == 0 and count(User) == 1 and outbox == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02binary", "This is not a CSV file"),
        ("email,name\nzoë,Zoë\n".encode("latin-1"), "The file is not UTF-8 text"),
        (b"just some words\n", "The header line is not right"),
    ],
)
def test_unreadable_files_are_explained(admin, login_as, cohort, data, message):
    page = text(upload(login_as(admin), cohort, data))
    assert message in page


def test_an_over_size_file_is_a_form_error(admin, login_as, cohort, monkeypatch):
    from academy.cohorts import importing

    monkeypatch.setattr(importing, "MAX_BYTES", 1024 * 1024)
    response = upload(login_as(admin), cohort, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 200
    assert "The file is larger than 1 MB" in text(response)


def test_an_upload_needs_a_file(admin, login_as, cohort):
    response = login_as(admin).post(f"/cohorts/{cohort.id}/import", data={})
    assert "Choose a CSV file to upload" in text(response)


def test_confirming_an_unknown_upload_asks_for_it_again(admin, login_as, cohort):
    client = login_as(admin)
    for sha256 in ("0" * 64, "../../etc/passwd", ""):
        response = client.post(f"/cohorts/{cohort.id}/import/confirm", data={"sha256": sha256})
        assert response.status_code == 302 and response.location.endswith(
            f"/cohorts/{cohort.id}/import"
        )
    assert count(Enrolment) == 0


# --- tutors ------------------------------------------------------------------------------------


def test_a_tutor_sees_their_cohort_and_learners_but_not_another_cohort(
    login_as, make, cohort, programme, trust
):
    tutor = make.user("tutor", scope=cohort)
    make.learner_in(cohort, organisation=trust, name="Priya Shah")
    other = make.cohort(programme, name="2028 spring")
    make.learner_in(other, name="Someone Else")
    client = login_as(tutor)

    page = text(client.get("/my-cohorts"))
    assert "2027 spring" in page and "Priya Shah" in page and "Guy's and St Thomas'" in page
    assert "2028 spring" not in page and "Someone Else" not in page
    assert "Priya Shah" in text(client.get(f"/cohorts/{cohort.id}"))
    assert "Change cohort details" not in text(client.get(f"/cohorts/{cohort.id}"))
    assert client.get(f"/cohorts/{other.id}").status_code == 404
    assert client.get(f"/cohorts/{cohort.id}/edit").status_code == 403
    assert (
        client.post(f"/cohorts/{cohort.id}/tutors/new", data={"email": "x@nhs.test"}).status_code
        == 403
    )


def test_my_cohorts_is_for_tutors(login_as, make):
    assert login_as(make.user("learner")).get("/my-cohorts").status_code == 403


# --- sponsors ----------------------------------------------------------------------------------


def test_a_sponsor_sees_only_their_own_staff_in_a_shared_cohort(
    login_as, make, cohort, trust, other_trust
):
    make.learner_in(cohort, organisation=trust, name="Priya Shah")
    make.learner_in(cohort, organisation=other_trust, name="Grace Adeyemi")
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    client = login_as(sponsor)

    page = text(client.get("/sponsored-enrolments"))
    assert "Our staff on programmes" in page
    assert "Priya Shah" in page and "Digital Health Leadership" in page and "2027 spring" in page
    assert "Grace Adeyemi" not in page
    shared = text(client.get(f"/cohorts/{cohort.id}"))
    assert "Priya Shah" in shared and "Grace Adeyemi" not in shared


def test_the_sponsor_list_filters_by_status(login_as, make, cohort, trust):
    make.learner_in(cohort, organisation=trust, name="Active Annie")
    make.enrolment(
        make.user(name="Withdrawn Will", organisation=trust),
        cohort,
        sponsor=trust,
        status="withdrawn",
    )
    client = login_as(make.user("sponsor", organisation=trust, scope=trust))
    page = text(client.get("/sponsored-enrolments?status=withdrawn"))
    assert "Withdrawn Will" in page and "Active Annie" not in page


def test_our_staff_is_for_sponsors(login_as, make):
    assert login_as(make.user("tutor")).get("/sponsored-enrolments").status_code == 403


# --- learners ----------------------------------------------------------------------------------


def test_a_learner_sees_their_programme_modules_progress_and_credits(
    login_as, make, cohort, informatics, change_management
):
    learner = make.learner_in(cohort)
    section = make.section(informatics)
    done = make.resource(section)
    make.resource(section, kind="link")
    db.session.add(ResourceCompletion(user_id=learner.id, resource_id=done.id))
    db.session.commit()

    page = text(login_as(learner).get("/learning"))

    assert "My programme" in page and "Digital Health Leadership" in page and "2027 spring" in page
    assert "DHL701" in page and "Health informatics in practice" in page and "Core" in page
    assert "DHL702" in page and "Optional" in page
    assert "1 of 2 done (50%)" in page
    assert "No material yet" in page
    assert "0 of 60 (no results yet)" in page


def test_the_programme_links_to_module_content(login_as, make, cohort, informatics, app):
    learner = make.learner_in(cohort)
    body = login_as(learner).get("/learning").get_data(as_text=True)
    with app.test_request_context():
        from flask import url_for

        assert f'href="{url_for("content.module", module_id=informatics.id)}"' in body


def test_someone_not_enrolled_is_told_so(login_as, make):
    page = text(login_as(make.user()).get("/learning"))
    assert "You are not enrolled on a programme" in page


# --- navigation and escaping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "item"),
    [
        ("admin", "Cohorts"),
        ("tutor", "My cohorts"),
        ("sponsor", "Our staff"),
        ("learner", "My programme"),
    ],
)
def test_each_role_finds_its_page_in_the_navigation(login_as, make, cohort, trust, role, item):
    if role == "learner":
        user = make.learner_in(cohort)
    else:
        user = make.user(role, organisation=trust, scope=cohort if role == "tutor" else trust)
    body = login_as(user).get("/account").get_data(as_text=True)
    links = re.findall(r'class="nhsuk-header__navigation-link"[^>]*>\s*([^<]+?)\s*<', body)
    assert item in links


def test_names_with_markup_are_shown_as_text(admin, login_as, make, cohort, trust):
    make.learner_in(cohort, organisation=trust, name="<script>alert(1)</script>")
    for path in (f"/cohorts/{cohort.id}",):
        body = login_as(admin).get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


def test_a_module_with_assignments_cannot_be_removed(admin, login_as, make, cohort):
    assignment = make.assignment(cohort)
    delivery_id = assignment.delivery_id
    client = login_as(admin)

    response = client.post(f"/cohorts/{cohort.id}/modules/{delivery_id}/remove")

    assert response.status_code == 302
    assert "has assignments in this cohort, so it cannot be removed" in text(
        client.get(response.location)
    )
    assert db.session.get(ModuleDelivery, delivery_id) is not None
