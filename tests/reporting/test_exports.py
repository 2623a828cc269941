"""An organisation's exports (staff credentials and progress, CSV and XLSX) through the pages and
the API: who may download them (another trust's and an ended sponsorship's answer 404), what they
hold, formula injection, marks only with consent, and a fixed number of queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from academy.auth import services as auth_services
from academy.core import clock, jobs
from academy.credentials import services as credentials
from academy.extensions import db
from tests.queries import counted_queries

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE_NAMES = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)"]
EXPORTS = ("staff-credentials", "progress")


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def trust(make):
    return make.organisation(ods_code="RJ1", name="Guy’s and St Thomas’")


@pytest.fixture
def sponsor(make, trust):
    return make.user("sponsor", scope=trust, name="Sam Sponsor")


@pytest.fixture
def cohort(make):
    module = make.module(code="DHL701")
    return make.cohort(programme=make.programme(core=[module]), starts_on=date(2026, 9, 1))


@pytest.fixture
def as_sponsor(login_as, sponsor):
    return login_as(sponsor)


def page_path(trust, export, fmt):
    return f"/organisations/{trust.id}/reports/{export}.{fmt}"


def api_path(trust, export, fmt):
    return f"organisations/{trust.id}/reports/{export}.{fmt}"


def csv_rows(response) -> list[dict]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_sheet(response):
    return load_workbook(io.BytesIO(response.get_data())).active


def xlsx_rows(response) -> list[dict]:
    rows = list(xlsx_sheet(response).iter_rows())
    headers = [cell.value for cell in rows[0]]
    return [{h: cell for h, cell in zip(headers, row, strict=True)} for row in rows[1:]]


def test_staff_credentials_csv_has_a_row_per_credential_keyed_by_staff_number(
    make, trust, cohort, as_sponsor
):
    holder = make.learner_in(
        cohort, organisation=trust, name="Zoë Ångström 🏥", staff_number="12345678",
        professional_registration="GMC 7654321", email="zoe@nhs.test",
    )  # fmt: skip
    assignment = make.assignment(cohort)
    issued = make.credential(holder, cohort, assignment=assignment)
    external = credentials.record_external(
        holder, actor=holder, title="BCS Fellowship", issuer="BCS", issued_on=date(2025, 3, 1),
        expires_on=date(2027, 3, 1),
    )  # fmt: skip
    revoked = make.credential(
        make.learner_in(cohort, organisation=trust, name="Rev Oked"), cohort, assignment=assignment
    )
    credentials.revoke(revoked, actor=make.user("admin"), reason="Academic misconduct")
    db.session.commit()
    outsider = make.credential(make.learner_in(cohort), cohort, assignment=assignment)

    response = as_sponsor.get(page_path(trust, "staff-credentials", "csv"))
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=RJ1-staff-credentials-2026-11-22.csv"
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "staff_number", "professional_registration", "name", "email", "credential", "kind",
        "issuer", "issued_on", "expires_on", "status", "verification", "verification_url",
    ]  # fmt: skip
    by_title = {(row["name"], row["kind"]): row for row in rows}
    assert len(rows) == 3 and outsider.uuid not in response.get_data(as_text=True)
    module = by_title[("Zoë Ångström 🏥", "module")]
    assert module["staff_number"] == "12345678"
    assert module["professional_registration"] == "GMC 7654321"
    assert module["email"] == "zoe@nhs.test"
    assert module["credential"] == issued.title
    assert (module["issued_on"], module["status"], module["verification"]) == (
        "2026-11-22", "valid", ""
    )  # fmt: skip
    assert module["verification_url"] == f"https://academy.test/credentials/{issued.uuid}"
    outside = by_title[("Zoë Ångström 🏥", "external")]
    assert (outside["credential"], outside["issuer"]) == ("BCS Fellowship", "BCS")
    assert (outside["issued_on"], outside["expires_on"]) == ("2025-03-01", "2027-03-01")
    assert (outside["verification"], outside["verification_url"]) == ("self_declared", "")
    assert external.uuid not in response.get_data(as_text=True)
    assert by_title[("Rev Oked", "module")]["status"] == "revoked"


def test_staff_credentials_xlsx_opens_with_dates_as_dates(make, trust, cohort, as_sponsor):
    holder = make.learner_in(cohort, organisation=trust, name="Siân Ní Bhriain 😀")
    make.credential(holder, cohort)
    response = as_sponsor.get(page_path(trust, "staff-credentials", "xlsx"))
    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=RJ1-staff-credentials-2026-11-22.xlsx"
    )
    sheet = xlsx_sheet(response)
    assert sheet.title == "Staff credentials" and sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    (row,) = xlsx_rows(response)
    assert row["name"].value == "Siân Ní Bhriain 😀"
    assert row["issued_on"].is_date and row["issued_on"].value.date() == date(2026, 11, 22)
    assert row["status"].value == "valid"


def test_names_and_titles_that_could_be_formulas_are_neutralised_in_both_formats(
    make, trust, cohort, as_sponsor
):
    learners = [make.learner_in(cohort, organisation=trust, name=name) for name in HOSTILE_NAMES]
    assignment = make.assignment(cohort)
    for learner in learners:
        make.credential(learner, cohort, assignment=assignment)
    tabbed = credentials.record_external(
        learners[0], actor=learners[0], title="Fellowship", issuer="@BCS",
        issued_on=date(2025, 3, 1),
    )  # fmt: skip
    # As data arriving from elsewhere might hold it; the services trim what people type.
    tabbed.title = "\tFellowship"
    db.session.commit()
    expected = {"'" + name for name in HOSTILE_NAMES}

    rows = csv_rows(as_sponsor.get(page_path(trust, "staff-credentials", "csv")))
    assert {row["name"] for row in rows} == expected
    (external,) = [row for row in rows if row["kind"] == "external"]
    assert (external["credential"], external["issuer"]) == ("'\tFellowship", "'@BCS")

    response = as_sponsor.get(page_path(trust, "staff-credentials", "xlsx"))
    rows = xlsx_rows(response)
    assert {row["name"].value for row in rows} == expected
    assert {row["name"].data_type for row in rows} == {"s"}
    (external,) = [row for row in rows if row["kind"].value == "external"]
    assert (external["credential"].value, external["credential"].data_type) == (
        "'\tFellowship", "s"
    )  # fmt: skip
    assert external["issuer"].value == "'@BCS"
    assert not any(c.data_type == "f" for r in xlsx_sheet(response).iter_rows() for c in r)

    progress = csv_rows(as_sponsor.get(page_path(trust, "progress", "csv")))
    assert {row["name"] for row in progress} == expected
    progress = xlsx_rows(as_sponsor.get(page_path(trust, "progress", "xlsx")))
    assert {(row["name"].value, row["name"].data_type) for row in progress} == {
        (name, "s") for name in expected
    }


def test_progress_has_a_row_per_sponsored_enrolment(make, trust, cohort, as_sponsor):
    with clock.frozen_at(NOW - timedelta(days=30)):
        assignment = make.assignment(cohort, title="Essay", due_at=NOW - timedelta(days=3))
    keen = make.learner_in(cohort, organisation=trust, name="Ann Keen", staff_number="111")
    keen.last_login_at = NOW - timedelta(days=1)
    make.submission(assignment, keen)
    with clock.frozen_at(NOW - timedelta(weeks=8)):
        # Enrolled long enough ago for weeks of silence to count.
        make.learner_in(cohort, organisation=trust, name="Bob Quiet", staff_number="222")
    make.learner_in(cohort, name="Someone Else")

    response = as_sponsor.get(page_path(trust, "progress", "csv"))
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=RJ1-progress-2026-11-22.csv"
    )
    rows = csv_rows(response)
    assert [row["name"] for row in rows] == ["Bob Quiet", "Ann Keen"]  # at risk first
    quiet, ann = rows
    assert quiet["progress_status"] == "at_risk" and quiet["enrolment_status"] == "active"
    assert quiet["submissions_missing"] == "1"
    assert quiet["risks"] == (
        "Missed the deadline for “Essay” with no extension; No activity for 4 weeks or more"
    )
    assert ann["staff_number"] == "111" and ann["progress_status"] == "on_track"
    assert (ann["submissions_on_time"], ann["last_activity_on"]) == ("1", "2026-11-22")
    assert (ann["credits_earned"], ann["credits_required"]) == ("0", "60")
    assert (ann["modules_passed"], ann["modules_total"]) == ("0", "1")
    assert ann["cohort"] == cohort.name
    assert not any(key.startswith("mark_") for key in ann)

    sheet = xlsx_rows(as_sponsor.get(page_path(trust, "progress", "xlsx")))
    assert [row["name"].value for row in sheet] == ["Bob Quiet", "Ann Keen"]
    assert sheet[1]["last_activity_on"].is_date
    assert (sheet[1]["submissions_on_time"].value, sheet[1]["credits_required"].value) == (1, 60)


def test_marks_appear_only_for_learners_who_share_them(make, trust, cohort, as_sponsor):
    sharer = make.learner_in(cohort, organisation=trust, name="Ann Sharer")
    private = make.learner_in(cohort, organisation=trust, name="Bob Private")
    assignment = make.assignment(cohort)
    make.passed(sharer, cohort, mark=72, assignment=assignment)
    make.passed(private, cohort, mark=58, assignment=assignment)

    before = csv_rows(as_sponsor.get(page_path(trust, "progress", "csv")))
    assert not any(key.startswith("mark_") for key in before[0])

    auth_services.set_marks_consent(sharer, True, actor=sharer)
    db.session.commit()
    rows = {
        row["name"]: row for row in csv_rows(as_sponsor.get(page_path(trust, "progress", "csv")))
    }
    assert rows["Ann Sharer"]["mark_DHL701"] == "72"
    assert rows["Bob Private"]["mark_DHL701"] == ""
    assert rows["Bob Private"]["modules_passed"] == "1"  # outcomes, never the mark
    sheet = {
        row["name"].value: row
        for row in xlsx_rows(as_sponsor.get(page_path(trust, "progress", "xlsx")))
    }
    assert sheet["Ann Sharer"]["mark_DHL701"].value == 72
    assert sheet["Bob Private"]["mark_DHL701"].value is None


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_api_gives_the_same_files(make, api, trust, cohort, sponsor, export, fmt):
    make.credential(make.learner_in(cohort, organisation=trust, name="=cmd|' /C calc'!A0"), cohort)
    response = api(sponsor).get(api_path(trust, export, fmt))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=RJ1-{export}-2026-11-22.{fmt}"
    )
    if fmt == "csv":
        assert [row["name"] for row in csv_rows(response)] == ["'=cmd|' /C calc'!A0"]
    else:
        assert response.mimetype == XLSX
        assert [row["name"].value for row in xlsx_rows(response)] == ["'=cmd|' /C calc'!A0"]


def test_the_api_needs_a_token(api, trust):
    assert api().get(api_path(trust, "staff-credentials", "csv")).status_code == 401


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_no_one_outside_the_trust_gets_its_exports(
    make, app, login_as, api, trust, cohort, export, fmt
):
    make.credential(make.learner_in(cohort, organisation=trust, name="Private Person"), cohort)
    other_trust_sponsor = make.user("sponsor", scope=make.organisation())
    ended = make.user()
    make.role(ended, "sponsor", scope=trust, valid_from=date(2025, 1, 1),
              valid_to=date(2026, 11, 21))  # fmt: skip
    future = make.user()
    make.role(future, "sponsor", scope=trust, valid_from=date(2026, 12, 1))
    learner = make.learner_in(cohort, organisation=trust)
    tutor = make.user("tutor", scope=cohort)
    for outsider in (other_trust_sponsor, ended, future, learner, tutor):
        page = login_as(outsider, the_client=app.test_client())
        response = page.get(page_path(trust, export, fmt))
        assert response.status_code == 404, outsider
        assert "Private Person" not in response.get_data(as_text=True)
        answer = api(outsider).get(api_path(trust, export, fmt))
        assert answer.status_code == 404
        assert answer.get_json()["code"] == 404
    missing = page_path(trust, export, fmt).replace(f"/{trust.id}/", "/999999/")
    assert (
        login_as(make.user("admin"), the_client=app.test_client()).get(missing).status_code == 404
    )


def test_admins_get_any_trusts_exports(make, app, login_as, api, trust, cohort):
    make.credential(make.learner_in(cohort, organisation=trust), cohort)
    admin = make.user("admin")
    page = login_as(admin, the_client=app.test_client())
    assert page.get(page_path(trust, "staff-credentials", "csv")).status_code == 200
    assert api(admin).get(api_path(trust, "progress", "xlsx")).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, trust):
    response = client.get(page_path(trust, "progress", "csv"))
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_other_formats_are_not_found(as_sponsor, api, sponsor, trust):
    assert as_sponsor.get(page_path(trust, "progress", "ods")).status_code == 404
    assert api(sponsor).get(api_path(trust, "progress", "json")).status_code == 404


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_reads_a_fixed_number_of_queries(make, trust, cohort, as_sponsor, export, fmt):
    assignment = make.assignment(cohort)

    def download(size):
        for _ in range(size):
            learner = make.learner_in(cohort, organisation=trust)
            auth_services.set_marks_consent(learner, True, actor=learner)
            make.passed(learner, cohort, assignment=assignment)
            credentials.record_external(
                learner, actor=learner, title="BCS", issuer="BCS", issued_on=date(2025, 1, 1)
            )
        db.session.commit()
        # Send the credential emails the passes queued now, not after the counted request.
        jobs.run_ready()
        db.session.expire_all()
        with counted_queries() as statements:
            response = as_sponsor.get(page_path(trust, export, fmt))
            body = response.get_data()
        assert response.status_code == 200 and body
        return len(statements)

    small = download(3)
    large = download(12)  # 15 learners in all
    assert small == large


def test_the_exports_page_lists_the_downloads_and_their_columns(
    make, app, login_as, as_sponsor, trust
):
    page = as_sponsor.get(f"/organisations/{trust.id}/reports/exports")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for export in EXPORTS:
        for fmt in ("csv", "xlsx"):
            assert page_path(trust, export, fmt) in text
    assert "staff_number" in text and "mark_&lt;module code&gt;" in text
    other = login_as(make.user("sponsor", scope=make.organisation()), the_client=app.test_client())
    assert other.get(f"/organisations/{trust.id}/reports/exports").status_code == 404


def export_audits() -> list:
    import sqlalchemy as sa

    from academy.audit.models import AuditEvent

    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "data.export").order_by(AuditEvent.id)
        )
    )


def test_every_download_is_audited_with_who_what_and_which_trust(
    make, api, trust, cohort, sponsor, as_sponsor
):
    assert as_sponsor.get(page_path(trust, "progress", "xlsx")).status_code == 200
    assert api(sponsor).get(api_path(trust, "staff-credentials", "csv")).status_code == 200
    page, through_api = export_audits()
    assert (page.actor_id, page.object_type, page.object_id) == (
        sponsor.id,
        "organisation",
        str(trust.id),
    )
    assert page.after == {"export": "progress", "format": "xlsx"}
    assert through_api.after == {"export": "staff-credentials", "format": "csv", "channel": "api"}


def test_a_refused_download_is_not_recorded_as_an_export(make, app, login_as, trust):
    outsider = login_as(make.user("sponsor", scope=make.organisation()))
    assert outsider.get(page_path(trust, "progress", "csv")).status_code == 404
    assert export_audits() == []
