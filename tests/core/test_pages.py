"""Service-wide pages: the start page, statements and error pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.auth.helpers import body, h1, text, title


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/", "Digital Academy for health informatics leaders"),
        ("/accessibility", "Accessibility statement for the Digital Academy"),
        ("/privacy", "Privacy notice"),
        ("/sign-in", "Sign in"),
        ("/forgot-password", "Reset your password"),
    ],
)
def test_public_pages_have_one_heading_matching_the_title(client, path, heading):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert h1(response) == heading
    assert title(response) == f"{heading} – Digital Academy"
    assert 'href="#maincontent"' in body(response), "skip link"
    assert 'href="/accessibility"' in body(response) and 'href="/privacy"' in body(response)


def test_start_page_explains_the_academy_and_starts_at_sign_in(client):
    response = client.get("/")
    page = text(body(response))
    assert "chief clinical information officers (CCIOs)" in page
    assert "clinician-informaticians" in page
    start = re.search(
        r'<a\s[^>]*class="nhsuk-button"[^>]*href="([^"]+)"[^>]*>(.*?)</a>', body(response), re.S
    )
    assert (start.group(1), text(start.group(2))) == ("/sign-in", "Start now")


def test_start_page_sends_signed_in_people_to_their_account(client, make, login_as):
    login_as(make.user())
    response = client.get("/")
    assert urlsplit(response.headers["Location"]).path == "/account"


def test_accessibility_statement_states_the_standard_and_how_to_report_problems(client):
    page = text(body(client.get("/accessibility")))
    assert "WCAG" in page and "2.2" in page and "AA" in page
    assert "Feedback and contact information" in page
    assert "Equality Advisory and Support Service" in page


def test_privacy_notice_gives_lawful_basis_retention_and_rights(client):
    page = text(body(client.get("/privacy")))
    for expected in (
        "UK GDPR",
        "public task",
        "legitimate interests",
        "How long we keep it",
        "Information Commissioner's Office",
    ):
        assert expected in page


def test_an_unknown_address_gets_the_nhs_styled_not_found_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert h1(response) == "Page not found"
    assert 'class="nhsuk-header' in body(response)
    assert "vendor/academy.css" in body(response) or "nhsuk-frontend" in body(response)


def test_an_unexpected_error_gets_the_sorry_page_without_details(app, client, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(app.view_functions, "core.privacy", broken)
    response = client.get("/privacy")
    assert response.status_code == 500
    assert h1(response) == "Sorry, there is a problem with the service"
    assert "secret internals" not in body(response)


def test_a_method_not_allowed_gets_a_readable_page(client):
    response = client.delete("/sign-in")
    assert response.status_code == 405
    assert h1(response) == "You cannot do that from this page"
    assert "Error code 405" in text(body(response))
