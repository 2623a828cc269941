"""Two markers saving the same mark at the same instant, for real, on a database of their own
where each request's commit is visible to the other: one wins, the other gets 409 with the
winner's mark, and the history has one row for the round. Also, on the usual test database, a
refused racing insert leaves the session usable (the savepoint is rolled back, not the whole
transaction: PostgreSQL would otherwise refuse every later statement)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from academy.extensions import db
from academy.marking import services
from academy.marking.models import Mark, MarkHistory
from academy.marking.services import StaleMark
from tests.concurrency import committed_app, run_together  # noqa: F401 - a fixture
from tests.factories import Factories


@pytest.fixture
def race(committed_app):  # noqa: F811 - the imported fixture
    app = committed_app
    with app.app_context():
        make = Factories(app)
        cohort = make.cohort()
        learner = make.learner_in(cohort)
        submission = make.submission(make.assignment(cohort), learner)
        tokens = [make.token_for(make.user("tutor", scope=cohort)) for _ in range(2)]
        submission_id = submission.id
        db.session.remove()
    markers = [{"Authorization": f"Bearer {t}", "Accept": "application/json"} for t in tokens]
    # One request each first, so the tokens' "last used" bookkeeping is not part of the race.
    for headers in markers:
        assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    return SimpleNamespace(app=app, submission_id=submission_id, markers=markers)


def save(race, headers, **body):
    return race.app.test_client().put(
        f"/api/v1/submissions/{race.submission_id}/mark", json=body, headers=headers
    )


def save_together(race, version: int):
    first, second = race.markers
    return run_together(
        lambda: save(race, first, mark=61, feedback="From the first marker", version=version),
        lambda: save(race, second, mark=47, feedback="From the second marker", version=version),
    )


def stored(race) -> tuple[Mark, int]:
    with race.app.app_context():
        mark = db.session.scalar(sa.select(Mark).where(Mark.submission_id == race.submission_id))
        history = db.session.scalar(
            sa.select(sa.func.count(MarkHistory.id)).where(MarkHistory.mark_id == mark.id)
        )
        db.session.expunge_all()
        db.session.remove()
        return mark, history


def winner_and_loser(responses):
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.get_json() for r in responses]
    (won,) = (r.get_json() for r in responses if r.status_code == 200)
    (lost,) = (r.get_json() for r in responses if r.status_code == 409)
    return won, lost


@pytest.mark.no_db
def test_two_first_saves_at_once_give_one_winner_and_one_409(race):
    won, lost = winner_and_loser(save_together(race, version=0))

    mark, history = stored(race)
    assert (float(mark.raw_mark), mark.feedback, mark.version) == (
        won["mark"],
        won["feedback"],
        won["version"],
    )
    assert lost["code"] == 409 and "version" in lost["errors"]
    assert lost["current"]["mark"] == won["mark"]
    assert lost["current"]["version"] == won["version"]
    assert history == 1


@pytest.mark.no_db
def test_two_saves_of_the_same_version_give_one_winner_and_one_409(race):
    first = save(race, race.markers[0], mark=55, version=0)
    assert first.status_code == 200
    version = first.get_json()["version"]

    won, lost = winner_and_loser(save_together(race, version=version))

    mark, history = stored(race)
    assert (float(mark.raw_mark), mark.version) == (won["mark"], won["version"])
    assert won["version"] > version
    assert lost["current"]["mark"] == won["mark"]
    assert lost["current"]["version"] == won["version"]
    assert history == 2  # the first save and the winner of the round


# --- the savepoint, on the usual test database --------------------------------------------------


def test_a_refused_racing_insert_leaves_the_session_usable(make, ctx, monkeypatch):
    """Simulate losing the race for the first save: the read finds no mark, but by the time of
    the insert another marker's mark is there."""
    cohort = make.cohort()
    tutor, other = make.user("tutor", scope=cohort), make.user("tutor", scope=cohort)
    submission = make.submission(make.assignment(cohort), make.learner_in(cohort))
    theirs = services.save_mark(submission, actor=other, expected_version=0, mark=58)
    db.session.commit()
    monkeypatch.setattr(services, "mark_for", lambda submission: None)

    with pytest.raises(StaleMark) as refused:
        services.save_mark(submission, actor=tutor, expected_version=0, mark=40)

    assert refused.value.extra["current"]["raw_mark"] == "58.00"
    assert refused.value.extra["current"]["version"] == theirs.version
    # The transaction is still usable: no rollback needed before the next statement.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mark)) == 1
    kept = db.session.scalar(sa.select(Mark).where(Mark.submission_id == submission.id))
    assert (kept.raw_mark, kept.marker_id, len(kept.history)) == (58, other.id, 1)
    db.session.commit()


def test_a_racing_update_that_matches_no_row_is_refused_with_the_winners_mark(make, ctx):
    """Simulate losing the race for a later save: the version read was current, but the row's
    version moved before the UPDATE (the version guard then matches no row)."""
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    submission = make.submission(make.assignment(cohort), make.learner_in(cohort))
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=58)
    db.session.commit()
    read_version = mark.version
    # Another marker's save lands behind this session's back.
    db.session.execute(
        sa.update(Mark)
        .where(Mark.id == mark.id)
        .values(raw_mark=63, version=Mark.version + 1)
        .execution_options(synchronize_session=False)
    )

    with pytest.raises(StaleMark) as refused:
        services.save_mark(submission, actor=tutor, expected_version=read_version, mark=40)

    assert refused.value.extra["current"]["raw_mark"] == "63.00"
    assert refused.value.extra["current"]["version"] == read_version + 1
    assert db.session.scalar(sa.select(Mark.raw_mark).where(Mark.id == mark.id)) == 63
    db.session.commit()
