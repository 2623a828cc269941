"""A real server (gunicorn, as in production) on a loopback port, set up the way a new user does
it (`flask db upgrade`, `flask academy demo`), driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from academy.demo import DEMO_TOTP_SECRETS
from tests.dbutil import drop_database, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEMO_PASSWORD = "digital-academy-demo"
#: The live server's key; tests that reproduce a keyed draw (the marking sample) read it here.
LIVE_SECRET_KEY = "browser-tests-secret-key-0123456789abcdef"


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    message = f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run the browser tests, never silently skip them
    pytest.skip(message)


class LiveServer(str):
    """The server's base URL (a plain string to every existing user of `live_server`), which
    also knows the folders the server writes to, so tests can read the mail it sent."""

    tmp: Path
    mail_dir: Path

    def __new__(cls, base_url: str, tmp: Path):
        server = super().__new__(cls, base_url)
        server.tmp = tmp
        server.mail_dir = tmp / "mail"
        return server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    database_url = fresh_database_url("browser", tmp)
    _LIVE_DATABASE["url"] = database_url
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ACADEMY_INSTANCE_DIR": str(tmp / "instance"),
        "SECRET_KEY": LIVE_SECRET_KEY,
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp / "mail"),
        "FLASK_APP": "wsgi",
        # Every journey signs in from 127.0.0.1; the production budget (10 a minute) would turn
        # a fast suite into 429 pages. Rate limiting has its own tests.
        "LOGIN_RATE_LIMIT": "1000 per minute",
    }
    port = _free_port()
    env["ACADEMY_BASE_URL"] = f"http://127.0.0.1:{port}"
    for command in (["db", "upgrade"], ["academy", "demo"]):
        subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    else:
        server.terminate()
        pytest.fail("server did not start: " + (tmp / "server.log").read_text())
    yield LiveServer(base_url, tmp)
    server.terminate()
    server.wait(timeout=10)
    log.close()
    drop_database(database_url)


@pytest.fixture(scope="session")
def mail_dir(live_server) -> Path:
    """Where the live server's file mail backend writes each message as an .eml file."""
    return live_server.mail_dir


@pytest.fixture(scope="session")
def browser():
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)  # a page of this app that takes longer is a failure
    page.external_requests = []

    def note_external(request):
        if not request.url.startswith(live_server) and not request.url.startswith("data:"):
            page.external_requests.append(request.url)

    page.on("request", note_external)
    page.csp_violations = []

    def note_csp_violation(message):
        if "Content Security Policy" in message.text:
            page.csp_violations.append(f"{page.url}: {message.text}")

    page.on("console", note_csp_violation)
    yield page
    context.close()
    # Every page a journey showed ran under the app's Content-Security-Policy without breaking it.
    assert page.csp_violations == []


def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.x A/AA violations axe-core finds on the current page."""
    # Loaded by URL from our own static files: the CSP blocks an inline copy.
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {
                type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
            },
            resultTypes: ['violations']  // no details of what passed: a faster run
        })"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:3],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page) -> None:
    """No serious or critical axe violations on the page now shown, naming the page if any."""
    assert axe_violations(page) == [], page.url


#: Authenticator secrets of the staff the journeys sign in as: the demo's published ones, and any
#: a journey's new staff set up on the way (read off the set-up page, as a person's app would).
TOTP_SECRETS = dict(DEMO_TOTP_SECRETS)
#: The live server's database, for forgetting which code an account last used (below).
_LIVE_DATABASE: dict[str, str] = {}


def fresh_code(email: str) -> str:
    """The account's current code. The server accepts each code once, and the journeys sign the
    same staff in several times a minute; rather than wait for the next 30-second step as a
    person would, forget the step the server last accepted (test set-up, as `login_as` does)."""
    url = _LIVE_DATABASE.get("url")
    if url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                sa.text('UPDATE "user" SET totp_last_step = NULL WHERE email = :email'),
                {"email": email},
            )
        engine.dispose()
    return pyotp.TOTP(TOTP_SECRETS[email]).now()


def otp_fields(email: str) -> dict[str, str]:
    """What a token request adds for an account with two-factor authentication."""
    return {"otp": fresh_code(email)} if email in TOTP_SECRETS else {}


def sign_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form, answering the second step for staff who need one (setting it up
    first for new staff) as a person with an authenticator app would."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    path = urlsplit(page.url).path
    if path == "/sign-in/set-up":
        TOTP_SECRETS[email] = page.locator("#mfa-secret").inner_text().replace(" ", "")
        page.get_by_label("Code from your authenticator app").fill(fresh_code(email))
        page.get_by_role("button", name="Turn on two-factor authentication").click()
        page.get_by_role("button", name="I have saved my codes").click()
    elif path == "/sign-in/verify":
        page.get_by_label("Code from your authenticator app").fill(fresh_code(email))
        page.get_by_role("button", name="Continue").click()


def sign_in_as(page, email: str) -> None:
    """Sign in afresh as `email` (dropping whoever was signed in) and wait for the account page."""
    page.context.clear_cookies()
    sign_in(page, email)
    page.wait_for_url(re.compile(r"/account$"))


def expect_page(page, heading: str) -> None:
    """Wait for the page whose h1 is `heading`, so nothing (axe above all) runs on the page being
    left behind."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def open_menu(page, name: str) -> None:
    """Follow a link of the header's role-aware menu, opening its "More" list first when the
    link is one the header has folded away for lack of room (as a person would)."""
    link = page.get_by_role("navigation").get_by_role("link", name=name, exact=True).first
    if not link.is_visible():
        page.locator(".nhsuk-header__menu-toggle").click()
    link.click()
