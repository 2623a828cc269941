"""Property-based checks of penalty and result arithmetic (hypothesis)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from academy.marking.arithmetic import (
    Bands,
    PenaltyPolicy,
    Weighted,
    classification,
    credit_weighted_average,
    late_penalty,
    module_outcome,
    weighted_percentage,
)

pytestmark = pytest.mark.no_db

max_marks = st.integers(min_value=1, max_value=200)
policies = st.builds(
    PenaltyPolicy,
    kind=st.sampled_from(["none", "per_day", "cap_at_pass"]),
    marks_per_day=st.integers(min_value=0, max_value=50),
    max_days=st.integers(min_value=0, max_value=20),
)


@st.composite
def marked(draw):
    max_mark = draw(max_marks)
    cents = draw(st.integers(min_value=0, max_value=max_mark * 100))
    return Decimal(cents) / 100, max_mark


@given(marked(), st.integers(min_value=0, max_value=30), policies, st.integers(0, 100))
def test_a_penalty_never_makes_a_mark_negative_and_never_adds(
    mark_and_max, days, policy, pass_mark
):
    mark, max_mark = mark_and_max
    penalty = late_penalty(
        mark, max_mark=max_mark, late_days=days, policy=policy, pass_mark=pass_mark
    )
    assert Decimal(0) <= penalty <= mark


@given(marked(), st.integers(min_value=1, max_value=30), policies, st.integers(0, 100))
def test_waived_or_on_time_work_loses_nothing(mark_and_max, days, policy, pass_mark):
    mark, max_mark = mark_and_max
    assert (
        late_penalty(mark, max_mark=max_mark, late_days=0, policy=policy, pass_mark=pass_mark) == 0
    )
    assert (
        late_penalty(mark, max_mark=max_mark, late_days=days, policy=policy, pass_mark=pass_mark,
                     waived=True)
        == 0
    )  # fmt: skip


@given(marked(), st.integers(min_value=1, max_value=19), st.integers(0, 50), st.integers(0, 20))
def test_per_day_penalties_grow_with_lateness_until_the_mark_is_gone(
    mark_and_max, days, per_day, limit
):
    mark, max_mark = mark_and_max
    policy = PenaltyPolicy("per_day", per_day, limit)
    today = late_penalty(mark, max_mark=max_mark, late_days=days, policy=policy, pass_mark=50)
    tomorrow = late_penalty(
        mark, max_mark=max_mark, late_days=days + 1, policy=policy, pass_mark=50
    )
    assert tomorrow >= today
    if days > limit:
        assert today == mark  # past the last day: zero


def test_per_day_examples():
    policy = PenaltyPolicy("per_day", marks_per_day=5, max_days=5)
    # 5 percentage points of 100 per working day.
    assert late_penalty(Decimal(68), max_mark=100, late_days=2, policy=policy, pass_mark=50) == 10
    # Out of 40, five points of the maximum is 2 marks a day.
    assert late_penalty(Decimal(30), max_mark=40, late_days=3, policy=policy, pass_mark=50) == 6
    assert late_penalty(Decimal(68), max_mark=100, late_days=6, policy=policy, pass_mark=50) == 68


@given(marked(), st.integers(min_value=1, max_value=30), st.integers(0, 100))
def test_capped_late_work_ends_at_most_at_the_pass_mark(mark_and_max, days, pass_mark):
    mark, max_mark = mark_and_max
    policy = PenaltyPolicy("cap_at_pass")
    final = mark - late_penalty(
        mark, max_mark=max_mark, late_days=days, policy=policy, pass_mark=pass_mark
    )
    cap = Decimal(pass_mark) * max_mark / 100
    assert final <= max(cap, Decimal(0)) + Decimal("0.005")
    assert final == min(mark, final)


weights = st.lists(
    st.tuples(marked(), st.integers(min_value=0, max_value=100)), min_size=1, max_size=8
)


@given(weights)
def test_a_weighted_mark_lies_between_the_lowest_and_highest_percentages(items):
    weighted = [Weighted(m, mx, w) for (m, mx), w in items]
    result = weighted_percentage(weighted)
    carrying = [w for w in weighted if w.weight > 0]
    if not carrying:
        assert result is None
        return
    percentages = [Decimal(w.final_mark) * 100 / w.max_mark for w in carrying]
    assert min(percentages) - Decimal("0.005") <= result <= max(percentages) + Decimal("0.005")


def test_weighted_examples():
    # 60% of the module at 70/100 and 40% at 20/40 (50%): 62%.
    items = [Weighted(Decimal(70), 100, 60), Weighted(Decimal(20), 40, 40)]
    assert weighted_percentage(items) == Decimal("62.00")


@given(st.decimals(min_value=0, max_value=100, places=2), st.integers(0, 100), st.booleans())
def test_module_outcomes(mark, pass_mark, resit):
    outcome = module_outcome(mark, pass_mark=pass_mark, credits=15, resit=resit)
    assert outcome.passed == (outcome.mark >= pass_mark)
    assert outcome.credits == (15 if outcome.passed else 0)
    if resit:
        assert outcome.mark <= pass_mark or not outcome.capped
        assert outcome.mark <= max(mark, Decimal(pass_mark))
        assert outcome.mark <= pass_mark or outcome.mark == mark
    else:
        assert outcome.mark == mark and not outcome.capped


def test_a_resit_is_capped_at_the_pass_mark():
    outcome = module_outcome(Decimal(72), pass_mark=50, credits=15, resit=True)
    assert (outcome.mark, outcome.passed, outcome.capped) == (Decimal(50), True, True)


def test_classification_uses_the_credit_weighted_average():
    average = credit_weighted_average([(Decimal(72), 15), (Decimal(58), 15), (Decimal(65), 30)])
    assert average == Decimal("65.00")
    assert classification(average, Bands()) == "Merit"
    assert classification(Decimal("70.00"), Bands()) == "Distinction"
    assert classification(Decimal("49.99"), Bands()) is None
    assert credit_weighted_average([]) is None
