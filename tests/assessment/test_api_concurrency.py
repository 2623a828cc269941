"""Requests racing for real, on a database of their own where each request's commit is visible
to the others: a double-clicked submit gives one submission and one receipt, and two first uploads
at once make one draft."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment.models import Submission, SubmissionFile, SubmissionReceipt
from academy.extensions import db
from academy.notifications.mail import sent_messages
from tests.concurrency import committed_app, run_together  # noqa: F401 - a fixture
from tests.factories import Factories

pytestmark = pytest.mark.no_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
RACERS = 4


@pytest.fixture
def setting(committed_app):  # noqa: F811 - the imported fixture
    app = committed_app
    with app.app_context():
        make = Factories(app)
        cohort = make.cohort()
        learner = make.learner_in(cohort)
        assignment = make.assignment(cohort)
        token = make.token_for(learner)
        ids = SimpleNamespace(assignment=assignment.id, learner=learner.id)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    # One request first, so the token's "last used" bookkeeping is not part of the race.
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    sent_messages(app).clear()
    return SimpleNamespace(app=app, ids=ids, headers=headers)


def upload(setting, name: str, data: bytes = PDF):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name)})
    return setting.app.test_client().post(
        f"/api/v1/assignments/{setting.ids.assignment}/submission/files",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=setting.headers,
    )


def rows(setting, model, **where) -> list:
    with setting.app.app_context():
        stmt = sa.select(model).filter_by(**where)
        found = db.session.scalars(stmt).all()
        db.session.remove()
        return found


def test_submitting_twice_at_once_gives_one_submission_and_one_receipt(setting):
    first = upload(setting, "essay.pdf")
    assert first.status_code == 201, first.get_json()
    submission_id = first.get_json()["submission_id"]
    clients = [setting.app.test_client() for _ in range(RACERS)]

    def submit(client):
        return lambda: client.post(
            f"/api/v1/submissions/{submission_id}/submit",
            json={"declaration": True},
            headers=setting.headers,
        )

    responses = run_together(*(submit(client) for client in clients))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (RACERS - 1), [r.get_json() for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.get_json()["code"] == 409
    assert len(rows(setting, SubmissionReceipt, submission_id=submission_id)) == 1
    (submission,) = rows(setting, Submission, id=submission_id)
    assert submission.status == "submitted"
    receipts = [m for m in sent_messages(setting.app) if m["Subject"].startswith("Receipt")]
    assert len(receipts) == 1


def test_two_first_uploads_at_once_make_one_draft(setting):
    names = [f"part-{n}.pdf" for n in range(RACERS)]

    responses = run_together(
        *(lambda name=name: upload(setting, name, PDF + name.encode()) for name in names)
    )

    accepted = [r for r in responses if r.status_code == 201]
    # PostgreSQL makes the later inserts wait for the first and then find it: every upload is
    # kept. SQLite allows one writer at a time and answers the others 409, to be retried.
    assert {r.status_code for r in responses} <= {201, 409}, [r.get_json() for r in responses]
    assert accepted
    if _dialect(setting) == "postgresql":
        assert len(accepted) == RACERS
    (submission,) = rows(
        setting, Submission, assignment_id=setting.ids.assignment, user_id=setting.ids.learner
    )
    assert {r.get_json()["submission_id"] for r in accepted} == {submission.id}
    files = rows(setting, SubmissionFile, submission_id=submission.id)
    assert sorted(f.name for f in files) == sorted(r.get_json()["file"]["name"] for r in accepted)


def _dialect(setting) -> str:
    with setting.app.app_context():
        return db.engine.dialect.name
