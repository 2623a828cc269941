"""Pages run under the Content-Security-Policy as a browser enforces it (the `page` fixture fails
on any violation): the NHS.UK script runs by its nonce, and the API docs start Swagger UI from a
static script rather than the inline one flask-smorest ships."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_nhs_template_script_runs_by_its_nonce(page):
    page.goto("/sign-in")
    expect(page.locator("body")).to_have_class(re.compile(r"\bjs-enabled\b"))


def test_the_api_docs_render_under_the_policy(page):
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name=re.compile("Digital Academy API"))).to_be_visible()
    expect(page.get_by_text("/auth/tokens").first).to_be_visible()
