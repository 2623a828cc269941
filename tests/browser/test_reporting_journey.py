"""Issue 7's "done when", through the real pages: a sponsor sees their trust's dashboard with its
charts and at-risk list, downloads CSV and Excel files that open cleanly, and cannot reach
another trust's data by any URL or API call. A learner's choice to share her marks changes what
the sponsor sees at once, and is audited. Summary emails, the academy's own reports and a tutor's
caseload work in a browser too.

The demo supplies the trust: Guy's and St Thomas' (RJ1) sponsors Dr Priya Shah and Liam Evans in
"2026 autumn", and Dr Hannah Clarke, who passed four modules and holds the award, in the finished
"2025 autumn". Other journeys sign Priya and Liam in and mark their work, so what this journey
asserts about them holds either way. For an at-risk learner that nothing else touches, it brings
its own: a newcomer in a cohort of their own whose deadline has passed with nothing handed in.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

import openpyxl
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from academy.core.calendar import UK_TIME
from tests.browser.conftest import (
    DEMO_PASSWORD,
    assert_accessible,
    expect_page,
    open_menu,
    otp_fields,
    sign_in_as,
)
from tests.dbutil import postgres_base_url

pytestmark = pytest.mark.browser

SPONSOR = "sponsor@academy.example"
ADMIN = "admin@academy.example"
TUTOR = "tutor@academy.example"
HANNAH = ("hannah.clarke@academy.example", "Dr Hannah Clarke")
GRACE = ("grace.adeyemi@academy.example", "Grace Adeyemi")  # staff of RRK, not RJ1
TRUST = ("RJ1", "Guy's and St Thomas' NHS Foundation Trust")
OTHER_TRUSTS = ("RRK", "R0A", "RX4", "QWE", "7A4")
AWARD = "Postgraduate Certificate in Digital Health Leadership"
#: Hannah's module marks in the demo's finished cohort, all released with the same feedback.
HANNAH_MARKS = {"DHL701": 72, "DHL702": 68, "DHL703": 61, "DHL704": 74}
HANNAH_FEEDBACK = "Well argued, with good use of NHS examples."
#: ESR assignment numbers are text: the leading zeros must survive every export.
HANNAH_STAFF_NUMBER = "00412345"
NO_ACTIVITY = "No activity for 4 weeks or more"
STAFF_CREDENTIAL_HEADER = [
    "staff_number",
    "professional_registration",
    "name",
    "email",
    "credential",
    "kind",
    "issuer",
    "issued_on",
    "expires_on",
    "status",
    "verification",
    "verification_url",
]
PERSON_HEADER = STAFF_CREDENTIAL_HEADER[:4]
EXPORT_LINKS = {
    ("staff-credentials", "csv"): "Staff credentials (CSV)",
    ("staff-credentials", "xlsx"): "Staff credentials (Excel)",
    ("progress", "csv"): "Learners’ progress (CSV)",
    ("progress", "xlsx"): "Learners’ progress (Excel)",
}


# --- what the journey sets up through the admin API ----------------------------------------------


@dataclass(frozen=True)
class Newcomer:
    """An RJ1 learner who missed a deadline: their name is what someone attacking a sponsor's
    spreadsheet might type, so the exports must show it as text."""

    user_id: int
    name: str
    staff_number: str
    cohort: str
    assignment: str

    @property
    def missed_deadline(self) -> str:
        return f"Missed the deadline for “{self.assignment}” with no extension"


@dataclass(frozen=True)
class Demo:
    organisations: dict[str, int]  # ODS code → id
    hannah_id: int
    grace_id: int
    newcomer: Newcomer


def _token(api, email: str) -> dict[str, str]:
    answer = api.post(
        "/api/v1/auth/tokens",
        data={
            "email": email,
            "password": DEMO_PASSWORD,
            "label": "reporting journey",
            **otp_fields(email),
        },
    )
    assert answer.status == 201, answer.text()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _get_json(api, path: str, headers: dict, **params):
    answer = api.get(path, headers=headers, params=params or None)
    assert answer.status == 200, f"{path}: {answer.status} {answer.text()}"
    return answer.json()


def _post_json(api, path: str, headers: dict, data: dict) -> dict:
    answer = api.post(path, headers=headers, data=data)
    assert answer.status == 201, f"{path}: {answer.status} {answer.text()}"
    return answer.json()


def _user_id(api, admin: dict, email: str) -> int:
    (user,) = _get_json(api, "/api/v1/users", admin, q=email)
    return user["id"]


def _give_staff_number(api, admin: dict, user_id: int, staff_number: str) -> None:
    user = _get_json(api, f"/api/v1/users/{user_id}", admin)
    if user["staff_number"] == staff_number:
        return
    answer = api.patch(
        f"/api/v1/users/{user_id}",
        headers=admin,
        data={"staff_number": staff_number, "version": user["version"]},
    )
    assert answer.status == 200, answer.text()


def _enrol_a_newcomer_who_missed_a_deadline(api, admin: dict, trust_id: int) -> Newcomer:
    suffix = uuid.uuid4().hex[:6].upper()
    today = datetime.now(UK_TIME).date()
    starts_on, ends_on = today - timedelta(days=70), today + timedelta(days=200)
    programmes = _get_json(api, "/api/v1/programmes", admin, per_page=100)
    (programme,) = [p for p in programmes if p["code"] == "PGCDHL"]
    (module,) = [
        m for m in _get_json(api, "/api/v1/modules", admin, per_page=100) if m["code"] == "DHL701"
    ]
    cohort = _post_json(api, "/api/v1/cohorts", admin, {
        "programme_id": programme["id"],
        "name": f"Reporting journey {suffix}",
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "capacity": 5,
        "modules": [
            {"module_id": module["id"], "starts_on": starts_on.isoformat(),
             "ends_on": ends_on.isoformat()},
        ],
    })  # fmt: skip
    due = datetime.combine(today - timedelta(days=14), time(12), tzinfo=UTC)
    assignment = _post_json(api, "/api/v1/assignments", admin, {
        "cohort_id": cohort["id"],
        "module_id": module["id"],
        "title": f"Reflective log {suffix}",
        "opens_at": (due - timedelta(days=30)).isoformat(),
        "due_at": due.isoformat(),
    })  # fmt: skip
    learner = _post_json(api, "/api/v1/users", admin, {
        "email": f"roisin.{suffix.lower()}@trust.test",
        "name": f'=HYPERLINK("https://example.invalid","Róisín Ní Bhriain {suffix}")',
        "password": f"{DEMO_PASSWORD}-{suffix}",
        "organisation_id": trust_id,
        "staff_number": f"00{uuid.uuid4().int % 10**6:06d}",
    })  # fmt: skip
    _post_json(api, f"/api/v1/cohorts/{cohort['id']}/enrolments", admin, {
        "user_id": learner["id"], "sponsor_organisation_id": trust_id,
    })  # fmt: skip
    return Newcomer(
        user_id=learner["id"],
        name=learner["name"],
        staff_number=learner["staff_number"],
        cohort=cohort["name"],
        assignment=assignment["title"],
    )


@pytest.fixture(scope="module")
def demo(browser, live_server) -> Demo:
    """The ids the journey needs, looked up as an integration would, and its own at-risk
    learner. Hannah gets a staff number, as ESR would give her, so the exports have a key."""
    context = browser.new_context(base_url=live_server)
    try:
        api = context.request
        admin = _token(api, ADMIN)
        organisations = {
            o["ods_code"]: o["id"]
            for o in _get_json(api, "/api/v1/organisations", admin, per_page=100)
        }
        hannah_id = _user_id(api, admin, HANNAH[0])
        _give_staff_number(api, admin, hannah_id, HANNAH_STAFF_NUMBER)
        return Demo(
            organisations=organisations,
            hannah_id=hannah_id,
            grace_id=_user_id(api, admin, GRACE[0]),
            newcomer=_enrol_a_newcomer_who_missed_a_deadline(api, admin, organisations["RJ1"]),
        )
    finally:
        context.close()


# --- pages -------------------------------------------------------------------------------------


def _summary_value(scope, key: str):
    return scope.locator(".nhsuk-summary-list__row", has_text=key).locator(
        ".nhsuk-summary-list__value"
    )


def _rows_of(table) -> list[list[str]]:
    """Each body row's cells as a screen reader hears them: without the column headings the
    responsive table repeats (hidden from assistive technology) in every cell."""
    return table.locator("tbody tr").evaluate_all(
        """rows => rows.map(row => [...row.cells].map(cell => {
            const copy = cell.cloneNode(true);
            copy.querySelectorAll('[aria-hidden="true"]').forEach(hidden => hidden.remove());
            return copy.textContent.replace(/\\s+/g, ' ').trim();
        }))"""
    )


def _at_risk(page) -> list[tuple[str, list[str]]]:
    """(learner, reasons) of each entry in the dashboard's at-risk list."""
    return [
        (entry["name"], entry["reasons"])
        for entry in page.locator("#at-risk + ul > li").evaluate_all(
            """items => items.map(item => ({
                name: item.querySelector(':scope > a').textContent.trim(),
                reasons: [...item.querySelectorAll(':scope > ul > li')]
                    .map(reason => reason.textContent.trim()),
            }))"""
        )
    ]


