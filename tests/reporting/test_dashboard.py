"""The sponsor's trust dashboard and a sponsored learner's page, through the test client: what a
sponsor sees (headlines, at-risk reasons, coverage, credentials, charts with their tables), who
may see it (another trust, an ended sponsorship, learners and tutors: 404), what the learner's
consent changes, what is never shown (submission files, unreleased marks, another sponsor's
enrolments), escaping, and a fixed number of queries whatever the trust's size."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html import unescape

import pytest
from flask_login import login_user

from academy.assessment.models import Extension
from academy.auth import services as auth_services
from academy.core import clock
from academy.extensions import db
from academy.marking import services as marking
from academy.reporting.views import export_links
from tests.queries import counted_queries

FEEDBACK = "A **thorough** stakeholder analysis"
HIDDEN_FEEDBACK = "Draft feedback nobody has released"
FILE_NAME = "Ann Achiever secret essay.pdf"


def html(response) -> str:
    return response.get_data(as_text=True)


def text(response) -> str:
    """The page's words, tags removed, entities decoded."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response))))


def nav_links(response) -> list[str]:
    return re.findall(r'nhsuk-header__navigation-link"[^>]*href="([^"]+)"', html(response))


def dashboard_url(organisation) -> str:
    return f"/organisations/{organisation.id}/dashboard"


def learner_url(organisation, user) -> str:
    return f"/organisations/{organisation.id}/learners/{user.id}"


def active(user):
    user.last_login_at = clock.now() - timedelta(days=1)
    db.session.commit()
    return user


@pytest.fixture
def trust(make):
    return make.organisation(name="Riverside Hospitals NHS Trust", credential_target=3)


@pytest.fixture
def other_trust(make):
    return make.organisation(name="Hillside Community NHS Trust")


@pytest.fixture
def sponsor(make, trust):
    return make.user("sponsor", scope=trust, name="Sam Sponsor")


@pytest.fixture
def client_for(app, login_as):
    """`client_for(user)`: a fresh client signed in as `user`."""
    return lambda user: login_as(user, the_client=app.test_client())


@pytest.fixture
def programme(make):
    """One core module is the whole programme, so passing it earns the award credential."""
    module = make.module(code="DHL101", credits=15)
    return make.programme(core=[module], credits_required=15, title="PG Cert Digital Health")


@pytest.fixture
def cohort(make, programme):
    return make.cohort(programme=programme, name="2027 spring")


@pytest.fixture
def essay(make, cohort):
    now = clock.now()
    return make.assignment(
        cohort,
        title="Essay one",
        opens_at=now - timedelta(days=30),
        due_at=now - timedelta(days=10),
    )


def mark_and_release(submission, *, actor, mark, feedback="", release=True):
    saved = marking.save_mark(
        submission, actor=actor, expected_version=0, mark=mark, feedback=feedback
    )
    if release:
        marking.release(submission.assignment, actor=actor)
    db.session.commit()
    return saved


@pytest.fixture
def scene(make, trust, cohort, essay):
    """Ann passed Essay one (credentialed); Bob missed it; Cat is late with an extension."""
    ann = active(make.learner_in(cohort, organisation=trust, name="Ann Achiever",
                                 staff_number="ESR-0001"))  # fmt: skip
    submission = make.submission(essay, ann)
    submission.files[0].name = FILE_NAME
    db.session.commit()
    marker = make.user("tutor", scope=cohort, name="Mo Marker")
    mark_and_release(submission, actor=marker, mark=72, feedback=FEEDBACK)
    later = make.assignment(cohort, title="Essay two", due_at=clock.now() + timedelta(days=20))
    mark_and_release(make.submission(later, ann), actor=marker, mark=40,
                     feedback=HIDDEN_FEEDBACK, release=False)  # fmt: skip

    bob = active(make.learner_in(cohort, organisation=trust, name="Bob Behind"))
    cat = active(make.learner_in(cohort, organisation=trust, name="Cat Extended"))
    make.submission(essay, cat, late_working_days=2)
    db.session.add(
        Extension(
            assignment_id=essay.id,
            user_id=cat.id,
            reason="Illness",
            requested_due_at=clock.now(),
            status="approved",
            granted_due_at=clock.now() + timedelta(days=2),
            granted_cutoff_at=clock.now() + timedelta(days=5),
        )  # fmt: skip
    )
    db.session.commit()
    return {"ann": ann, "bob": bob, "cat": cat, "essay": essay, "later": later}


