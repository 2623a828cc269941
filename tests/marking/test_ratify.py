"""The exam board's optional ratification: admins only, idempotent, audited, in the mark's
history, and release still releases the ratified marks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core.errors import Conflict
from academy.extensions import db
from academy.marking import services
from academy.marking.models import Mark, MarkHistory


@pytest.fixture
def course(make, ctx):
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    admin = make.user("admin")
    assignment = make.assignment(cohort)
    ready = make.submission(assignment, make.learner_in(cohort))
    draft = make.submission(assignment, make.learner_in(cohort))
    services.save_mark(ready, actor=tutor, expected_version=0, mark=64)
    services.save_mark(draft, actor=tutor, expected_version=0, mark=40, complete=False)
    db.session.commit()
    return cohort, tutor, admin, assignment, ready, draft


def fresh(submission) -> Mark:
    return db.session.scalars(
        sa.select(Mark)
        .where(Mark.submission_id == submission.id)
        .execution_options(populate_existing=True)
    ).one()


def test_ratify_confirms_ready_marks_once_with_history_and_audit(course):
    _, _, admin, assignment, ready, draft = course
    ratified = services.ratify(assignment, actor=admin)
    db.session.commit()
    assert [mark.submission_id for mark in ratified] == [ready.id]
    mark = fresh(ready)
    assert mark.status == "ratified" and mark.ratified_at is not None
    assert fresh(draft).status == "draft"
    actions = db.session.scalars(
        sa.select(MarkHistory.action).where(MarkHistory.mark_id == mark.id)
    ).all()
    assert actions == ["save", "ratify"]
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "assignment.ratify")
    ).one()
    assert event.actor_id == admin.id and event.after == {"ratified": 1}

    assert services.ratify(assignment, actor=admin) == []  # idempotent
    assert (
        actions
        == db.session.scalars(
            sa.select(MarkHistory.action).where(MarkHistory.mark_id == mark.id)
        ).all()
    )


def test_release_releases_ratified_marks_and_they_cannot_be_changed_first(course):
    _, tutor, admin, assignment, ready, _ = course
    services.ratify(assignment, actor=admin)
    mark = fresh(ready)
    with pytest.raises(Conflict):
        services.save_mark(ready, actor=tutor, expected_version=mark.version, mark=10)
    released = services.release(assignment, actor=tutor)
    assert [m.submission_id for m in released] == [ready.id]
    assert fresh(ready).status == "released"
    assert services.ratify(assignment, actor=admin) == []  # released marks stay released


def test_ratifying_through_the_release_page(course, app, login_as):
    _, tutor, admin, assignment, ready, _ = course
    as_admin = login_as(admin, the_client=app.test_client())
    as_tutor = login_as(tutor, the_client=app.test_client())
    page = as_admin.get(f"/marking/assignments/{assignment.id}/release").get_data(as_text=True)
    assert "Ratify marks" in page and "1 ready mark is ready to ratify" in page
    tutor_page = as_tutor.get(f"/marking/assignments/{assignment.id}/release")
    assert "Ratify marks" not in tutor_page.get_data(as_text=True)

    assert as_tutor.post(f"/marking/assignments/{assignment.id}/ratify").status_code == 403
    assert fresh(ready).status == "marked"
    response = as_admin.post(f"/marking/assignments/{assignment.id}/ratify")
    assert response.status_code == 302
    assert fresh(ready).status == "ratified"
    page = as_admin.get(f"/marking/assignments/{assignment.id}/release").get_data(as_text=True)
    assert "No marks are waiting to be ratified" in page

    as_tutor.post(f"/marking/assignments/{assignment.id}/release")
    assert fresh(ready).status == "released"


def test_ratifying_through_the_api(course, api, make):
    _, tutor, admin, assignment, ready, _ = course
    path = f"assignments/{assignment.id}/ratify"
    refused = api(tutor).post(path, json={})
    assert refused.status_code == 403 and fresh(ready).status == "marked"
    as_admin = api(admin)
    assert as_admin.post(path, json={}).get_json() == {"ratified": 1}
    assert as_admin.post(path).get_json() == {"ratified": 0}
    assert fresh(ready).status == "ratified"
    assert as_admin.post("assignments/999999/ratify", json={}).status_code == 404
    released = api(tutor).post(f"assignments/{assignment.id}/release", json={})
    assert released.get_json() == {"released": 1} and fresh(ready).status == "released"