def _learners_table(page):
    return page.get_by_role("table", name=re.compile(r"^Sponsored enrolments \("))


def _open_dashboard(page) -> None:
    open_menu(page, "Trust dashboard")
    expect_page(page, TRUST[1])


def _chart(page, title: str):
    """The table of figures beside a chart drawn on the server: an SVG image named by its title."""
    image = page.get_by_role("img", name=title, exact=True)
    expect(image).to_be_visible()
    assert image.evaluate("element => element.tagName") == "svg"
    return page.get_by_role("table", name=f"{title}: the figures")


def _figures(table) -> dict[str, int]:
    return {label: int(value) for label, value in _rows_of(table)}


@contextmanager
def _another_browser(browser, live_server):
    """A second person's browser beside the test's own page, watched for outside requests."""
    context = browser.new_context(base_url=live_server)
    other = context.new_page()
    other.set_default_timeout(10_000)
    other.external_requests = []

    def note_external(request):
        if not request.url.startswith((live_server, "data:")):
            other.external_requests.append(request.url)

    other.on("request", note_external)
    try:
        yield other
    finally:
        context.close()


def _live_database_url(live_server) -> str:
    """The live server's database, found where tests/browser/conftest.py made it, to read what
    no page shows: the audit trail."""
    base = postgres_base_url()
    if base is None:
        return f"sqlite:///{live_server.tmp / 'browser.db'}"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path=academy_browser_{os.getpid()}')}"


