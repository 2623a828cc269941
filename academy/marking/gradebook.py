"""A cohort's gradebook: every learner against every assignment, with module results.

Read in a fixed number of queries whatever the cohort's size (the learners, the assignments, all
submissions with their marks, all results: one query each), so 2,000 learners by 50 assignments
costs what 3 by 2 does. Cells of anonymous assignments show nothing of a learner's work until
their mark is released: a mark, a status or a link beside a name would undo the anonymity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from academy.assessment.models import Assignment, Submission
from academy.auth.models import User
from academy.catalogue.models import Module
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core import spreadsheets
from academy.extensions import db
from academy.marking.models import Mark, ModuleResult

#: What staff read in a cell, by mark status ("none": submitted, nobody has started marking).
STATUS_LABELS = {
    "none": "Not marked",
    "draft": "Draft mark",
    "marked": "Marked",
    "second_marked": "Markers disagree",
    "agreed": "Agreed",
    "ratified": "Ratified",
    "released": "Released",
}
HIDDEN = "Anonymous until released"
NOT_SUBMITTED = "Not submitted"
BLIND = "Waiting for blind second marking"


@dataclass(frozen=True)
class Cell:
    label: str
    #: The final mark, when the viewer may see it beside the learner's name.
    mark: Decimal | None = None
    #: The submission to open, only where that reveals nothing.
    submission_id: int | None = None
    released: bool = False


@dataclass(frozen=True)
class Row:
    learner_id: int
    name: str
    email: str
    enrolment_status: str
    cells: list[Cell]
    #: Aligned with `Gradebook.modules`; None where there is no result yet.
    results: list[ModuleResult | None]


@dataclass(frozen=True)
class Gradebook:
    cohort: Cohort
    assignments: list[Assignment]
    modules: list[Module]
    rows: list[Row]


def _cell(assignment: Assignment, found: tuple | None) -> Cell:
    """`found` is `(submission id, submission status, mark status, final mark, needs second
    marking)`, or None when the learner has no submission."""
    submission_id, submission_status, mark_status, final_mark, second = found or (None,) * 5
    if mark_status == "released":
        return Cell(STATUS_LABELS["released"], final_mark, submission_id, released=True)
    if assignment.anonymous:
        return Cell(HIDDEN)
    if submission_status != "submitted":
        return Cell(NOT_SUBMITTED)
    if mark_status == "marked" and second and not assignment.open_second_marking:
        # Blind second marking: the second marker must not find the first mark here.
        return Cell(BLIND, None, submission_id)
    return Cell(STATUS_LABELS[mark_status or "none"], final_mark, submission_id)


def _best(results: list[ModuleResult]) -> ModuleResult:
    """The result that counts: a pass over a fail, else the later attempt."""
    return max(results, key=lambda r: (r.passed, r.attempt))


def build_gradebook(cohort: Cohort) -> Gradebook:
    learners = db.session.execute(
        sa.select(User.id, User.name, User.email, Enrolment.status)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.cohort_id == cohort.id)
        .order_by(User.name, User.id)
    ).all()
    assignments = list(
        db.session.scalars(
            sa.select(Assignment)
            .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
            .where(ModuleDelivery.cohort_id == cohort.id)
            .order_by(ModuleDelivery.starts_on, ModuleDelivery.id, Assignment.due_at, Assignment.id)
        )
    )
    work: dict[tuple[int, int], tuple] = {}
    for user_id, assignment_id, *found in db.session.execute(
        sa.select(
            Submission.user_id,
            Submission.assignment_id,
            Submission.id,
            Submission.status,
            Mark.status,
            Mark.final_mark,
            Mark.needs_second_marking,
        )
        .outerjoin(Mark, Mark.submission_id == Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .where(ModuleDelivery.cohort_id == cohort.id)
    ):
        work[(user_id, assignment_id)] = tuple(found)
    by_learner_module: dict[tuple[int, int], list[ModuleResult]] = {}
    for result in db.session.scalars(
        sa.select(ModuleResult).where(ModuleResult.cohort_id == cohort.id)
    ):
        by_learner_module.setdefault((result.user_id, result.module_id), []).append(result)

    modules: list[Module] = []
    for assignment in assignments:
        if assignment.delivery.module not in modules:
            modules.append(assignment.delivery.module)
    rows = []
    for user_id, name, email, status in learners:
        cells = [_cell(a, work.get((user_id, a.id))) for a in assignments]
        results = []
        for module in modules:
            found = by_learner_module.get((user_id, module.id))
            results.append(_best(found) if found else None)
        rows.append(Row(user_id, name, email, status, cells, results))
    return Gradebook(cohort, assignments, modules, rows)


# --- CSV ---------------------------------------------------------------------------------------


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def result_text(result: ModuleResult | None) -> str:
    if result is None:
        return "No result yet"
    if result.status != "complete":
        return "In progress"
    return "Passed" if result.passed else "Not passed"


def csv_lines(book: Gradebook) -> Iterator[str]:
    """The gradebook as CSV text, a line at a time, so a large cohort streams."""
    header = ["Learner", "Email", "Enrolment"]
    for a in book.assignments:
        title = f"{a.delivery.module.code} {a.title}"
        header += [f"{title}: mark out of {a.max_mark}", f"{title}: status"]
    for m in book.modules:
        header += [f"{m.code} result %", f"{m.code} outcome", f"{m.code} credits"]

    def rows():
        for row in book.rows:
            values = [row.name, row.email, row.enrolment_status]
            for cell in row.cells:
                values += [_number(cell.mark), cell.label]
            for result in row.results:
                values += [
                    _number(result.mark) if result else "",
                    result_text(result),
                    result.credits if result else 0,
                ]
            yield values

    return spreadsheets.csv_lines(header, rows())
