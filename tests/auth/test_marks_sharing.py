"""A learner's choice to let their sponsors see marks and feedback: theirs alone to make, on a
page and through the API, effective at once and audited."""

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth.services import set_marks_consent
from academy.core.errors import Conflict
from academy.extensions import db


def _events(user):
    return db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "user.marks_consent", AuditEvent.object_id == str(user.id)
        )
    ).all()


def test_the_learner_opts_in_and_out_on_the_page(make, client, login_as):
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    login_as(learner)
    page = client.get("/account/sharing")
    assert page.status_code == 200
    assert learner.organisation.name in page.get_data(as_text=True)
    assert client.post("/account/sharing", data={"share": "yes"}).status_code == 302
    db.session.refresh(learner)
    assert learner.shares_marks_with_sponsor is True
    assert "can see your marks" in client.get("/account").get_data(as_text=True)
    client.post("/account/sharing", data={"share": "no"})
    db.session.refresh(learner)
    assert learner.shares_marks_with_sponsor is False
    events = _events(learner)
    assert [e.after for e in events] == [
        {"shares_marks_with_sponsor": True},
        {"shares_marks_with_sponsor": False},
    ]
    assert all(e.actor_id == learner.id for e in events)


def test_no_choice_is_a_form_error(make, client, login_as):
    learner = make.learner_in(make.cohort())
    login_as(learner)
    response = client.post("/account/sharing", data={})
    assert response.status_code == 422
    assert "Choose whether to share" in response.get_data(as_text=True)
    assert _events(learner) == []


def test_nobody_else_can_opt_a_learner_in(make):
    learner = make.learner_in(make.cohort())
    for other in (make.user("admin"), make.user("sponsor", scope=learner.organisation)):
        with pytest.raises(Conflict):
            set_marks_consent(learner, True, actor=other)
    assert learner.shares_marks_with_sponsor is False


def test_the_api_reads_and_sets_the_choice(make, api):
    learner = make.learner_in(make.cohort())
    client = api(learner)
    assert client.get("me/marks-sharing").get_json() == {"shares_marks_with_sponsor": False}
    response = client.put("me/marks-sharing", json={"shares_marks_with_sponsor": True})
    assert response.status_code == 200
    assert response.get_json() == {"shares_marks_with_sponsor": True}
    assert client.get("me").get_json()["shares_marks_with_sponsor"] is True
    bad = client.put("me/marks-sharing", json={"shares_marks_with_sponsor": "perhaps"})
    assert bad.status_code == 422 and "shares_marks_with_sponsor" in bad.get_json()["errors"]
    assert len(_events(learner)) == 1
