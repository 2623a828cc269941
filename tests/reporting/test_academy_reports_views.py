"""The academy reports' pages, CSV exports and API: admins only, filters with clear errors, and
CSV files that hold exactly the table on the page, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from academy.reporting.academy_reports import REPORTS, ReportFilters, build_report
from tests.api import assert_error


@pytest.fixture
def admin(make):
    return make.user("admin")


@pytest.fixture
def hostile_cohort(make):
    """A cohort whose names would run as formulas in a spreadsheet, or as markup on a page."""
    module = make.module(code="DHL799", title="@SUM(1+1)")
    programme = make.programme(modules=[module], title='=HYPERLINK("http://x","y")')
    cohort = make.cohort(programme, name="<script>alert(1)</script>")
    learner = make.learner_in(cohort)
    make.passed(learner, cohort)
    return cohort


def parse_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- who may see them -------------------------------------------------------------------------


def _paths():
    paths = ["/reports/academy"]
    for spec in REPORTS.values():
        paths.append(f"/reports/academy/{spec.key}")
    paths.append("/reports/academy/completion/cohorts.csv")
    return paths


@pytest.mark.parametrize("role", ["learner", "tutor", "sponsor", "examiner"])
def test_only_admins_see_academy_reports(make, login_as, role):
    cohort = make.cohort()
    scope = {"tutor": cohort, "sponsor": make.organisation(), "examiner": cohort.programme}
    client = login_as(make.user(role, scope=scope.get(role)))

    for path in _paths():
        assert client.get(path).status_code == 403, path
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "/reports/academy" not in home


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in _paths():
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.location


def test_admins_see_every_report_and_the_nav_item(admin, login_as):
    client = login_as(admin)
    index = client.get("/reports/academy").get_data(as_text=True)
    assert 'href="/reports/academy"' in index  # the navigation's item
    for spec in REPORTS.values():
        assert spec.title in index
        response = client.get(f"/reports/academy/{spec.key}")
        assert response.status_code == 200, spec.key
        assert spec.title in response.get_data(as_text=True)


def test_an_unknown_report_or_table_is_404(admin, login_as):
    client = login_as(admin)
    assert client.get("/reports/academy/salaries").status_code == 404
    assert client.get("/reports/academy/completion/salaries.csv").status_code == 404
    assert client.get("/reports/academy/salaries/cohorts.csv").status_code == 404


# --- pages and filters ------------------------------------------------------------------------


def test_the_page_shows_the_report_table_and_an_accessible_chart(admin, login_as, hostile_cohort):
    page = login_as(admin).get("/reports/academy/completion").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'role="img"' in page and "Completion rate by cohort" in page
    assert 'href="/reports/academy/completion/cohorts.csv"' in page
    assert 'href="/reports/academy/completion/modules.csv"' in page


def test_filters_narrow_the_report_and_carry_into_the_csv_links(admin, login_as, make):
    kept = make.cohort(name="Kept cohort")
    make.cohort(name="Other cohort")
    client = login_as(admin)

    page = client.get(
        f"/reports/academy/extensions?cohort={kept.id}&date_from=2027-01-01"
    ).get_data(as_text=True)

    table_part = page.split('id="cohorts"')[1]
    assert "Kept cohort" in table_part and "Other cohort" not in table_part
    assert f"/reports/academy/extensions/cohorts.csv?cohort={kept.id}&amp;date_from=2027-01-01" in (
        page
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2027-13-40", "Enter a real date, like 2027-01-31"),
        ("date_from=2027-06-01&date_to=2027-01-01", "The end date must be the same as or after"),
        ("date_from=0099-01-01", "Enter a date from 1900 to 2999"),
        ("cohort=999999", "Choose a cohort from the list"),
        ("programme=abc", "Choose a programme from the list"),
    ],
)
def test_bad_filters_are_clear_errors_not_failures(admin, login_as, query, message):
    client = login_as(admin)

    response = client.get(f"/reports/academy/feedback-turnaround?{query}")

    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "There is a problem" in body and message in body
    csv_response = client.get(f"/reports/academy/feedback-turnaround/cohorts.csv?{query}")
    assert csv_response.status_code == 400


def test_the_credentials_report_filters_by_kind_only(admin, login_as):
    page = login_as(admin).get("/reports/academy/credentials?kind=award").get_data(as_text=True)

    assert 'name="kind"' in page
    assert 'name="cohort"' not in page and 'name="date_from"' not in page
    bad = login_as(admin).get("/reports/academy/credentials?kind=forged")
    assert bad.status_code == 400
    assert "Choose a kind of credential from the list" in bad.get_data(as_text=True)


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(REPORTS))
def test_each_csv_holds_exactly_the_table(admin, login_as, hostile_cohort, key):
    client = login_as(admin)
    report = build_report(key, ReportFilters())

    for table in report.tables:
        response = client.get(f"/reports/academy/{key}/{table.key}.csv")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.headers["Cache-Control"] == "private, no-store"
        lines = parse_csv(response)
        assert lines[0] == table.header
        expected = [
            ["'" + cell if cell[:1] in "=+-@" and cell else cell for cell in row]
            for row in table.text_rows()
        ]
        assert lines[1:] == expected


def test_csv_cells_cannot_run_as_formulas(admin, login_as, hostile_cohort):
    client = login_as(admin)

    cohorts = parse_csv(
        client.get(f"/reports/academy/completion/cohorts.csv?cohort={hostile_cohort.id}")
    )
    modules = parse_csv(
        client.get(f"/reports/academy/completion/modules.csv?cohort={hostile_cohort.id}")
    )

    [row] = cohorts[1:]
    assert row[0] == '\'=HYPERLINK("http://x","y")'
    assert row[1] == "<script>alert(1)</script>"
    assert modules[1][:2] == ["DHL799", "'@SUM(1+1)"]
    for line in cohorts + modules:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_a_csv_follows_the_pages_filters(admin, login_as, make):
    kept = make.cohort(name="Kept cohort")
    make.cohort(name="Other cohort")

    lines = parse_csv(
        login_as(admin).get(f"/reports/academy/completion/cohorts.csv?cohort={kept.id}")
    )

    assert [line[1] for line in lines[1:]] == ["Kept cohort"]


# --- the API ----------------------------------------------------------------------------------


def test_the_api_gives_admins_the_same_tables_with_raw_numbers(api, make, admin):
    cohort = make.cohort(name="API cohort")
    make.learner_in(cohort)

    response = api(admin).get(f"reports/completion?cohort_id={cohort.id}")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["key"] == "completion" and body["title"] == "Completion and pass rates"
    cohorts = next(table for table in body["tables"] if table["key"] == "cohorts")
    assert [column["label"] for column in cohorts["columns"]][:3] == [
        "Programme",
        "Cohort",
        "Enrolments",
    ]
    [row] = cohorts["rows"]
    assert row["cohort"] == "API cohort"
    assert row["enrolments"] == 1 and row["completion_rate"] == 0.0
    assert row["first_attempt_pass_rate"] is None


@pytest.mark.parametrize(
    "path", ["reports/completion", "reports/feedback-turnaround", "reports/credentials",
             "reports/extensions"]
)  # fmt: skip
def test_the_api_refuses_everyone_but_admins(api, make, path):
    assert api(make.user("admin")).get(path).status_code == 200
    assert_error(api(make.user("tutor", scope=make.cohort())).get(path), 403)
    assert_error(api(make.user("sponsor", scope=make.organisation())).get(path), 403)
    assert_error(api().get(path), 401)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("reports/extensions?date_from=2027-02-30", "date_from"),
        ("reports/extensions?date_from=2027-06-01&date_to=2027-01-01", "date_to"),
        ("reports/extensions?date_to=0001-01-01", "date_to"),
        ("reports/completion?cohort_id=0", "cohort_id"),
        ("reports/credentials?kind=forged", "kind"),
    ],
)
def test_the_api_refuses_bad_filters(api, admin, path, field):
    assert_error(api(admin).get(path), 422, field)


def test_dates_reach_the_report(api, admin, make):
    make.cohort(name="Early", starts_on=date(2026, 1, 5), ends_on=date(2026, 12, 1))
    make.cohort(name="Later", starts_on=date(2027, 1, 11))

    body = api(admin).get("reports/completion?date_from=2027-01-01").get_json()

    cohorts = next(table for table in body["tables"] if table["key"] == "cohorts")
    names = [row["cohort"] for row in cohorts["rows"]]
    assert "Later" in names and "Early" not in names
