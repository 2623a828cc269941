"""Bulk downloads of people's data are audited as `data.export`: who, which data, which filters.
(The trust exports' own tests are in tests/reporting/test_exports.py.)"""

from __future__ import annotations

import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from academy.reporting.academy_reports import ReportFilters, build_report


def exports() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "data.export").order_by(AuditEvent.id)
        )
    )


def test_a_gradebook_download_is_audited(make, app, login_as):
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    client = login_as(tutor, the_client=app.test_client())
    assert client.get(f"/marking/cohorts/{cohort.id}/gradebook.csv").status_code == 200
    [event] = exports()
    assert (event.actor_id, event.object_type, event.object_id) == (
        tutor.id,
        "cohort",
        str(cohort.id),
    )
    assert event.after == {"export": "gradebook", "format": "csv"}
    # The page itself is not an export.
    assert client.get(f"/marking/cohorts/{cohort.id}/gradebook").status_code == 200
    assert len(exports()) == 1


def test_an_academy_report_download_is_audited_with_its_filters(make, app, login_as):
    admin = make.user("admin")
    client = login_as(admin, the_client=app.test_client())
    table = build_report("completion", ReportFilters()).tables[0]
    response = client.get(
        f"/reports/academy/completion/{table.key}.csv", query_string={"date_from": "2026-01-01"}
    )
    assert response.status_code == 200
    [event] = exports()
    assert event.actor_id == admin.id
    assert event.after == {
        "export": f"academy-report:completion:{table.key}",
        "format": "csv",
        "filters": {"date_from": "2026-01-01"},
    }


def test_an_audit_log_download_is_itself_in_the_log(make, app, login_as):
    admin = make.user("admin")
    client = login_as(admin, the_client=app.test_client())
    response = client.get("/admin/audit.csv", query_string={"action": "data.export"})
    assert response.status_code == 200
    [event] = exports()
    assert event.after == {
        "export": "audit-log",
        "format": "csv",
        "filters": {"action": "data.export"},
    }
    assert "data.export" in response.get_data(as_text=True)