# --- what a sponsor sees ---------------------------------------------------------------------


def test_a_sponsor_sees_their_trusts_dashboard(client_for, sponsor, trust, scene):
    response = client_for(sponsor).get(dashboard_url(trust))
    assert response.status_code == 200
    page = text(response)
    assert "Riverside Hospitals NHS Trust" in page
    assert "Learners sponsored 3" in page
    assert "Active: 3" in page
    assert "1 of 3 credentialed" in page
    # The at-risk list: Bob, with the reason, and a link to his page.
    at_risk = html(response).split('id="at-risk"')[1].split('id="progress"')[0]
    assert "Bob Behind" in at_risk and "Ann Achiever" not in at_risk
    assert "Missed the deadline for “Essay one” with no extension" in unescape(at_risk)
    assert f'href="{learner_url(trust, scene["bob"])}"' in at_risk
    # Every learner's row, with credits and submissions counted.
    learners = html(response).split('id="learners"')[1].split('id="credentials"')[0]
    for name in ("Ann Achiever", "Bob Behind", "Cat Extended"):
        assert name in learners
    assert "15 of 15" in learners and "1 of 1" in learners
    # Credentials: Ann holds the module's and the programme's, linked to her page.
    assert "Held (valid now) 2" in page and "Expiring in the next 90 days 0" in page
    held = html(response).split('id="credentials-held"')[1].split("</table>")[0]
    assert "Postgraduate Certificate in Digital Health" in held
    assert held.count(f'href="{learner_url(trust, scene["ann"])}"') == 2
    # Marks are never on the dashboard while nobody shares them.
    assert "72" not in learners
    assert "Module marks" not in page


#: A row of a chart's data table: (label, value).
ROW = r'<th scope="row"[^>]*>([^<]*)</th>\s*<td[^>]*>(\d+)</td>'


def test_the_dashboard_charts_are_images_with_matching_tables(client_for, sponsor, trust, scene):
    page = html(client_for(sponsor).get(dashboard_url(trust)))
    for chart_id in ("progress-chart", "trend-chart"):
        svg = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', page, re.S).group(0)
        root = ET.fromstring(svg)  # noqa: S314 - the page under test, not outside input
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{chart_id}-title"
        ns = "{http://www.w3.org/2000/svg}"
        assert root.find(f"{ns}title").text and root.find(f"{ns}desc").text
        table = re.search(rf'<table[^>]*id="{chart_id}-data".*?</table>', page, re.S).group(0)
        rows = re.findall(ROW, table)
        drawn = {t.text for t in root.iter(f"{ns}text")}
        assert rows, chart_id
        for label, value in rows:
            assert unescape(label) in drawn and value in drawn
    progress = re.search(r'<table[^>]*id="progress-chart-data".*?</table>', page, re.S).group(0)
    assert dict(re.findall(ROW, progress)) == {
        "At risk": "1", "Work missing": "0", "Late work": "1", "On track": "1", "Finished": "0",
    }  # fmt: skip
    trend = re.search(r'<table[^>]*id="trend-chart-data".*?</table>', page, re.S).group(0)
    assert len(re.findall(r'<th scope="row"', trend)) == 12


def test_the_nav_shows_the_dashboard_to_sponsors_only(client_for, sponsor, scene):
    assert "/organisations/dashboards" in nav_links(client_for(sponsor).get("/my/credentials"))
    learner_page = client_for(scene["bob"]).get("/my/credentials")
    assert "/organisations/dashboards" not in nav_links(learner_page)


def test_a_sponsor_of_one_organisation_goes_straight_to_its_dashboard(client_for, sponsor, trust):
    response = client_for(sponsor).get("/organisations/dashboards")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(dashboard_url(trust))


