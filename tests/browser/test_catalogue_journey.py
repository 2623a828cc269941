"""Issue 3's "done when", through the real pages: an admin builds a programme, its content and a
cohort and imports a whole intake from a CSV file; a learner ticks off module content; a tutor sees
their cohorts; a sponsor sees only their own staff, in HTML and in the API.

The live server is shared by the whole session, so everything a journey creates carries its own
suffix and no journey relies on another having run (or not).
"""

import csv
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DEMO_PASSWORD,
    assert_accessible,
    expect_page,
    open_menu,
    otp_fields,
    sign_in_as,
)

pytestmark = pytest.mark.browser

TRUSTS = {
    "RJ1": "Guy's and St Thomas' NHS Foundation Trust",
    "RRK": "University Hospitals Birmingham NHS Foundation Trust",
    "R0A": "Manchester University NHS Foundation Trust",
}
COLUMNS = ["email", "name", "organisation_ods", "professional_registration", "staff_number"]


def _write_csv(path, rows: list[list[str]]) -> str:
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # Excel's "CSV UTF-8"
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return str(path)


def _learner_rows(suffix: str, count: int, start: int = 1) -> list[list[str]]:
    """Learners spread across three trusts; each name carries its trust's ODS code, so any page
    can tell whose staff it shows."""
    codes = list(TRUSTS)
    rows = []
    for number in range(start, start + count):
        ods = codes[number % len(codes)]
        rows.append([
            f"learner{number:02d}.{suffix.lower()}@trust.test",
            f"Learner {number:02d} {ods} {suffix}",
            ods,
            f"NMC {number:02d}A{suffix[:4]}E" if number % 2 else "",
            f"S{number:05d}",
        ])  # fmt: skip
    return rows


def _rows_of(table) -> list[list[str]]:
    """The text of each body row's cells, as a screen reader hears them: without the column
    headings the responsive table repeats (hidden from assistive technology) in every cell."""
    return table.locator("tbody tr").evaluate_all(
        """rows => rows.map(row => [...row.cells].map(cell => {
            const copy = cell.cloneNode(true);
            copy.querySelectorAll('[aria-hidden="true"]').forEach(hidden => hidden.remove());
            return copy.textContent.replace(/\\s+/g, ' ').trim();
        }))"""
    )


def _names_in(table) -> set[str]:
    return {row[0] for row in _rows_of(table)}


def _add_module(page, code: str, title: str, topic: str) -> None:
    page.goto("/modules")
    expect_page(page, "Modules")
    page.get_by_role("button", name="Add a module").click()
    expect_page(page, "Add a module")
    assert_accessible(page)
    page.get_by_label("Code").fill(code)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Topic").select_option(label=topic)
    page.get_by_label("Credits").fill("15")
    page.get_by_label("Learning outcomes").fill("Explain the idea\nApply it in a trust")
    page.get_by_label("Summary").fill(f"A module on {topic.lower()}.")
    page.get_by_role("button", name="Add module").click()
    expect_page(page, title)
    expect(page.get_by_text(f"{title} ({code}) has been added")).to_be_visible()
    assert_accessible(page)


