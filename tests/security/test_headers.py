"""Every HTML page carries a Content-Security-Policy that lets in only our own files and the
NHS.UK template's one inline script, by a nonce made afresh for each response; nothing a page
renders needs more (no other inline script, no style attributes). JSON answers may load nothing."""

import re

import pytest

from academy.reporting.academy_reports import REPORTS

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
NONCE = re.compile(r"'nonce-([^']+)'")


def page_policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in header.split(";"))
    }


def assert_safe_page(response) -> None:
    """An HTML page under the page policy, each inline script carrying that policy's nonce."""
    assert response.status_code == 200, response.request.path
    assert response.mimetype == "text/html"
    policy = page_policy(response)
    assert policy["default-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    nonce = NONCE.search(policy["script-src"]).group(1)
    html = response.get_data(as_text=True)
    inline = [attrs for attrs, body in SCRIPT.findall(html) if "src=" not in attrs]
    assert inline, "the NHS.UK template's script is on every page"
    assert all(f'nonce="{nonce}"' in attrs for attrs in inline), response.request.path
    assert not STYLE_ATTRIBUTE.search(html), response.request.path


@pytest.fixture
def world(make):
    organisation = make.organisation()
    cohort = make.cohort()
    learner = make.learner_in(cohort, organisation=organisation)
    credential = make.credential(learner, cohort)
    return {
        "organisation": organisation,
        "cohort": cohort,
        "learner": learner,
        "credential": credential,
        "admin": make.user("admin"),
        "tutor": make.user("tutor", scope=cohort),
        "sponsor": make.user("sponsor", scope=organisation),
    }


def test_public_pages_have_the_page_policy(client, world):
    uuid = world["credential"].uuid
    for path in ("/sign-in", "/credentials/verify", f"/credentials/{uuid}", "/accessibility"):
        assert_safe_page(client.get(path))


def test_learner_pages_have_the_page_policy(client, login_as, world):
    login_as(world["learner"])
    uuid = world["credential"].uuid
    for path in (
        "/account",
        "/learning",
        "/my/credentials",
        f"/my/credentials/{uuid}/certificate",
        "/my/cpd",
        "/my/cpd/print",
    ):
        assert_safe_page(client.get(path))


def test_staff_pages_have_the_page_policy(app, login_as, world):
    gradebook = f"/marking/cohorts/{world['cohort'].id}/gradebook"
    tutor = login_as(world["tutor"], the_client=app.test_client())
    assert_safe_page(tutor.get(gradebook))
    assert_safe_page(tutor.get("/account"))
    sponsor = login_as(world["sponsor"], the_client=app.test_client())
    assert_safe_page(sponsor.get(f"/organisations/{world['organisation'].id}/dashboard"))
    admin = login_as(world["admin"], the_client=app.test_client())
    assert_safe_page(admin.get(gradebook))
    assert_safe_page(admin.get("/reports/academy"))
    for key in REPORTS:  # each report draws its chart as inline SVG
        assert_safe_page(admin.get(f"/reports/academy/{key}"))


def test_the_nonce_changes_with_every_response(client):
    first, second = client.get("/sign-in"), client.get("/sign-in")
    nonces = [NONCE.search(page_policy(r)["script-src"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    assert len(nonces[0]) >= 16


def test_the_existing_headers_stay(client):
    response = client.get("/sign-in")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_json_answers_may_load_nothing(api, world):
    response = api(world["learner"]).get("/api/v1/me")
    assert response.status_code == 200
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    refused = api().get("/api/v1/me")
    assert refused.status_code == 401
    assert (
        refused.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


def test_files_and_exports_may_load_nothing_nor_be_framed(client, login_as, world):
    """A download a browser is persuaded to render (CSV, a static file) runs nothing."""
    login_as(world["learner"])
    for path in ("/static/swagger-ui-init.js", "/my/cpd/export.csv"):
        response = client.get(path, buffered=True)
        response.close()
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        ), path


def test_api_docs_start_swagger_ui_from_a_static_script(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/static/swagger-ui-init.js" in html
    assert all("src=" in attrs for attrs, _ in SCRIPT.findall(html))
    assert page_policy(response)["style-src"] == "'self'"