def test_a_sponsor_of_several_organisations_chooses_one(
    client_for, make, sponsor, trust, other_trust
):
    make.role(sponsor, "sponsor", scope=other_trust)
    third = make.organisation(name="Not Theirs NHS Trust")
    response = client_for(sponsor).get("/organisations/dashboards")
    assert response.status_code == 200
    assert dashboard_url(trust) in html(response)
    assert dashboard_url(other_trust) in html(response)
    assert dashboard_url(third) not in html(response)
    assert "Not Theirs" not in html(response)


def test_an_admin_sees_every_dashboard(client_for, make, trust, other_trust, scene):
    admin = make.user("admin")
    client = client_for(admin)
    listing = client.get("/organisations/dashboards")
    assert listing.status_code == 200
    assert dashboard_url(trust) in html(listing) and dashboard_url(other_trust) in html(listing)
    assert client.get(dashboard_url(trust)).status_code == 200
    assert client.get(dashboard_url(other_trust)).status_code == 200
    assert client.get(learner_url(trust, scene["ann"])).status_code == 200


# --- who may not -------------------------------------------------------------------------------


def test_another_trusts_dashboard_and_learners_answer_404(
    client_for, make, sponsor, other_trust, cohort
):
    theirs = active(make.learner_in(cohort, organisation=other_trust, name="Their Learner"))
    client = client_for(sponsor)
    assert client.get(dashboard_url(other_trust)).status_code == 404
    assert client.get(learner_url(other_trust, theirs)).status_code == 404
    assert client.get("/organisations/999999/dashboard").status_code == 404
    assert client.get(f"/organisations/{2**40}/dashboard").status_code == 404


def test_a_learner_of_another_trust_is_not_reachable_through_ours(
    client_for, make, sponsor, trust, other_trust, cohort
):
    theirs = active(make.learner_in(cohort, organisation=other_trust, name="Their Learner"))
    response = client_for(sponsor).get(learner_url(trust, theirs))
    assert response.status_code == 404
    assert "Their Learner" not in html(response)


def test_an_ended_sponsorship_sees_nothing(client_for, make, trust, scene):
    former = make.user(name="Former Sponsor")
    make.role(former, "sponsor", scope=trust, valid_from=date(2020, 1, 1),
              valid_to=clock.today() - timedelta(days=1))  # fmt: skip
    client = client_for(former)
    assert client.get(dashboard_url(trust)).status_code == 404
    assert client.get(learner_url(trust, scene["ann"])).status_code == 404
    assert client.get("/organisations/dashboards").status_code == 403
    assert "/organisations/dashboards" not in nav_links(client.get("/my/credentials"))


@pytest.mark.parametrize("role", ["learner", "tutor"])
def test_learners_and_tutors_get_404_for_organisation_pages(
    client_for, make, role, trust, scene, cohort
):
    user = scene["ann"] if role == "learner" else make.user("tutor", scope=cohort)
    client = client_for(user)
    assert client.get(dashboard_url(trust)).status_code == 404
    assert client.get(learner_url(trust, scene["bob"])).status_code == 404
    assert client.get("/organisations/dashboards").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, trust):
    response = client.get(dashboard_url(trust))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# --- a learner's page and their consent ---------------------------------------------------------


def test_the_learners_page_shows_progress_statuses_and_credentials(
    client_for, sponsor, trust, scene
):
    client = client_for(sponsor)
    cat = client.get(learner_url(trust, scene["cat"]))
    assert cat.status_code == 200
    page = text(cat)
    assert "Cat Extended" in page and "PG Cert Digital Health" in page
    assert "Late by 2 working days" in page and "Extension granted" in page
    assert "Essay two" in page and "Not due yet" in page

    bob = text(client.get(learner_url(trust, scene["bob"])))
    assert "Missing" in bob
    assert "Missed the deadline for “Essay one” with no extension" in bob

    ann = text(client.get(learner_url(trust, scene["ann"])))
    assert "On time" in ann
    assert "Passed" in ann and "15 of 15" in ann
    assert "ESR-0001" in ann
    assert "Postgraduate Certificate in Digital Health" in ann  # the award credential


