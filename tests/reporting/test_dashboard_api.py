"""`GET /api/v1/organisations/{id}/dashboard`: the dashboard's figures as JSON for the trust's
sponsors and admins, 404 for everyone else (another trust, an ended sponsorship, learners and
tutors), marks only with the learner's consent, documented, and in a fixed number of queries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from academy.auth import services as auth_services
from academy.core import clock
from academy.credentials import services as credentials
from academy.extensions import db
from tests.queries import counted_queries
from tests.reporting import test_dashboard as dashboard
from tests.reporting.test_dashboard import active

# The trust, its sponsor and the scene of learners are the HTML dashboard tests' own fixtures.
trust, other_trust, sponsor = dashboard.trust, dashboard.other_trust, dashboard.sponsor
programme, cohort, essay, scene = (
    dashboard.programme,
    dashboard.cohort,
    dashboard.essay,
    dashboard.scene,
)


def path(organisation) -> str:
    return f"/api/v1/organisations/{organisation.id}/dashboard"


def test_a_sponsor_reads_their_trusts_dashboard(api, sponsor, trust, scene):
    response = api(sponsor).get(path(trust))
    assert response.status_code == 200
    body = response.get_json()
    assert body["organisation"] == {
        "id": trust.id,
        "ods_code": trust.ods_code,
        "name": "Riverside Hospitals NHS Trust",
        "credential_target": 3,
    }
    assert body["generated_at"].endswith("+00:00")
    assert body["enrolments_by_status"] == {
        "active": 3, "deferred": 0, "withdrawn": 0, "completed": 0,
    }  # fmt: skip
    assert body["progress_by_status"] == {
        "at_risk": 1, "missing": 0, "late": 1, "on_track": 1, "finished": 0,
    }  # fmt: skip
    assert body["coverage"] == {"credentialed": 1, "target": 3, "text": "1 of 3 credentialed"}

    (at_risk,) = body["at_risk"]
    bob = scene["bob"]
    assert at_risk["user"] == {"id": bob.id, "name": "Bob Behind", "staff_number": None}
    assert at_risk["reasons"] == ["Missed the deadline for “Essay one” with no extension"]

    learners = {item["user"]["name"]: item for item in body["learners"]}
    ann = learners["Ann Achiever"]
    assert ann["user"]["staff_number"] == "ESR-0001"
    assert (ann["status"], ann["credits_earned"], ann["credits_required"]) == ("on_track", 15, 15)
    assert (ann["modules_passed"], ann["modules_total"]) == (1, 1)
    assert learners["Cat Extended"]["late"] == 1
    assert learners["Bob Behind"]["missing"] == 1
    assert all("marks" not in item for item in body["learners"])

    credentials = body["credentials"]
    assert (credentials["held"], credentials["expiring"], credentials["expired"]) == (2, 0, 0)
    assert credentials["external"] == 0 and credentials["expiring_list"] == []
    assert len(body["trend"]) == 12
    assert body["trend"][-1] == {"month": f"{clock.today():%Y-%m}", "credentialed": 1}


def test_expiring_and_external_credentials_are_counted(api, make, sponsor, trust, cohort):
    holder = active(make.learner_in(cohort, organisation=trust))
    recorded = credentials.record_external(
        holder, actor=holder, title="Clinical safety officer", issuer="NHS England",
        issued_on=clock.today() - timedelta(days=300),
        expires_on=clock.today() + timedelta(days=30),
    )  # fmt: skip
    db.session.commit()
    body = api(sponsor).get(path(trust)).get_json()["credentials"]
    assert (body["external"], body["external_self_declared"], body["external_verified"]) == (
        1, 1, 0,
    )  # fmt: skip
    assert body["expiring_list"] == [
        {
            "id": recorded.id,
            "uuid": recorded.uuid,
            "user_id": holder.id,
            "kind": "external",
            "title": "Clinical safety officer",
            "expires": (clock.today() + timedelta(days=30)).isoformat(),
        }
    ]


def test_marks_appear_only_for_learners_who_share_them(api, sponsor, trust, scene):
    ann = scene["ann"]
    auth_services.set_marks_consent(ann, True, actor=ann)
    db.session.commit()
    learners = {i["user"]["id"]: i for i in api(sponsor).get(path(trust)).get_json()["learners"]}
    assert learners[ann.id]["marks"] == [{"module_code": "DHL101", "mark": 72.0, "passed": True}]
    assert "marks" not in learners[scene["bob"].id]


def test_an_admin_reads_any_trusts_dashboard(api, make, trust, other_trust):
    admin = make.user("admin")
    assert api(admin).get(path(trust)).status_code == 200
    assert api(admin).get(path(other_trust)).status_code == 200


def test_another_trust_answers_404(api, sponsor, other_trust):
    response = api(sponsor).get(path(other_trust))
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    assert api(sponsor).get("/api/v1/organisations/999999/dashboard").status_code == 404


def test_an_ended_sponsorship_answers_404(api, make, trust):
    former = make.user()
    make.role(former, "sponsor", scope=trust, valid_from=date(2020, 1, 1),
              valid_to=clock.today() - timedelta(days=1))  # fmt: skip
    assert api(former).get(path(trust)).status_code == 404


@pytest.mark.parametrize("role", ["learner", "tutor", "examiner"])
def test_learners_tutors_and_examiners_get_404(api, make, role, trust, cohort):
    scope = {"tutor": cohort, "examiner": cohort.programme}.get(role)
    user = make.user(role, organisation=trust, scope=scope)
    assert api(user).get(path(trust)).status_code == 404


def test_no_token_answers_401(api, trust):
    assert api().get(path(trust)).status_code == 401


def test_the_endpoint_and_its_shape_are_documented(api):
    spec = api().get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/organisations/{organisation_id}/dashboard"]["get"]
    assert {"200", "401", "404"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {
        "organisation", "generated_at", "enrolments_by_status", "progress_by_status", "coverage",
        "at_risk", "learners", "credentials", "trend",
    } <= set(schema["properties"])  # fmt: skip


def test_the_dashboard_reads_a_fixed_number_of_queries(api, make, sponsor, trust, cohort, essay):
    client = api(sponsor)
    learners = []

    def grow_to(count):
        while len(learners) < count:
            learner = active(make.learner_in(cohort, organisation=trust))
            make.submission(essay, learner)
            learners.append(learner)
        make.credential(active(make.learner_in(cohort, organisation=trust)), cohort)
        client.get(path(trust))  # warm up: the token's first use is written down
        db.session.expire_all()
        with counted_queries() as statements:
            response = client.get(path(trust))
        assert response.status_code == 200
        return len(statements)

    assert grow_to(3) == grow_to(15)
