"""/api/v1 cohorts, tutors, enrolments and the CSV import."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.cohorts.models import Cohort, Enrolment
from academy.extensions import db
from tests.api import assert_error
from tests.cohorts import audit_events, fresh, multipart
from tests.conftest import count

ENROLMENT_FIELDS = {"id", "user_id", "cohort_id", "sponsor_organisation_id", "status", "version"}
HEADER = "email,name,organisation_ods,professional_registration,staff_number"


def new_cohort(programme, **changes) -> dict:
    return {
        "programme_id": programme.id,
        "name": "2027 autumn",
        "starts_on": "2027-09-06",
        "ends_on": "2028-07-14",
        "capacity": 20,
        **changes,
    }


def upload(client, cohort, data: bytes, name="learners.csv"):
    return client.post(f"cohorts/{cohort.id}/enrolments/import", json=None, **multipart(data, name))


# --- cohorts -----------------------------------------------------------------------------------


def test_an_admin_opens_a_cohort_with_its_modules(api, admin, programme, informatics):
    response = api(admin).post(
        "cohorts",
        json=new_cohort(
            programme,
            nation="scotland",
            modules=[
                {"module_id": informatics.id, "starts_on": "2027-09-06", "ends_on": "2027-12-17"}
            ],
        ),
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "2027 autumn" and body["nation"] == "scotland"
    assert (body["capacity"], body["places_taken"], body["version"]) == (20, 0, 1)
    [delivery] = body["deliveries"]
    assert delivery["module_id"] == informatics.id and delivery["module_code"] == "DHL701"
    assert delivery["ends_on"] == "2027-12-17"
    assert body["tutors"] == []
    assert len(audit_events("cohort.create")) == 1


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"ends_on": "2027-09-05"}, "ends_on", 422),
        ({"capacity": 0}, "capacity", 422),
        ({"capacity": "20"}, "capacity", 422),
        ({"programme_id": 999_999}, "programme_id", 422),
        ({"nation": "atlantis"}, "nation", 422),
        ({"name": "  "}, "name", 422),
        ({"starts_on": "11/01/2027"}, "starts_on", 422),
        ({"surprise": 1}, "surprise", 422),
        ({"name": "2027 spring"}, "name", 409),
    ],
)
def test_bad_cohorts_are_refused_naming_the_field(
    api, admin, programme, cohort, changes, field, status
):
    before = count(Cohort)
    response = api(admin).post("cohorts", json=new_cohort(programme, **changes))
    assert_error(response, status, field)
    assert count(Cohort) == before


def test_a_module_outside_the_programme_names_its_entry(api, admin, programme, make):
    module = make.module()
    response = api(admin).post(
        "cohorts",
        json=new_cohort(
            programme,
            modules=[{"module_id": module.id, "starts_on": "2027-09-06", "ends_on": "2027-10-01"}],
        ),
    )
    assert_error(response, 422, "modules.0.module_id")
    assert count(Cohort) == 0


@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor", "examiner"])
def test_only_admins_open_cohorts(api, make, programme, trust, role):
    user = make.user(role, organisation=trust, scope=trust)
    assert_error(api(user).post("cohorts", json=new_cohort(programme)), 403)


def test_cohort_lists_are_scoped(api, admin, make, programme, cohort, trust):
    other = make.cohort(programme, name="2028 spring")
    tutor = make.user("tutor", scope=cohort)
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    make.learner_in(other, organisation=trust)
    learner = make.learner_in(cohort)

    def names(user):
        response = api(user).get("cohorts")
        assert response.status_code == 200
        return sorted(c["name"] for c in response.get_json())

    assert names(admin) == ["2027 spring", "2028 spring"]
    assert names(tutor) == ["2027 spring"]
    assert names(sponsor) == ["2028 spring"]
    assert names(learner) == ["2027 spring"]
    response = api(admin).get("cohorts?per_page=1")
    assert response.headers["X-Total-Count"] == "2" and 'rel="next"' in response.headers["Link"]


def test_a_cohort_shows_its_deliveries_and_tutors_and_hides_from_others(
    api, admin, make, cohort, programme
):
    tutor = make.user("tutor", scope=cohort, name="Dr Tomasz Nowak")
    other_tutor = make.user("tutor", scope=make.cohort(programme))

    body = api(tutor).get(f"cohorts/{cohort.id}").get_json()
    assert [d["module_code"] for d in body["deliveries"]] == ["DHL701", "DHL702"]
    assert [(t["user_id"], t["name"]) for t in body["tutors"]] == [(tutor.id, "Dr Tomasz Nowak")]

    assert_error(api(other_tutor).get(f"cohorts/{cohort.id}"), 404)
    assert_error(api(make.user("learner")).get(f"cohorts/{cohort.id}"), 404)
    assert_error(api(admin).get("cohorts/999999"), 404)


# --- tutors ------------------------------------------------------------------------------------


def test_an_admin_assigns_a_tutor(api, admin, make, cohort):
    person = make.user(name="Dr Tomasz Nowak")

    response = api(admin).post(f"cohorts/{cohort.id}/tutors", json={"user_id": person.id})

    assert response.status_code == 201
    body = response.get_json()
    assert (body["user_id"], body["cohort_id"], body["name"]) == (
        person.id,
        cohort.id,
        "Dr Tomasz Nowak",
    )
    assert api(person).get(f"cohorts/{cohort.id}").status_code == 200
    again = api(admin).post(f"cohorts/{cohort.id}/tutors", json={"user_id": person.id})
    assert_error(again, 409, "user_id")


def test_an_unknown_tutor_is_422(api, admin, cohort):
    assert_error(
        api(admin).post(f"cohorts/{cohort.id}/tutors", json={"user_id": 999999}), 422, "user_id"
    )


# --- enrolling ---------------------------------------------------------------------------------


def test_an_admin_enrols_a_learner_sponsored_by_their_employer_by_default(
    api, admin, make, cohort, trust
):
    person = make.user(organisation=trust)

    response = api(admin).post(f"cohorts/{cohort.id}/enrolments", json={"user_id": person.id})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= ENROLMENT_FIELDS
    assert (body["status"], body["sponsor_organisation_id"]) == ("active", trust.id)
    assert body["user"] == {"id": person.id, "name": person.name, "email": person.email}
    assert body["history"][0]["to_status"] == "active"
    assert body["history"][0]["changed_by_id"] == admin.id
    assert fresh(Cohort, cohort.id).places_taken == 1


def test_a_chosen_sponsor_is_kept(api, admin, make, cohort, trust, other_trust):
    person = make.user(organisation=trust)
    response = api(admin).post(
        f"cohorts/{cohort.id}/enrolments",
        json={"user_id": person.id, "sponsor_organisation_id": other_trust.id},
    )
    assert response.get_json()["sponsor_organisation_id"] == other_trust.id


def test_a_duplicate_or_a_full_cohort_is_409_and_an_unknown_user_422(
    api, admin, make, programme, trust
):
    cohort = make.cohort(programme, capacity=1)
    learner = make.learner_in(cohort)
    client = api(admin)

    duplicate = client.post(f"cohorts/{cohort.id}/enrolments", json={"user_id": learner.id})
    assert_error(duplicate, 409, "user_id")
    full = client.post(
        f"cohorts/{cohort.id}/enrolments", json={"user_id": make.user(organisation=trust).id}
    )
    assert "full" in assert_error(full, 409)["message"]
    unknown = client.post(f"cohorts/{cohort.id}/enrolments", json={"user_id": 999999})
    assert_error(unknown, 422, "user_id")
    no_sponsor = client.post(f"cohorts/{cohort.id}/enrolments", json={"user_id": make.user().id})
    assert_error(no_sponsor, 422, "sponsor_organisation_id")
    assert count(Enrolment) == 1
    assert fresh(Cohort, cohort.id).places_taken == 1


def test_enrolling_in_an_unknown_cohort_is_404(api, admin, make):
    response = api(admin).post("cohorts/999999/enrolments", json={"user_id": make.user().id})
    assert_error(response, 404)


@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor"])
def test_only_admins_enrol(api, make, cohort, trust, role):
    user = make.user(role, organisation=trust, scope=cohort if role == "tutor" else trust)
    response = api(user).post(f"cohorts/{cohort.id}/enrolments", json={"user_id": user.id})
    assert_error(response, 403)


# --- listing enrolments ------------------------------------------------------------------------


def test_a_sponsor_listing_a_shared_cohort_sees_only_their_own_staff(
    api, make, cohort, trust, other_trust
):
    ours = make.learner_in(cohort, organisation=trust, name="Priya Shah")
    make.learner_in(cohort, organisation=other_trust, name="Grace Adeyemi")
    sponsor = make.user("sponsor", organisation=trust, scope=trust)

    response = api(sponsor).get(f"cohorts/{cohort.id}/enrolments")

    assert response.status_code == 200
    [item] = response.get_json()
    assert item["user"] == {"id": ours.id, "name": "Priya Shah", "email": ours.email}
    assert response.headers["X-Total-Count"] == "1"


def test_admins_and_the_cohorts_tutors_see_every_enrolment(api, admin, make, cohort, programme):
    for _ in range(3):
        make.learner_in(cohort)
    tutor = make.user("tutor", scope=cohort)
    other_tutor = make.user("tutor", scope=make.cohort(programme))

    for user in (admin, tutor):
        items = api(user).get(f"cohorts/{cohort.id}/enrolments").get_json()
        assert len(items) == 3 and all(set(i) >= ENROLMENT_FIELDS | {"user"} for i in items)
        assert all("history" not in i for i in items)
    assert_error(api(other_tutor).get(f"cohorts/{cohort.id}/enrolments"), 404)


def test_a_learner_cannot_list_their_cohorts_enrolments(api, make, cohort):
    learner = make.learner_in(cohort)
    assert_error(api(learner).get(f"cohorts/{cohort.id}/enrolments"), 403)


def test_enrolments_filter_by_status(api, admin, make, cohort):
    make.learner_in(cohort)
    make.enrolment(make.user(organisation=make.organisation()), cohort, status="deferred")
    items = api(admin).get(f"cohorts/{cohort.id}/enrolments?status=deferred").get_json()
    assert [i["status"] for i in items] == ["deferred"]
    assert_error(api(admin).get(f"cohorts/{cohort.id}/enrolments?status=lost"), 422, "status")


# --- changing status ---------------------------------------------------------------------------


def test_an_admin_changes_a_status_with_a_reason(api, admin, make, cohort):
    learner = make.learner_in(cohort)
    enrolment = db.session.scalar(sa.select(Enrolment).where(Enrolment.user_id == learner.id))
    version = enrolment.version

    response = api(admin).patch(
        f"enrolments/{enrolment.id}",
        json={"status": "withdrawn", "reason": "Left the trust", "version": version},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "withdrawn" and body["version"] == version + 1
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"], last["reason"], last["changed_by_id"]) == (
        "active",
        "withdrawn",
        "Left the trust",
        admin.id,
    )
    assert fresh(Cohort, cohort.id).places_taken == 0


def test_a_stale_status_change_is_409_with_the_current_state(api, admin, make, cohort):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    client = api(admin)
    client.patch(
        f"enrolments/{enrolment.id}",
        json={"status": "deferred", "reason": "Illness", "version": enrolment.version},
    )

    stale = client.patch(
        f"enrolments/{enrolment.id}",
        json={"status": "withdrawn", "reason": "Left", "version": 1},
    )

    body = assert_error(stale, 409, "version")
    assert body["current"]["status"] == "deferred" and body["current"]["version"] == 2
    assert fresh(Enrolment, enrolment.id).status == "deferred"


@pytest.mark.parametrize(
    ("start", "change", "field"),
    [
        ("withdrawn", {"status": "active"}, "status"),
        ("completed", {"status": "deferred"}, "status"),
        ("active", {"status": "active"}, "status"),
        ("active", {"status": "paused"}, "status"),
        ("active", {"reason": "   "}, "reason"),
        ("active", {"version": "1"}, "version"),
    ],
)
def test_refused_status_changes_are_422(api, admin, make, cohort, start, change, field):
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort, status=start)
    body = {"status": "deferred", "reason": "Because", "version": enrolment.version, **change}
    assert_error(api(admin).patch(f"enrolments/{enrolment.id}", json=body), 422, field)
    assert fresh(Enrolment, enrolment.id).status == start


def test_only_admins_change_statuses(api, make, cohort):
    tutor = make.user("tutor", scope=cohort)
    enrolment = make.enrolment(make.user(organisation=make.organisation()), cohort)
    response = api(tutor).patch(
        f"enrolments/{enrolment.id}",
        json={"status": "withdrawn", "reason": "Left", "version": enrolment.version},
    )
    assert_error(response, 403)


# --- import ------------------------------------------------------------------------------------


def test_thirty_learners_are_imported_and_only_new_ones_invited_after_commit(
    api, admin, make, cohort, trust, other_trust, outbox, monkeypatch
):
    existing = [make.user(email=f"known{n}@nhs.test", organisation=trust) for n in range(10)]
    rows = [f"known{n}@nhs.test,Known {n},RJ1,," for n in range(10)]
    rows += [f"new{n}@nhs.test,New Person {n},RRK,NMC {n:04d},ESR-{n}" for n in range(20)]
    data = ("\ufeff" + "\r\n".join([HEADER, *rows]) + "\r\n").encode()
    order = []
    real_commit = db.session.commit
    monkeypatch.setattr(db.session, "commit", lambda: (order.append("commit"), real_commit()))
    from academy.auth import services as auth_services

    real_invite = auth_services.send_invitation
    monkeypatch.setattr(
        auth_services, "send_invitation", lambda user: (order.append("invite"), real_invite(user))
    )

    response = upload(api(admin), cohort, data)

    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"created": 20, "existing_users": 10, "enrolled": 30}
    assert order[0] == "commit" and order.count("invite") == 20
    assert sorted(m["To"] for m in outbox) == sorted(f"new{n}@nhs.test" for n in range(20))
    assert fresh(Cohort, cohort.id).places_taken == 30
    enrolled = set(db.session.scalars(sa.select(Enrolment.user_id)))
    assert {u.id for u in existing} <= enrolled and len(enrolled) == 30


def test_a_bad_row_is_422_keyed_by_row_and_imports_nothing(api, admin, cohort, trust, outbox):
    data = "\n".join(
        [HEADER, "a@nhs.test,A Person,RJ1,,", "b@nhs,B Person,RJ1,,", "c@nhs.test,C,NOPE,,"]
    ).encode()

    body = assert_error(upload(api(admin), cohort, data), 422, "row 3", "row 4")

    assert body["errors"]["row 3"][0].startswith("email: b@nhs is not a valid email address")
    assert body["errors"]["row 4"] == ["organisation_ods: No organisation has the ODS code NOPE"]
    assert "header is row 1" in body["message"]
    assert count(Enrolment) == 0 and outbox == []


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", 422),
        ("email,name\nzoë@nhs.test,Zoë\n".encode("latin-1"), 422),
        (b"x" * (2 * 1024 * 1024 + 1), 413),
    ],
)
def test_files_that_cannot_be_read_are_refused(api, admin, cohort, data, status):
    assert_error(upload(api(admin), cohort, data), status, "file")
    assert count(Enrolment) == 0


def test_an_import_without_a_file_is_422(api, admin, cohort):
    response = api(admin).post(
        f"cohorts/{cohort.id}/enrolments/import",
        data=b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
    )
    assert_error(response, 422, "file")


def test_only_admins_import(api, make, cohort, trust):
    sponsor = make.user("sponsor", organisation=trust, scope=trust)
    assert_error(upload(api(sponsor), cohort, b"email\n"), 403)