def _consent_audit(live_server, user_id: int) -> list[tuple[int, int | None, dict | None]]:
    """(event id, actor, after) of each marks-consent change of the user, oldest first."""
    engine = sa.create_engine(_live_database_url(live_server))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, actor_id, after FROM audit_event WHERE action = :action "
                    "AND object_type = 'user' AND object_id = :user_id ORDER BY id"
                ),
                {"action": "user.marks_consent", "user_id": str(user_id)},
            ).all()
    finally:
        engine.dispose()
    return [
        (event_id, actor_id, json.loads(after) if isinstance(after, str) else after)
        for event_id, actor_id, after in rows
    ]


# --- the journeys ------------------------------------------------------------------------------


def test_sponsor_sees_their_trusts_dashboard_with_charts_and_the_learners_at_risk(page, demo):
    newcomer = demo.newcomer
    sign_in_as(page, SPONSOR)
    _open_dashboard(page)  # a sponsor of one trust goes straight to its dashboard
    assert page.url.endswith(f"/organisations/{demo.organisations['RJ1']}/dashboard")
    expect(page.get_by_text(f"Trust dashboard · {TRUST[0]}")).to_be_visible()

    # Headline numbers and coverage against the trust's target of five: Hannah holds the award.
    expect(_summary_value(page, "Credentialed staff")).to_have_text("1 of 5 credentialed")
    expect(page.locator("#coverage + p")).to_have_text("1 of 5 credentialed")
    expect(page.get_by_role("img", name="Coverage: 1 of 5 credentialed")).to_be_visible()
    learners = _rows_of(_learners_table(page))
    expect(_summary_value(page, "Learners sponsored")).to_have_text(
        str(len({row[0] for row in learners}))
    )
    for other_trusts_staff in ("Grace Adeyemi", "Dr Amira Haddad", "Owen Price", "Jack Murphy"):
        expect(page.get_by_text(other_trusts_staff)).to_have_count(0)

    # The at-risk list, with reasons, agrees with every learner's row.
    at_risk = _at_risk(page)
    expect(page.get_by_role("heading", name=f"Learners at risk ({len(at_risk)})")).to_be_visible()
    reasons = {}
    for name, why in at_risk:
        reasons.setdefault(name, []).extend(why)
    assert newcomer.missed_deadline in reasons[newcomer.name], reasons
    rows = {(row[0], row[1]): row for row in learners}
    newcomer_row = rows[(newcomer.name, newcomer.cohort)]
    assert newcomer_row[6] == "1"  # missing
    assert newcomer_row[8] == "At risk"
    assert {name for name, _ in at_risk} == {row[0] for row in learners if row[8] == "At risk"}
    # The demo's autumn learners were enrolled today, and the graduate's cohort has ended:
    # weeks of silence cannot have passed for any of them, signed in or not.
    for name in ("Dr Priya Shah", "Liam Evans", "Dr Hannah Clarke"):
        assert NO_ACTIVITY not in reasons.get(name, []), (name, reasons)

    # Charts drawn on the server, each with its figures as a table.
    progress = _chart(page, "Learners by progress")
    figures = _figures(progress)
    assert list(figures) == ["At risk", "Work missing", "Late work", "On track", "Finished"]
    assert figures["At risk"] == len(at_risk)
    assert sum(figures.values()) == len(learners)
    trend = _chart(page, "Credentialed staff over the last 12 months")
    months = _figures(trend)
    assert len(months) == 12
    assert list(months)[-1] == f"{datetime.now(UK_TIME):%b %Y}"
    for label, count in months.items():  # Hannah's award was issued on 27 July 2026
        assert count == int(datetime.strptime(label, "%b %Y").date() >= date(2026, 7, 1)), months
    expect(page.get_by_role("table", name=re.compile(r"^Held \("))).to_contain_text(AWARD)
    assert_accessible(page)

    # One learner's page, from the at-risk list.
    page.locator("#at-risk + ul > li").get_by_role("link", name=newcomer.name).click()
    expect_page(page, newcomer.name)
    assert page.url.endswith(f"/learners/{newcomer.user_id}")
    expect(_summary_value(page, "Staff number")).to_have_text(newcomer.staff_number)
    expect(_summary_value(page, "Progress")).to_have_text("At risk")
    expect(_summary_value(page, "Needs help because")).to_contain_text(newcomer.missed_deadline)
    expect(_summary_value(page, "Assignments")).to_contain_text("1 missing")
    expect(_summary_value(page, "Marks and feedback")).to_contain_text("Not shared")
    work = page.get_by_role("table", name="Assignments")
    expect(
        work.get_by_role("row", name=re.compile(re.escape(newcomer.assignment)))
    ).to_contain_text("Missing")
    assert_accessible(page)
    page.get_by_role("link", name="Back to the trust dashboard").click()
    expect_page(page, TRUST[1])
    assert page.external_requests == []


