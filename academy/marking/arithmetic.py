"""The sums of marking, kept pure so they can be checked exhaustively: late penalties, weighted
module marks, resit caps, programme classification. Marks are Decimals rounded half up to 2dp."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def rounded(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PenaltyPolicy:
    #: `none`, `per_day` or `cap_at_pass`.
    kind: str = "per_day"
    #: Percentage points of the maximum mark per working day late.
    marks_per_day: int = 5
    #: Later than this many working days, the mark is zero.
    max_days: int = 5


def late_penalty(
    mark: Decimal,
    *,
    max_mark: int,
    late_days: int,
    policy: PenaltyPolicy,
    pass_mark: int,
    waived: bool = False,
) -> Decimal:
    """Marks to take off `mark` (out of `max_mark`) for work `late_days` working days late.

    Never more than the mark itself, so the final mark is never below zero. `pass_mark` is a
    percentage, as modules define it."""
    mark = Decimal(mark)
    if waived or late_days <= 0 or policy.kind == "none" or mark <= 0:
        return Decimal("0.00")
    if policy.kind == "cap_at_pass":
        cap = Decimal(pass_mark) * max_mark / 100
        return rounded(max(Decimal(0), mark - cap))
    if late_days > policy.max_days:
        return rounded(mark)
    deduction = Decimal(policy.marks_per_day) * max_mark / 100 * late_days
    return rounded(min(mark, deduction))


@dataclass(frozen=True)
class Weighted:
    final_mark: Decimal
    max_mark: int
    weight: int


def weighted_percentage(items: Iterable[Weighted]) -> Decimal | None:
    """The weighted average of the items' percentages; None when nothing carries weight."""
    items = list(items)
    total_weight = sum(item.weight for item in items)
    if total_weight <= 0:
        return None
    total = sum(
        Decimal(item.weight) * Decimal(item.final_mark) * 100 / item.max_mark for item in items
    )
    return rounded(total / total_weight)


@dataclass(frozen=True)
class Outcome:
    mark: Decimal
    passed: bool
    credits: int
    capped: bool


def module_outcome(mark: Decimal, *, pass_mark: int, credits: int, resit: bool) -> Outcome:
    """Pass at the module's pass mark, with its credits; a resit is capped at the pass mark."""
    mark = rounded(mark)
    capped = resit and mark > pass_mark
    if capped:
        mark = rounded(Decimal(pass_mark))
    passed = mark >= pass_mark
    return Outcome(mark=mark, passed=passed, credits=credits if passed else 0, capped=capped)


@dataclass(frozen=True)
class Bands:
    pass_band: int = 50
    merit_band: int = 60
    distinction_band: int = 70


def classification(average: Decimal | None, bands: Bands) -> str | None:
    if average is None:
        return None
    if average >= bands.distinction_band:
        return "Distinction"
    if average >= bands.merit_band:
        return "Merit"
    if average >= bands.pass_band:
        return "Pass"
    return None


def credit_weighted_average(results: Iterable[tuple[Decimal, int]]) -> Decimal | None:
    """Average of module marks weighted by each module's credits: `(mark, credits)` pairs."""
    results = list(results)
    credits = sum(c for _, c in results)
    if credits <= 0:
        return None
    return rounded(sum(Decimal(m) * c for m, c in results) / credits)