def test_marks_and_feedback_appear_only_once_the_learner_shares_them(
    client_for, sponsor, trust, scene
):
    ann = scene["ann"]
    client = client_for(sponsor)

    before = client.get(learner_url(trust, ann))
    page = html(before)
    assert "72 out of 100" not in page and "72%" not in page
    assert "stakeholder analysis" not in page
    assert "Not shared" in text(before)
    dashboard = html(client.get(dashboard_url(trust)))
    assert "72%" not in dashboard and "Module marks" not in dashboard

    auth_services.set_marks_consent(ann, True, actor=ann)
    db.session.commit()

    after = client.get(learner_url(trust, ann))
    page = html(after)
    assert "72 out of 100" in page and "72%" in page
    assert "<strong>thorough</strong> stakeholder analysis" in page  # rendered, sanitised
    # Only released marks: the unreleased one stays hidden even now.
    assert HIDDEN_FEEDBACK not in page and "40 out of 100" not in page
    dashboard = text(client.get(dashboard_url(trust)))
    assert "Module marks (shared by the learner)" in dashboard
    assert "DHL101: 72% (passed)" in dashboard
    assert "Bob Behind" in dashboard and "Not shared" in dashboard

    auth_services.set_marks_consent(ann, False, actor=ann)
    db.session.commit()
    assert "72 out of 100" not in html(client.get(learner_url(trust, ann)))


def test_submission_files_are_never_shown_or_linked(client_for, sponsor, trust, scene):
    ann = scene["ann"]
    auth_services.set_marks_consent(ann, True, actor=ann)
    db.session.commit()
    client = client_for(sponsor)
    for url in (dashboard_url(trust), learner_url(trust, ann)):
        page = html(client.get(url))
        assert FILE_NAME not in page and "essay.pdf" not in page
        assert "/files/" not in page and "/submissions/" not in page


def test_another_sponsors_enrolment_stays_with_them(
    client_for, make, sponsor, trust, other_trust, scene
):
    ann = scene["ann"]
    elsewhere = make.cohort(name="2028 autumn elsewhere")
    make.enrolment(ann, elsewhere, sponsor=other_trust)
    page = html(client_for(sponsor).get(learner_url(trust, ann)))
    assert "2027 spring" in page
    assert "2028 autumn elsewhere" not in page


def test_staff_not_sponsored_show_only_their_credentials(client_for, make, sponsor, trust):
    staff = make.user("learner", organisation=trust, name="Una Unsponsored")
    other = make.organisation()
    elsewhere = make.cohort(name="Sponsored elsewhere")
    make.enrolment(staff, elsewhere, sponsor=other)
    credential = make.credential(staff, elsewhere)
    response = client_for(sponsor).get(learner_url(trust, staff))
    assert response.status_code == 200
    page = text(response)
    assert credential.title in page
    assert "only the credentials they hold are shown" in page
    assert "Sponsored elsewhere" not in page
    assert "Assignments" not in page


def test_names_with_markup_are_escaped(client_for, make, sponsor, trust, cohort, essay):
    evil = '<script>alert("x")</script> O\'Hara'
    learner = active(make.learner_in(cohort, organisation=trust, name=evil))
    client = client_for(sponsor)
    for url in (dashboard_url(trust), learner_url(trust, learner)):
        page = html(client.get(url))
        assert '<script>alert("x")</script>' not in page
        assert "&lt;script&gt;alert(" in page


def test_export_links_point_at_the_exports_that_exist(app, client_for, sponsor, trust):
    page = html(client_for(sponsor).get(dashboard_url(trust)))
    with app.test_request_context():
        login_user(sponsor)
        offered = export_links(trust)
    assert len(offered) == 6
    for _, href in offered:
        assert f'href="{href}"' in page
    assert 'href="None"' not in page


# --- a fixed number of queries -----------------------------------------------------------------


def test_the_dashboard_reads_a_fixed_number_of_queries(
    client_for, make, sponsor, trust, cohort, essay
):
    client = client_for(sponsor)
    learners = []

    def grow_to(count):
        while len(learners) < count:
            learner = active(make.learner_in(cohort, organisation=trust))
            make.submission(essay, learner)
            learners.append(learner)
        make.credential(active(make.learner_in(cohort, organisation=trust)), cohort)
        client.get(dashboard_url(trust))  # warm up: sign-in bookkeeping, first loads
        db.session.expire_all()
        with counted_queries() as statements:
            assert client.get(dashboard_url(trust)).status_code == 200
        return len(statements)

    assert grow_to(3) == grow_to(15)