def _download(page, export: str, fmt: str):
    """The file behind one of the dashboard's download links, as the browser saved it."""
    with page.expect_download() as download:
        page.get_by_role("link", name=EXPORT_LINKS[export, fmt], exact=True).click()
    today = datetime.now(UK_TIME).date()
    assert download.value.suggested_filename == f"RJ1-{export}-{today:%Y-%m-%d}.{fmt}"
    return download.value.path()


def _csv_rows(path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so spreadsheet programs read it as UTF-8
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    return list(reader.fieldnames), list(reader)


def _workbook_rows(path) -> tuple[list[str], list[dict[str, object]]]:
    """The sheet's header and rows, after checking it opens cleanly: a bold header row, text
    stored as text and nothing a spreadsheet would run."""
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active
    assert sheet.freeze_panes == "A2"
    header_cells = next(sheet.iter_rows(max_row=1))
    assert all(cell.font.bold for cell in header_cells)
    header = [cell.value for cell in header_cells]
    rows = []
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            assert cell.data_type != "f", cell.coordinate
            if isinstance(cell.value, str):
                assert cell.data_type == "s", cell.coordinate
        rows.append(dict(zip(header, [cell.value for cell in cells], strict=True)))
    return header, rows


def _one(rows, **wanted):
    found = [row for row in rows if all(row[key] == value for key, value in wanted.items())]
    assert len(found) == 1, (wanted, rows)
    return found[0]


def test_sponsor_downloads_staff_credentials_and_progress_as_csv_and_excel(page, demo):
    newcomer = demo.newcomer
    quoted_name = "'" + newcomer.name  # a spreadsheet shows it, never runs it
    sign_in_as(page, SPONSOR)
    _open_dashboard(page)

    header, rows = _csv_rows(_download(page, "staff-credentials", "csv"))
    assert header == STAFF_CREDENTIAL_HEADER
    award = _one(rows, staff_number=HANNAH_STAFF_NUMBER, credential=AWARD)
    assert award["name"] == HANNAH[1]
    assert award["email"] == HANNAH[0]
    assert award["professional_registration"] == "GMC 6543210"
    assert award["kind"] == "award"
    assert award["issued_on"] == "2026-07-27"
    assert award["expires_on"] == ""
    assert award["status"] == "valid"
    assert re.fullmatch(r"https?://\S+/credentials/[0-9a-f-]{36}", award["verification_url"])
    modules = [
        r for r in rows if r["staff_number"] == HANNAH_STAFF_NUMBER and r["kind"] == "module"
    ]
    assert sorted(row["credential"].split()[0] for row in modules) == sorted(HANNAH_MARKS)
    assert GRACE[0] not in {row["email"] for row in rows}  # another trust's staff

    header, rows = _workbook_rows(_download(page, "staff-credentials", "xlsx"))
    assert header == STAFF_CREDENTIAL_HEADER
    award = _one(rows, staff_number=HANNAH_STAFF_NUMBER, credential=AWARD)
    assert award["name"] == HANNAH[1]
    assert award["kind"] == "award"
    assert award["status"] == "valid"
    assert award["issued_on"].date() == date(2026, 7, 27)  # a date, not text
    assert award["expires_on"] is None

    header, rows = _csv_rows(_download(page, "progress", "csv"))
    assert header[:4] == PERSON_HEADER
    assert {"progress_status", "risks", "credits_earned", "submissions_missing"} <= set(header)
    missed = _one(rows, staff_number=newcomer.staff_number)
    assert missed["name"] == quoted_name
    assert missed["cohort"] == newcomer.cohort
    assert missed["enrolment_status"] == "active"
    assert missed["progress_status"] == "at_risk"
    assert missed["submissions_missing"] == "1"
    assert newcomer.missed_deadline in missed["risks"]
    graduate = _one(rows, staff_number=HANNAH_STAFF_NUMBER, cohort="2025 autumn")
    assert (graduate["credits_earned"], graduate["credits_required"]) == ("60", "60")
    assert (graduate["modules_passed"], graduate["submissions_on_time"]) == ("4", "4")

    header, rows = _workbook_rows(_download(page, "progress", "xlsx"))
    assert header[:4] == PERSON_HEADER
    missed = _one(rows, staff_number=newcomer.staff_number)
    assert missed["name"] == quoted_name
    assert missed["progress_status"] == "at_risk"
    assert missed["submissions_missing"] == 1  # a number, not text
    graduate = _one(rows, staff_number=HANNAH_STAFF_NUMBER, cohort="2025 autumn")
    assert graduate["credits_earned"] == 60

    # What each column holds, for whoever sets up the HR system's import.
    page.get_by_role("link", name="What the exports contain").click()
    expect_page(page, "Reports to download")
    expect(page.get_by_role("table", name="Staff credentials columns")).to_contain_text(
        "ESR assignment number"
    )
    assert_accessible(page)
    assert page.external_requests == []


def test_sponsor_cannot_reach_another_trusts_data_by_any_url_or_api_call(page, demo):
    trust, rrk, grace = demo.organisations["RJ1"], demo.organisations["RRK"], demo.grace_id
    sign_in_as(page, SPONSOR)

    # Pages: each answers "Page not found", never the other trust's data.
    pages = [
        f"/organisations/{rrk}/dashboard",
        f"/organisations/{rrk}/learners/{grace}",
        f"/organisations/{trust}/learners/{grace}",  # another trust's learner under our own
        f"/organisations/{rrk}/reports/exports",
        f"/organisations/{rrk}",
        *(f"/organisations/{demo.organisations[ods]}/dashboard" for ods in OTHER_TRUSTS),
    ]
    for path in pages:
        response = page.goto(path)
        assert response.status == 404, path
        expect_page(page, "Page not found")
        expect(page.get_by_text(GRACE[1])).to_have_count(0)
    assert_accessible(page)
    downloads = [f"/organisations/{rrk}/reports/{export}.{fmt}" for export, fmt in EXPORT_LINKS]
    for path in downloads:
        response = page.request.get(path)
        assert response.status == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "content-disposition" not in response.headers, path

    # Only their own trust is offered.
    page.goto("/organisations/dashboards")
    expect_page(page, TRUST[1])

    # The API, with the sponsor's own token.
    sponsor = _token(page.request, SPONSOR)

    def api_get(path: str, **params):
        return page.request.get(path, headers=sponsor, params=params or None)

    for path in [
        f"/api/v1/organisations/{rrk}/dashboard",
        *(f"/api/v1/organisations/{rrk}/reports/{export}.{fmt}" for export, fmt in EXPORT_LINKS),
        *(f"/api/v1/organisations/{demo.organisations[ods]}/dashboard" for ods in OTHER_TRUSTS),
        f"/api/v1/users/{grace}",
    ]:
        answer = api_get(path)
        assert answer.status == 404, path
        assert answer.json()["code"] == 404, path
        assert GRACE[1] not in answer.text(), path
    for path in ("/api/v1/results", "/api/v1/credentials"):
        answer = api_get(path, user_id=grace)
        assert answer.status == 200, path
        assert answer.json() == [], path
    assert [o["ods_code"] for o in _get_json(page.request, "/api/v1/organisations", sponsor)] == [
        "RJ1"
    ]
    own = api_get(f"/api/v1/organisations/{trust}/dashboard")
    assert own.status == 200, own.text()
    assert HANNAH[1] in own.text()
    assert GRACE[1] not in own.text()
    assert page.external_requests == []


def _hannahs_page_for_the_sponsor(page, demo) -> None:
    page.goto(f"/organisations/{demo.organisations['RJ1']}/learners/{demo.hannah_id}")
    expect_page(page, HANNAH[1])


def _module_outcomes(page):
    return page.get_by_role("table", name="Module outcomes")


def _results_as_sponsor(page, sponsor: dict, hannah_id: int) -> list[dict]:
    results = _get_json(page.request, "/api/v1/results", sponsor, user_id=hannah_id)
    assert len(results) == 4
    return results


def _choose_sharing(learner, choice: str, confirmation: str) -> None:
    learner.get_by_role("link", name="Change who sees your marks").click()
    expect_page(learner, "Sharing your marks with your sponsor")
    expect(learner.get_by_text(f"sponsored by {TRUST[1]}")).to_be_visible()
    assert_accessible(learner)
    learner.get_by_label(choice).check()
    learner.get_by_role("button", name="Save").click()
    expect_page(learner, "Your account")
    expect(learner.get_by_text(confirmation)).to_be_visible()


def test_a_learners_choice_to_share_marks_changes_what_the_sponsor_sees_at_once_and_is_audited(
    page, browser, live_server, demo
):
    audited_before = [event_id for event_id, _, _ in _consent_audit(live_server, demo.hannah_id)]
    sign_in_as(page, SPONSOR)
    sponsor = _token(page.request, SPONSOR)
    _hannahs_page_for_the_sponsor(page, demo)
    expect(_summary_value(page, "Marks and feedback")).to_contain_text("Not shared")
    expect(_module_outcomes(page)).to_contain_text("Passed")
    expect(page.get_by_role("columnheader", name="Module mark")).to_have_count(0)
    expect(page.get_by_text(HANNAH_FEEDBACK)).to_have_count(0)
    assert all(
        "mark" not in result for result in _results_as_sponsor(page, sponsor, demo.hannah_id)
    )

    with _another_browser(browser, live_server) as learner:
        sign_in_as(learner, HANNAH[0])
        expect(learner.get_by_text("but not your marks or feedback")).to_be_visible()
        _choose_sharing(
            learner,
            "Yes, let them see my marks and feedback",
            "Your sponsors can now see your marks and feedback",
        )
        expect(
            learner.get_by_text("Your sponsoring organisation can see your marks and feedback.")
        ).to_be_visible()

        # The sponsor's next look shows her marks and released feedback.
        page.reload()
        expect_page(page, HANNAH[1])
        expect(_summary_value(page, "Marks and feedback")).to_have_text(
            "Shared with sponsors by the learner"
        )
        outcomes = _module_outcomes(page)
        for code, mark in HANNAH_MARKS.items():
            expect(outcomes.get_by_role("row", name=re.compile(code))).to_contain_text(f"{mark}%")
            expect(
                page.get_by_role("heading", name=f"{code} assessed essay: {mark} out of 100")
            ).to_be_visible()
        expect(page.get_by_text(HANNAH_FEEDBACK)).to_have_count(len(HANNAH_MARKS))
        assert_accessible(page)
        marks = [r["mark"] for r in _results_as_sponsor(page, sponsor, demo.hannah_id)]
        assert sorted(marks) == sorted(HANNAH_MARKS.values())
        progress = page.request.get(
            f"/organisations/{demo.organisations['RJ1']}/reports/progress.csv"
        )
        exported = list(csv.DictReader(io.StringIO(progress.body().decode("utf-8-sig"))))
        graduate = _one(exported, staff_number=HANNAH_STAFF_NUMBER, cohort="2025 autumn")
        assert {code: graduate[f"mark_{code}"] for code in HANNAH_MARKS} == {
            code: str(mark) for code, mark in HANNAH_MARKS.items()
        }
        _open_dashboard(page)
        row = _learners_table(page).get_by_role("row", name=re.compile(HANNAH[1]))
        expect(row).to_contain_text("DHL701: 72% (passed)")

        # She changes her mind: the marks are gone from the sponsor's next look.
        _choose_sharing(
            learner,
            "No, they see only whether I passed and my credits",
            "Your sponsors now see only whether you passed and your credits",
        )
        assert learner.external_requests == []

    _hannahs_page_for_the_sponsor(page, demo)
    expect(_summary_value(page, "Marks and feedback")).to_contain_text("Not shared")
    expect(page.get_by_role("columnheader", name="Module mark")).to_have_count(0)
    expect(page.get_by_text(HANNAH_FEEDBACK)).to_have_count(0)
    expect(page.get_by_text("72%")).to_have_count(0)
    assert all(
        "mark" not in result for result in _results_as_sponsor(page, sponsor, demo.hannah_id)
    )

    # Both changes are in the audit trail, made by Hannah herself.
    changes = [
        (actor, after)
        for event_id, actor, after in _consent_audit(live_server, demo.hannah_id)
        if event_id not in audited_before
    ]
    assert changes == [
        (demo.hannah_id, {"shares_marks_with_sponsor": True}),
        (demo.hannah_id, {"shares_marks_with_sponsor": False}),
    ]
    assert page.external_requests == []


def test_sponsor_chooses_weekly_summary_emails(page):
    sign_in_as(page, SPONSOR)
    page.get_by_role("link", name="Choose how often you get them").click()
    expect_page(page, "Summary emails")
    assert_accessible(page)
    choices = page.get_by_role("group", name=f"{TRUST[1]} ({TRUST[0]})")
    choices.get_by_label("Every week").check()
    page.get_by_role("button", name="Save").click()
    expect_page(page, "Summary emails")
    expect(page.get_by_text("Your summary email choices have been saved")).to_be_visible()
    expect(choices.get_by_label("Every week")).to_be_checked()
    expect(choices.get_by_label("Every month")).not_to_be_checked()
    assert_accessible(page)
    sponsor = _token(page.request, SPONSOR)
    (subscription,) = _get_json(page.request, "/api/v1/me/report-subscriptions", sponsor)
    assert subscription["organisation"]["ods_code"] == TRUST[0]
    assert subscription["frequency"] == "weekly"
    assert page.external_requests == []


def test_admin_opens_an_academy_report_and_its_csv_and_a_tutor_their_caseload(page):
    sign_in_as(page, ADMIN)
    open_menu(page, "Academy reports")
    expect_page(page, "Academy reports")
    assert_accessible(page)
    page.get_by_role("link", name="Credentials by region, sector and nation").click()
    expect_page(page, "Credentials by region, sector and nation")
    figures_table = _chart(page, "Credentials held by region or nation")
    figures = _figures(figures_table)
    assert figures["London"] >= 7  # RJ1's staff: Hannah's five, her external one, Priya's
    assert figures["Wales"] >= 1  # 7A4: Rhys's passes (one may be revoked by another journey)
    regions = page.get_by_role("region", name=re.compile(r"by nhs england region"))
    table = regions.get_by_role("table")
    london = [row for row in _rows_of(table) if row[0] == "London"]
    assert london and int(london[0][1]) == figures["London"]
    assert_accessible(page)

    with page.expect_download() as download:
        page.get_by_role(
            "link", name=re.compile(r"^Download this table as CSV \(by nhs england region")
        ).click()
    assert re.fullmatch(
        r"credentials-regions-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename
    )
    header, rows = _csv_rows(download.value.path())
    assert header[:2] == ["Region or nation", "Held (valid)"]
    assert _one(rows, **{"Region or nation": "London"})["Held (valid)"] == str(figures["London"])

    sign_in_as(page, TUTOR)
    open_menu(page, "Caseload")
    expect_page(page, "Caseload")
    expect(page.get_by_role("heading", name="Your caseload")).to_be_visible()
    cohorts = page.get_by_role("table", name="Cohorts in your caseload")
    autumn = [row for row in _rows_of(cohorts) if row[0].endswith(": 2026 autumn")]
    assert len(autumn) == 1 and autumn[0][1] == "4", autumn  # its four active learners
    expect(cohorts.get_by_role("link", name="Gradebook for 2026 autumn")).to_be_visible()
    expect(page.get_by_text("Ada Okafor")).to_have_count(0)  # only their own caseload
    assert_accessible(page)
    assert page.external_requests == []
