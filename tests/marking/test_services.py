"""Marking rules through the service functions that pages and the API share."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core.errors import Conflict, DomainError
from academy.extensions import db
from academy.marking import services
from academy.marking.models import MarkHistory, ModuleResult
from academy.marking.services import StaleMark

RUBRIC = {
    "criteria": [
        {"title": "Analysis", "levels": [{"title": "Weak", "marks": 10},
                                         {"title": "Strong", "marks": 60}]},
        {"title": "Writing", "levels": [{"title": "Weak", "marks": 5},
                                        {"title": "Strong", "marks": 40}]},
    ]
}  # fmt: skip


@pytest.fixture
def world(make, ctx):
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    second = make.user("tutor", scope=cohort)
    learner = make.learner_in(cohort)
    return cohort, tutor, second, learner


def test_a_mark_goes_from_draft_to_marked_with_history(world, make):
    cohort, tutor, _, learner = world
    submission = make.submission(make.assignment(cohort), learner)
    draft = services.save_mark(submission, actor=tutor, expected_version=0, mark=55,
                               feedback="Good start", complete=False)  # fmt: skip
    assert draft.status == "draft" and draft.final_mark == Decimal(55)
    marked = services.save_mark(submission, actor=tutor, expected_version=draft.version, mark=62,
                                feedback="Clear analysis")  # fmt: skip
    assert marked.status == "marked" and marked.final_mark == Decimal(62)
    history = db.session.scalars(sa.select(MarkHistory).where(MarkHistory.mark_id == marked.id))
    assert [(h.action, (h.after or {}).get("raw_mark")) for h in history] == [
        ("save", "55.00"),
        ("save", "62.00"),
    ]


def test_a_stale_save_is_refused_with_the_current_state(world, make):
    cohort, tutor, second, learner = world
    submission = make.submission(make.assignment(cohort), learner)
    services.save_mark(submission, actor=tutor, expected_version=0, mark=60, complete=False)
    with pytest.raises(StaleMark) as raised:
        services.save_mark(submission, actor=second, expected_version=0, mark=40)
    assert raised.value.extra["current"]["raw_mark"] == "60.00"
    assert services.mark_for(submission).raw_mark == Decimal(60)


@pytest.mark.parametrize("bad", [-1, 101, "abc", "55.555", float("nan")])
def test_marks_outside_the_range_are_refused(world, make, bad):
    cohort, tutor, _, learner = world
    submission = make.submission(make.assignment(cohort), learner)
    with pytest.raises(DomainError):
        services.save_mark(submission, actor=tutor, expected_version=0, mark=bad)
    assert services.mark_for(submission) is None


def test_the_rubric_decides_the_mark(world, make):
    cohort, tutor, _, learner = world
    submission = make.submission(make.assignment(cohort, rubric=RUBRIC), learner)
    mark = services.save_mark(submission, actor=tutor, expected_version=0,
                              rubric_scores={"0": 1, "1": 0})  # fmt: skip
    assert mark.raw_mark == Decimal(65)
    with pytest.raises(DomainError, match="add up to"):
        services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=70,
                           rubric_scores={"0": 1, "1": 0})  # fmt: skip
    for scores in ({"0": 1, "7": 0}, {"0": 5, "1": 0}, {"0": 1}):
        with pytest.raises(DomainError):
            services.save_mark(submission, actor=tutor, expected_version=mark.version,
                               rubric_scores=scores)  # fmt: skip


def test_late_work_is_penalised_by_the_cohort_policy_unless_waived(world, make):
    cohort, tutor, _, learner = world
    submission = make.submission(make.assignment(cohort), learner, late_working_days=2)
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=68)
    assert (mark.raw_mark, mark.penalty, mark.final_mark) == (68, 10, 58)  # 5 a day by default
    mark = services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=68,
                              penalty_waiver="Mitigating circumstances accepted")  # fmt: skip
    assert (mark.penalty, mark.final_mark) == (0, 68)


def test_release_is_all_ready_marks_together_and_idempotent(world, make):
    cohort, tutor, _, learner = world
    other = make.learner_in(cohort)
    assignment = make.assignment(cohort)
    ready = services.save_mark(make.submission(assignment, learner), actor=tutor,
                               expected_version=0, mark=70)  # fmt: skip
    draft = services.save_mark(make.submission(assignment, other), actor=tutor,
                               expected_version=0, mark=40, complete=False)  # fmt: skip
    assert services.release(assignment, actor=tutor) == [ready]
    assert ready.status == "released" and draft.status == "draft"
    assert services.release(assignment, actor=tutor) == []
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "assignment.release")
        )
        == 2
    )


def test_a_released_mark_changes_only_with_a_reason(world, make):
    cohort, tutor, _, learner = world
    assignment = make.assignment(cohort)
    submission = make.submission(assignment, learner)
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=70)
    services.release(assignment, actor=tutor)
    with pytest.raises(DomainError, match="why"):
        services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=72)
    changed = services.save_mark(submission, actor=tutor, expected_version=mark.version, mark=72,
                                 reason="Arithmetic error on page 3")  # fmt: skip
    assert changed.status == "released" and changed.final_mark == 72
    assert changed.history[-1].reason == "Arithmetic error on page 3"


def test_the_sample_rule_always_second_marks_fails_and_firsts(world, make):
    cohort, tutor, second, learner = world
    assignment = make.assignment(cohort, second_marking="sample", sample_percent=0)
    fail = services.save_mark(make.submission(assignment, learner), actor=tutor,
                              expected_version=0, mark=35)  # fmt: skip
    first = services.save_mark(make.submission(assignment, make.learner_in(cohort)), actor=tutor,
                               expected_version=0, mark=75)  # fmt: skip
    middling = services.save_mark(make.submission(assignment, make.learner_in(cohort)),
                                  actor=tutor, expected_version=0, mark=58)  # fmt: skip
    assert (fail.needs_second_marking, first.needs_second_marking) == (True, True)
    assert middling.needs_second_marking is False
    # Unmoderated fails and firsts are not ready; the middling mark is.
    assert services.release(assignment, actor=tutor) == [middling]


def test_moderation_within_tolerance_keeps_the_first_mark_beyond_it_needs_agreement(world, make):
    cohort, tutor, second, learner = world
    assignment = make.assignment(cohort, second_marking="all")
    close = services.save_mark(make.submission(assignment, learner), actor=tutor,
                               expected_version=0, mark=60)  # fmt: skip
    services.moderate(
        close, actor=second, agreed=False, second_mark=63, comment="Slightly generous"
    )
    assert (close.status, close.agreed_mark) == ("agreed", 60)

    far = services.save_mark(make.submission(assignment, make.learner_in(cohort)), actor=tutor,
                             expected_version=0, mark=48)  # fmt: skip
    services.moderate(
        far, actor=second, agreed=False, second_mark=62, comment="Undervalues analysis"
    )
    assert services.needs_agreement(far)
    assert not services.ready_for_release(far)
    with pytest.raises(DomainError):
        services.agree(far, actor=tutor, agreed_mark=56, comment="")
    services.agree(far, actor=tutor, agreed_mark=56, comment="Met and agreed")
    assert (far.status, far.final_mark) == ("agreed", 56)
    with pytest.raises(DomainError, match="someone other"):
        services.moderate(
            services.save_mark(make.submission(assignment, make.learner_in(cohort)), actor=tutor,
                               expected_version=0, mark=50),
            actor=tutor, agreed=True,
        )  # fmt: skip


def test_results_follow_released_weighted_marks_and_credits(world, make):
    cohort, tutor, _, learner = world
    delivery = cohort.deliveries[0]
    essay = make.assignment(cohort, weight=60)
    exam = make.assignment(cohort, weight=40, max_mark=40)
    services.save_mark(make.submission(essay, learner), actor=tutor, expected_version=0, mark=70)
    services.release(essay, actor=tutor)
    partial = db.session.scalar(sa.select(ModuleResult).where(ModuleResult.user_id == learner.id))
    assert (partial.status, partial.passed, partial.credits) == ("incomplete", False, 0)

    services.save_mark(make.submission(exam, learner), actor=tutor, expected_version=0, mark=20)
    services.release(exam, actor=tutor)
    result = db.session.scalar(sa.select(ModuleResult).where(ModuleResult.user_id == learner.id))
    assert (result.mark, result.passed, result.credits, result.status) == (
        Decimal("62.00"),
        True,
        delivery.module.credits,
        "complete",
    )
    standing = services.programme_standing(learner.id, cohort)
    assert standing["credits"] == delivery.module.credits


def test_a_resit_result_is_capped_at_the_pass_mark(world, make):
    cohort, tutor, _, learner = world
    first = make.assignment(cohort)
    resit = make.assignment(cohort, attempt=2, title="Resit")
    services.save_mark(make.submission(first, learner), actor=tutor, expected_version=0, mark=40)
    services.release(first, actor=tutor)
    services.save_mark(make.submission(resit, learner), actor=tutor, expected_version=0, mark=72)
    services.release(resit, actor=tutor)
    results = {
        r.attempt: r
        for r in db.session.scalars(
            sa.select(ModuleResult).where(ModuleResult.user_id == learner.id)
        )
    }
    assert (results[1].passed, results[2].mark, results[2].capped, results[2].passed) == (
        False,
        Decimal("50.00"),
        True,
        True,
    )


def test_only_submitted_work_can_be_marked(world, make):
    cohort, tutor, _, learner = world
    draft = make.submission(make.assignment(cohort), learner, status="draft")
    with pytest.raises(Conflict):
        services.save_mark(draft, actor=tutor, expected_version=0, mark=50)