def test_admin_builds_a_programme_with_content_opens_a_cohort_and_imports_an_intake(page, tmp_path):
    suffix = uuid.uuid4().hex[:6].upper()
    informatics = (f"INF-{suffix}", f"Clinical records and their uses {suffix}")
    change = (f"CHG-{suffix}", f"Leading a go-live {suffix}")
    programme_code, programme_title = f"PGC-{suffix}", f"Digital Records Leadership {suffix}"
    cohort_name = f"2027 autumn {suffix}"
    sign_in_as(page, "admin@academy.example")

    # Two new modules, one per topic, through the module pages.
    _add_module(page, *informatics, "Health informatics")
    _add_module(page, *change, "Change management")

    # A programme offering both, one of them core.
    page.goto("/programmes")
    expect_page(page, "Programmes")
    assert_accessible(page)
    page.get_by_role("button", name="Add a programme").click()
    expect_page(page, "Add a programme")
    assert_accessible(page)
    page.get_by_label("Code").fill(programme_code)
    page.get_by_label("Title", exact=True).fill(programme_title)
    page.get_by_label("Award title").fill(f"Postgraduate Certificate in {programme_title}")
    page.get_by_label("Credits required").fill("30")
    offered = page.get_by_role("group", name="Modules offered")
    core = page.get_by_role("group", name="Core modules")
    for code, title in (informatics, change):
        offered.get_by_label(f"{code} {title}").check()
    core.get_by_label(f"{informatics[0]} {informatics[1]}").check()
    page.get_by_role("button", name="Add programme").click()
    expect_page(page, programme_title)
    modules_table = page.get_by_role("table", name="Modules (2)")
    expect(modules_table.get_by_role("row", name=re.compile(informatics[0]))).to_contain_text(
        "Core"
    )
    expect(modules_table.get_by_role("row", name=re.compile(change[0]))).to_contain_text("Optional")
    assert_accessible(page)

    # Content for the informatics module: a section holding a Markdown page and a link.
    page.get_by_role("link", name=f"Learning content for {informatics[1]}").click()
    expect_page(page, informatics[1])
    expect(page.get_by_text("There is no learning content for this module yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Add a section").click()
    expect_page(page, "Add a section")
    assert_accessible(page)
    section = "Week 1: The record as evidence"
    page.get_by_label("Section title").fill(section)
    page.get_by_label("Summary").fill("Read the page, then follow the **link**.")
    page.get_by_role("button", name="Add section").click()
    expect(page.get_by_role("heading", level=2, name=section)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name=f"page to {section}").click()
    expect_page(page, "Add a page")
    assert_accessible(page)
    page.get_by_label("Title").fill("Reading a discharge summary")
    page.get_by_label("Format").select_option("markdown")
    page.get_by_label("Text").fill(
        "## What to look for\n\nA **discharge summary** tells the GP:\n\n"
        "- what happened\n- what to do next\n\n<script>window.pwned = true</script>"
    )
    page.get_by_role("button", name="Add page").click()
    expect(page.get_by_text("Reading a discharge summary has been added")).to_be_visible()
    page.get_by_role("link", name=f"link to {section}").click()
    expect_page(page, "Add a link")
    assert_accessible(page)
    page.get_by_label("Title").fill("NHS England digital technology")
    page.get_by_label("Web address").fill("https://www.england.nhs.uk/digitaltechnology/")
    page.get_by_label("Description").fill("Where national digital policy is published.")
    page.get_by_role("button", name="Add link").click()
    expect(page.get_by_text("NHS England digital technology has been added")).to_be_visible()
    resources = page.locator(f"section:has(h2:text-is('{section}')) li")
    expect(resources).to_have_count(2)
    expect(page.get_by_text("Website: england.nhs.uk")).to_be_visible()
    assert_accessible(page)

    # The Markdown page reads as formatted text, and the script in it never runs.
    page.get_by_role("link", name="Reading a discharge summary", exact=True).click()
    expect_page(page, "Reading a discharge summary")
    expect(page.get_by_role("heading", level=2, name="What to look for")).to_be_visible()
    expect(page.locator("strong", has_text="discharge summary")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="what to do next")).to_be_visible()
    assert page.evaluate("() => window.pwned") is None
    expect(page.locator("main script")).to_have_count(0)
    assert_accessible(page)

    # A cohort of the programme, running both modules, taught by the demo tutor.
    page.goto("/cohorts")
    expect_page(page, "Cohorts")
    assert_accessible(page)
    page.goto("/cohorts/new")
    expect_page(page, "Open a cohort")
    assert_accessible(page)
    page.get_by_label("Programme").select_option(label=f"{programme_code}: {programme_title}")
    page.get_by_label("Name").fill(cohort_name)
    page.get_by_label("Start date").fill("2027-09-13")
    page.get_by_label("End date").fill("2028-07-14")
    page.get_by_label("Capacity").fill("60")
    page.get_by_label("Nation").select_option(label="England")
    page.get_by_role("button", name="Open cohort").click()
    expect_page(page, cohort_name)
    expect(page.get_by_text("This cohort runs no modules yet.")).to_be_visible()
    assert_accessible(page)
    cohort_url = page.url

    for code, title in (informatics, change):
        page.get_by_role("button", name="Add a module").click()
        expect_page(page, "Add a module")
        assert_accessible(page)
        page.get_by_label("Module").select_option(label=f"{code}: {title}")
        page.get_by_role("button", name="Add module", exact=True).click()
        expect_page(page, cohort_name)
        expect(page.get_by_text(f"{code} has been added to {cohort_name}")).to_be_visible()
    deliveries = page.get_by_role("table", name="Modules (2)")
    expect(deliveries).to_contain_text(informatics[1])
    expect(deliveries).to_contain_text(change[1])
    expect(page.get_by_role("button", name="Add a module")).to_have_count(0)  # none left to add

    page.get_by_role("button", name="Assign a tutor").click()
    expect_page(page, "Assign a tutor")
    assert_accessible(page)
    page.get_by_label("Tutor's email address").fill("tutor@academy.example")
    page.get_by_role("button", name="Assign tutor").click()
    expect_page(page, cohort_name)
    expect(page.get_by_text(f"Dr Tomasz Nowak now teaches {cohort_name}")).to_be_visible()
    expect(page.get_by_role("table", name="Tutors (1)")).to_contain_text("tutor@academy.example")
    assert_accessible(page)

    # Thirty learners from three trusts in one CSV file: checked, previewed, then imported.
    intake = _write_csv(tmp_path / "intake.csv", _learner_rows(suffix, 30))
    page.get_by_role("button", name="Import learners from a CSV file").click()
    expect_page(page, "Import learners from a CSV file")
    expect(page.get_by_text("60 of 60 places left in this cohort.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Upload a CSV file").set_input_files(intake)
    page.get_by_role("button", name="Check the file").click()
    expect_page(page, "Check the learners to import")
    expect(page.get_by_text("Nothing has been saved yet.")).to_be_visible()
    preview = page.get_by_role("table", name="Learners in the file (30)")
    expect(preview.locator("tbody tr")).to_have_count(30)
    expect(preview.get_by_text("New account")).to_have_count(30)
    assert_accessible(page)
    page.get_by_role("button", name="Import 30 learners").click()
    expect_page(page, cohort_name)
    expect(
        page.get_by_text(f"30 learners have been enrolled in {cohort_name}: 30 new accounts")
    ).to_be_visible()
    learners = page.get_by_role("table", name="Learners you can see (30)")
    expect(learners.locator("tbody tr")).to_have_count(30)
    for ods, trust in TRUSTS.items():
        expect(learners.get_by_role("row", name=re.compile(f" {ods} {suffix}"))).to_have_count(10)
        expect(learners.get_by_text(trust)).to_have_count(10)
    expect(page.get_by_text("30 of 60 (30 left)")).to_be_visible()
    assert_accessible(page)

    # A file with one bad row (spreadsheet row 5: the header is row 1) imports nothing.
    bad_rows = _learner_rows(suffix, 6, start=31)
    bad_rows[3][2] = "ZZ9"
    bad = _write_csv(tmp_path / "one-bad-row.csv", bad_rows)
    page.get_by_role("button", name="Import learners from a CSV file").click()
    expect_page(page, "Import learners from a CSV file")
    page.get_by_label("Upload a CSV file").set_input_files(bad)
    page.get_by_role("button", name="Check the file").click()
    expect_page(page, "The file cannot be imported")
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Nothing has been imported")
    expect(summary.get_by_role("link")).to_have_text(
        ["Row 5, organisation_ods: No organisation has the ODS code ZZ9"]
    )
    problems = page.get_by_role("table", name="Problems (1)")
    expect(problems.locator("tbody tr")).to_have_count(1)
    assert _rows_of(problems) == [["5", "organisation_ods", "No organisation has the ODS code ZZ9"]]
    expect(page.get_by_role("button", name=re.compile(r"^Import \d+ learners"))).to_have_count(0)
    assert_accessible(page)

    page.goto(cohort_url)
    expect_page(page, cohort_name)
    expect(page.get_by_role("table", name="Learners you can see (30)")).to_be_visible()
    expect(page.get_by_text("30 of 60 (30 left)")).to_be_visible()
    page.goto(f"/users?q={bad_rows[0][0]}")  # the good rows of the bad file made no accounts
    expect_page(page, "Users")
    expect(page.get_by_role("cell", name=bad_rows[0][0])).to_have_count(0)
    expect(page.get_by_text(bad_rows[0][1])).to_have_count(0)
    assert page.external_requests == []


def test_learner_sees_their_programme_and_ticks_a_resource_complete(page):
    sign_in_as(page, "priya.shah@academy.example")
    open_menu(page, "My programme")
    expect_page(page, "My programme")
    expect(page.get_by_role("heading", level=2, name="Digital Health Leadership")).to_be_visible()
    expect(page.get_by_text("2026 autumn, 14 September 2026 to 16 July 2027")).to_be_visible()
    modules = page.get_by_role("table", name="Modules")
    for code in ("DHL701", "DHL702", "DHL703", "DHL704"):
        expect(modules.get_by_role("row", name=re.compile(code))).to_have_count(1)
    informatics_row = modules.get_by_role("row", name=re.compile("DHL701"))
    before = re.search(r"(\d+) of (\d+) done", informatics_row.inner_text())
    assert before, informatics_row.inner_text()
    done, total = int(before[1]), int(before[2])
    assert done < total
    assert_accessible(page)

    informatics_row.get_by_role("link", name="Foundations of health informatics").click()
    expect_page(page, "Foundations of health informatics")
    progress = page.locator("#progress")
    expect(progress).to_contain_text(f"{done} of {total} resources complete")
    expect(page.get_by_role("heading", level=2, name="Week 1: What is a CCIO for?")).to_be_visible()
    assert_accessible(page)

    tick = page.get_by_role("button", name=re.compile(r"^Mark as complete ")).first
    resource = tick.inner_text().removeprefix("Mark as complete").strip()
    tick.click()
    expect(page.get_by_text(f"{resource} is marked as complete")).to_be_visible()
    expect(progress).to_contain_text(f"{done + 1} of {total} resources complete")
    expect(page.get_by_role("button", name=f"Mark as not complete {resource}")).to_be_visible()
    assert_accessible(page)

    open_menu(page, "My programme")
    expect_page(page, "My programme")
    expect(
        page.get_by_role("table", name="Modules").get_by_role("row", name=re.compile("DHL701"))
    ).to_contain_text(f"{done + 1} of {total} done")
    assert page.external_requests == []


def test_tutor_sees_their_cohorts_and_a_sponsor_only_their_own_staff(page):
    sign_in_as(page, "tutor@academy.example")
    open_menu(page, "My cohorts")
    expect_page(page, "My cohorts")
    autumn = page.get_by_role("table", name=re.compile(r"^Learners in 2026 autumn \("))
    spring = page.get_by_role("table", name=re.compile(r"^Learners in 2027 spring \("))
    expect(autumn.locator("tbody tr")).to_have_count(4)
    assert _names_in(autumn) == {
        "Dr Priya Shah",
        "Liam Evans",
        "Grace Adeyemi",
        "Dr Amira Haddad",
    }
    assert _names_in(spring) == {"Owen Price", "Jack Murphy"}
    assert_accessible(page)
    page.get_by_role("link", name="2026 autumn", exact=True).click()
    expect_page(page, "2026 autumn")
    expect(page.get_by_role("table", name="Learners you can see (4)")).to_be_visible()
    assert_accessible(page)

    sign_in_as(page, "sponsor@academy.example")
    open_menu(page, "Our staff")
    expect_page(page, "Our staff on programmes")
    enrolments = page.get_by_role("table", name=re.compile(r"^All enrolments \("))
    rows = _rows_of(enrolments)
    demo_rows = [r for r in rows if r[2] in ("2026 autumn", "2027 spring")]
    assert sorted(r[0] for r in demo_rows) == ["Dr Priya Shah", "Liam Evans"]
    # Learners an admin imported from other trusts (if that journey ran first) stay hidden too.
    assert not [r for r in rows if re.search(r" (RRK|R0A) ", r[0])], rows
    for other_trusts_staff in ("Grace Adeyemi", "Dr Amira Haddad", "Owen Price", "Jack Murphy"):
        expect(page.get_by_text(other_trusts_staff)).to_have_count(0)
    assert_accessible(page)

    # The API answers the same: listing a shared cohort, a sponsor gets only their own staff.
    sponsor = _api_headers(page, "sponsor@academy.example")
    tutor = _api_headers(page, "tutor@academy.example")
    cohorts = page.request.get("/api/v1/cohorts", headers=sponsor)
    assert cohorts.status == 200, cohorts.text()
    cohort_id = next(c["id"] for c in cohorts.json() if c["name"] == "2026 autumn")
    mine = page.request.get(f"/api/v1/cohorts/{cohort_id}/enrolments", headers=sponsor)
    assert mine.status == 200, mine.text()
    assert sorted(e["user"]["name"] for e in mine.json()) == ["Dr Priya Shah", "Liam Evans"]
    assert mine.headers["x-total-count"] == "2"
    organisations = page.request.get("/api/v1/organisations", headers=sponsor).json()
    assert [o["ods_code"] for o in organisations] == ["RJ1"]
    assert {e["sponsor_organisation_id"] for e in mine.json()} == {organisations[0]["id"]}
    everyone = page.request.get(f"/api/v1/cohorts/{cohort_id}/enrolments", headers=tutor)
    assert len(everyone.json()) == 4  # the same cohort, seen by its tutor
    assert page.external_requests == []


def _api_headers(page, email: str) -> dict[str, str]:
    answer = page.request.post(
        "/api/v1/auth/tokens",
        data={
            "email": email,
            "password": DEMO_PASSWORD,
            "label": "browser journey",
            **otp_fields(email),
        },
    )
    assert answer.status == 201, answer.text()
    return {"Authorization": f"Bearer {answer.json()['token']}"}
