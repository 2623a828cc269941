"""What a person sees: signing in, the account page, the admin pages, and accessibility checks."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in

pytestmark = pytest.mark.browser


def test_admin_signs_in_sees_their_account_and_every_page_passes_axe(page):
    page.goto("/")
    expect(page.locator("header").get_by_text("Digital Academy").first).to_be_visible()
    assert axe_violations(page) == []

    page.goto("/sign-in")
    assert axe_violations(page) == []
    sign_in(page, "admin@academy.example")
    page.wait_for_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("Ada Okafor").first).to_be_visible()
    expect(page.get_by_text("Academy admin").first).to_be_visible()
    assert axe_violations(page) == []

    for path in [
        "/account/password",
        "/organisations",
        "/organisations/new",
        "/users",
        "/users/new",
        "/accessibility",
        "/privacy",
        "/no-such-page",
    ]:
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        assert axe_violations(page) == [], path

    page.goto("/organisations")
    page.get_by_role("link", name=re.compile("Guy's and St Thomas'")).first.click()
    assert axe_violations(page) == []
    page.goto("/users")
    page.get_by_role("link", name="Sarah Whitfield").first.click()
    expect(page.get_by_text("Sponsor").first).to_be_visible()
    assert axe_violations(page) == []
    assert page.external_requests == []


def test_wrong_password_shows_the_error_summary_and_stays_accessible(page):
    sign_in(page, "admin@academy.example", "not the password at all")
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    assert "/sign-in" in page.url
    assert axe_violations(page) == []


def test_sponsor_sees_only_their_own_organisation(page):
    sign_in(page, "sponsor@academy.example")
    page.wait_for_url(re.compile(r"/account$"))
    page.goto("/organisations")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    assert "Guy's and St Thomas'" in rows.first.inner_text()
    page.goto("/users")
    assert "Grace Adeyemi" not in page.content()  # employed by another trust
    assert "Dr Priya Shah" in page.content()


def test_sign_out_ends_the_session(page):
    sign_in(page, "tutor@academy.example")
    page.wait_for_url(re.compile(r"/account$"))
    page.get_by_role("button", name="Sign out").click()
    page.goto("/account")
    assert "/sign-in" in page.url


def test_api_docs_page_loads_from_local_assets(page):
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    assert "Digital Academy API" in page.content()
    assert page.external_requests == []
