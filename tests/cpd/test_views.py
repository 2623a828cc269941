"""The CPD pages through the test client: the record with its totals and Academy study, adding,
changing and deleting one's own entries (and nobody else's), stale saves, the year filter, the
CSV export and the printable record."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from academy.cpd.models import CpdEntry
from academy.extensions import db
from academy.marking import services as marking
from tests.conftest import count
from tests.cpd.conftest import LEARNER_NAME

FORM = {
    "title": "NHS ConfedExpo 2027",
    "activity_type": "conference",
    "provider": "NHS Confederation",
    "started_on": "2027-05-10",
    "ended_on": "2027-05-11",
    "hours": "12.5",
    "reflection": "Three trusts' EPR go-lives.\n\nWhat I will change:\n<script>alert(1)</script>",
}


CSV_COLUMNS = ["Source", "Title", "Activity type", "Provider", "Start date", "End date", "Hours",
               "Outcome", "Credential", "Reflection"]  # fmt: skip


def html(response) -> str:
    return response.get_data(as_text=True)


def text(response) -> str:
    """The page with runs of white space (the NHS.UK macros' indentation) made one space."""
    return " ".join(html(response).split())


def fresh(entry_id: int) -> CpdEntry | None:
    return db.session.scalars(
        sa.select(CpdEntry).where(CpdEntry.id == entry_id).execution_options(populate_existing=True)
    ).one_or_none()


def csv_rows(response) -> list[dict]:
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.fixture
def as_learner(client_for, learner):
    return client_for(learner)


# --- who sees what -----------------------------------------------------------------------------


def test_signing_in_is_needed(client):
    for path in ("/my/cpd", "/my/cpd/new", "/my/cpd/export.csv", "/my/cpd/print"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_enrolled_learners_and_people_with_entries_get_my_cpd_in_the_navigation(
    make, client_for, learner, log_entry
):
    assert 'href="/my/cpd"' in html(client_for(learner).get("/account"))
    tutor = make.user("tutor")
    tutor_client = client_for(tutor)
    assert 'href="/my/cpd"' not in html(tutor_client.get("/account"))
    # The page is open to anyone signed in, and once they have logged CPD it is in their menu.
    assert tutor_client.get("/my/cpd").status_code == 200
    log_entry(tutor)
    assert 'href="/my/cpd"' in html(tutor_client.get("/account"))


def test_the_record_shows_totals_academy_study_and_entries(as_learner, learner, log_entry):
    log_entry(learner, title="Reading: the Wachter review", hours="2.5",
              reflection="Line one\nLine <two>\n\nA new paragraph")  # fmt: skip
    log_entry(learner, title="An older course", started_on=date(2025, 6, 1), hours="20")
    page = html(as_learner.get("/my/cpd"))
    assert "My CPD record" in page
    assert "This CPD year (2027 to 2028)" in page
    assert "152.5 hours" in page  # this year: 150 of Academy study and 2.5 self-logged
    assert "172.5 hours" in page  # all time
    assert "DHL701 Leading digital change" in page
    assert "12 April 2027 to 17 March 2028" in page
    assert "In progress" in page
    assert "10 hours for each credit" in page and "UK credit framework" in page
    assert "Reading: the Wachter review" in page and "An older course" in page
    assert "<p>Line one<br> Line &lt;two&gt;</p><p>A new paragraph</p>" in " ".join(page.split())


def test_marks_are_never_shown_and_unreleased_marks_are_not_passes(make, as_learner, learner,
                                                                   cohort):  # fmt: skip
    assignment = make.assignment(cohort)
    submission = make.submission(assignment, learner)
    marking.save_mark(submission, actor=make.user("admin"), expected_version=0, mark=87.25)
    db.session.commit()
    page = html(as_learner.get("/my/cpd"))
    assert "In progress" in page and "Passed" not in page
    assert "87.25" not in page


def test_a_passed_module_links_to_its_credential_without_the_mark(make, as_learner, learner,
                                                                  cohort):  # fmt: skip
    credential = make.credential(learner, cohort, mark=73.5)
    page = html(as_learner.get("/my/cpd"))
    assert "Passed" in page
    assert f'href="/credentials/{credential.uuid}"' in page
    assert "73.5" not in page


# --- adding, changing, deleting ----------------------------------------------------------------


def test_adding_an_entry(as_learner, learner):
    form_page = as_learner.get("/my/cpd/new")
    assert form_page.status_code == 200 and "Add a CPD activity" in html(form_page)
    response = as_learner.post("/my/cpd/new", data=FORM)
    assert response.status_code == 302
    entry = db.session.scalar(sa.select(CpdEntry).where(CpdEntry.user_id == learner.id))
    assert response.headers["Location"].endswith(f"/my/cpd#entry-{entry.id}")
    assert (entry.title, entry.hours, entry.ended_on) == (
        "NHS ConfedExpo 2027", Decimal("12.5"), date(2027, 5, 11)
    )  # fmt: skip
    page = html(as_learner.get("/my/cpd"))
    assert "has been added to your CPD record" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "Enter a title for the activity"),
        ({"activity_type": ""}, "Choose the kind of activity"),
        ({"activity_type": "holiday"}, "Choose the kind of activity from the list"),
        ({"started_on": ""}, "Enter the date the activity started"),
        ({"started_on": "2027-02-30"}, "Enter a real start date"),
        ({"started_on": "2027-06-02", "ended_on": ""}, "cannot be in the future"),
        ({"ended_on": "2027-05-09"}, "The end date must be the same as or after the start date"),
        ({"hours": ""}, "Enter the hours the activity took"),
        ({"hours": "lots"}, "Enter the hours as a number"),
        ({"hours": "1.25"}, "one decimal place"),
        ({"hours": "0"}, "more than 0"),
        ({"hours": "1000.5"}, "1,000 or fewer"),
        ({"title": "t" * 301}, "300 characters or fewer"),
        ({"reflection": "r" * 10_001}, "10,000 characters or fewer"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_saved(as_learner, changes, message):
    response = as_learner.post("/my/cpd/new", data={**FORM, **changes})
    assert response.status_code == 422
    page = html(response)
    assert "There is a problem" in page and message in page
    assert count(CpdEntry) == 0


def test_changing_an_entry(as_learner, learner, log_entry):
    entry = log_entry(learner, hours="2.5")
    form = html(as_learner.get(f"/my/cpd/{entry.id}/edit"))
    assert 'value="2.5"' in form and 'name="version"' in form
    response = as_learner.post(
        f"/my/cpd/{entry.id}/edit", data={**FORM, "hours": "3", "version": "1"}
    )
    assert response.status_code == 302
    saved = fresh(entry.id)
    assert (saved.hours, saved.title, saved.version) == (Decimal("3.0"), FORM["title"], 2)


def test_a_save_from_a_stale_page_is_refused_and_shows_what_is_saved(as_learner, learner,
                                                                     log_entry):  # fmt: skip
    entry = log_entry(learner, title="Original title")
    as_learner.post(f"/my/cpd/{entry.id}/edit",
                    data={**FORM, "title": "Saved in another tab", "version": "1"})  # fmt: skip
    response = as_learner.post(
        f"/my/cpd/{entry.id}/edit", data={**FORM, "title": "From the old page", "version": "1"}
    )
    assert response.status_code == 409
    page = html(response)
    assert "has been changed since you opened it" in page
    assert "Saved in another tab" in page  # what is saved now
    assert 'name="version" type="hidden" value="2"' in page
    assert fresh(entry.id).title == "Saved in another tab"
    # Having seen it, saving again is a deliberate overwrite.
    again = as_learner.post(
        f"/my/cpd/{entry.id}/edit", data={**FORM, "title": "From the old page", "version": "2"}
    )
    assert again.status_code == 302 and fresh(entry.id).title == "From the old page"


def test_a_save_without_a_version_is_refused(as_learner, learner, log_entry):
    entry = log_entry(learner)
    response = as_learner.post(f"/my/cpd/{entry.id}/edit", data=FORM)
    assert response.status_code == 422
    assert "This page is out of date" in html(response)


def test_deleting_asks_first_then_deletes(as_learner, learner, log_entry):
    entry = log_entry(learner, title="Delete me")
    confirm = as_learner.get(f"/my/cpd/{entry.id}/delete")
    assert confirm.status_code == 200
    assert "Are you sure you want to delete “Delete me”" in html(confirm)
    assert fresh(entry.id) is not None
    response = as_learner.post(f"/my/cpd/{entry.id}/delete")
    assert response.status_code == 302 and fresh(entry.id) is None


def test_nobody_else_can_open_change_or_delete_an_entry(make, client_for, learner, log_entry):
    entry = log_entry(learner)
    for other in (make.user("learner"), make.user("admin")):
        other_client = client_for(other)
        assert other_client.get(f"/my/cpd/{entry.id}/edit").status_code == 404
        assert other_client.post(f"/my/cpd/{entry.id}/edit",
                                 data={**FORM, "version": "1"}).status_code == 404  # fmt: skip
        assert other_client.get(f"/my/cpd/{entry.id}/delete").status_code == 404
        assert other_client.post(f"/my/cpd/{entry.id}/delete").status_code == 404
        assert FORM["title"] not in html(other_client.get("/my/cpd"))
    assert fresh(entry.id).title == "Reading: the Wachter review"
    assert "Reading: the Wachter review" in html(client_for(learner).get("/my/cpd"))


# --- the year filter, the export and the printable record --------------------------------------


def test_the_year_filter_splits_on_1_april(as_learner, learner, log_entry):
    log_entry(learner, title="On 31 March", started_on=date(2027, 3, 31), hours="4")
    log_entry(learner, title="On 1 April", started_on=date(2027, 4, 1), hours="1.5")
    earlier = html(as_learner.get("/my/cpd?year=2026"))
    assert "On 31 March" in earlier and "On 1 April" not in earlier
    assert "DHL701" not in earlier
    assert "Total for 1 April 2026 to 31 March 2027: 4 hours" in earlier
    current = html(as_learner.get("/my/cpd?year=2027"))
    assert "On 1 April" in current and "On 31 March" not in current and "DHL701" in current
    both = text(as_learner.get("/my/cpd?year=all"))
    assert "On 1 April" in both and "On 31 March" in both
    assert '<option value="2026" >1 April 2026 to 31 March 2027</option>' in both
    for bad in ("2026-27", "abc", "99999", "1066"):
        assert as_learner.get(f"/my/cpd?year={bad}").status_code == 400


def test_the_csv_export_has_both_kinds_of_line_and_is_safe_in_spreadsheets(
    make, as_learner, learner, cohort, log_entry
):
    credential = make.credential(learner, cohort, mark=66.75)
    log_entry(
        learner,
        title='=HYPERLINK("https://evil.test")',
        provider="+44 NHS England 🏥",
        activity_type="e_learning",
        started_on=date(2027, 5, 3),
        ended_on=date(2027, 5, 4),
        hours="1.5",
        reflection="-2+3 and @mention\nRéflexion: naïve café 😀",
    )
    log_entry(learner, title="@font-face talk", started_on=date(2027, 4, 20), hours="1")
    response = as_learner.get("/my/cpd/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="cpd-record-all-2027-06-01.csv"'
    )
    rows = csv_rows(response)
    assert list(rows[0]) == CSV_COLUMNS
    academy, talk, logged = rows  # oldest first
    assert academy["Source"] == "Academy"
    assert academy["Title"] == "DHL701 Leading digital change"
    assert (academy["Start date"], academy["End date"]) == ("2027-04-12", "2028-03-17")
    assert academy["Hours"] == "150" and academy["Outcome"] == "Passed"
    assert academy["Credential"] == f"https://academy.test/credentials/{credential.uuid}"
    assert talk["Title"] == "'@font-face talk" and talk["Hours"] == "1"
    assert logged["Source"] == "Self-logged"
    assert logged["Title"] == '\'=HYPERLINK("https://evil.test")'
    assert logged["Provider"] == "'+44 NHS England 🏥"
    assert logged["Activity type"] == "E-learning"
    assert logged["Reflection"] == "'-2+3 and @mention\nRéflexion: naïve café 😀"
    assert (logged["Start date"], logged["End date"], logged["Hours"]) == (
        "2027-05-03", "2027-05-04", "1.5"
    )  # fmt: skip
    assert logged["Outcome"] == "" and logged["Credential"] == ""
    assert "66.75" not in response.get_data(as_text=True)


def test_the_csv_export_follows_the_year_filter(as_learner, learner, log_entry):
    log_entry(learner, title="On 31 March", started_on=date(2027, 3, 31))
    log_entry(learner, title="On 1 April", started_on=date(2027, 4, 1))
    rows = csv_rows(as_learner.get("/my/cpd/export.csv?year=2026"))
    assert [row["Title"] for row in rows] == ["On 31 March"]
    rows = csv_rows(as_learner.get("/my/cpd/export.csv?year=2027"))
    assert [row["Title"] for row in rows] == ["On 1 April", "DHL701 Leading digital change"]
    assert as_learner.get("/my/cpd/export.csv?year=soon").status_code == 400


def test_the_printable_record(make, client_for, log_entry):
    module = make.module(code="DHL702", credits=20)
    cohort = make.cohort(make.programme(modules=[module]), starts_on=date(2027, 4, 12),
                         ends_on=date(2028, 3, 17))  # fmt: skip
    learner = make.learner_in(cohort, name=LEARNER_NAME, professional_registration="GMC 7123456")
    log_entry(learner, title="Shadowing the CCIO", activity_type="work_based",
              started_on=date(2027, 3, 31), hours="7.5",
              reflection="Saw the <b>clinical safety</b> case.")  # fmt: skip
    the_client = client_for(learner)
    page = html(the_client.get("/my/cpd/print"))
    assert "Continuing professional development record" in page
    assert "Siân O&#39;Brien-Nguyễn" in page and "GMC 7123456" in page
    assert "academy-no-print" in page and "academy-cpd-log" in page  # print rules in academy.scss
    assert "Shadowing the CCIO" in page and "Work-based learning" in page
    assert "Saw the &lt;b&gt;clinical safety&lt;/b&gt; case." in page
    assert "207.5 hours" in page  # 200 notional hours of DHL702 and 7.5 logged
    assert page.index("Shadowing the CCIO") < page.index("DHL702")  # oldest first
    this_year = html(the_client.get("/my/cpd/print?year=2027"))
    assert "1 April 2027 to 31 March 2028" in this_year
    assert "Shadowing the CCIO" not in this_year and "200 hours" in this_year
    assert the_client.get("/my/cpd/print?year=x").status_code == 400
