"""One learner as a sponsoring organisation sees them: each enrolment it sponsored, where each
assignment stands, module outcomes and credentials; marks and released feedback only when the
learner has chosen to share them. Never a submission's content or its files.

The headline status and reasons come from the organisation report itself, so this page and the
dashboard that links to it cannot disagree. Enrolments another organisation sponsored stay with
that organisation; the learner's credentials are shown whoever sponsored them, as on the
dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from markupsafe import Markup

from academy.assessment.models import Assignment, Submission
from academy.assessment.tracking import statuses_for_learner
from academy.auth.models import User
from academy.catalogue.models import Module
from academy.core.richtext import to_safe_html
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking.gradebook import result_text
from academy.marking.models import Mark, ModuleResult
from academy.organisations.models import Organisation
from academy.reporting.progress import (
    LearnerProgress,
    assignments_by_cohort,
    organisation_report,
)

#: A sponsor's words for the tracking statuses: whether work came in on time, not what it holds.
WORK_STATUSES = {
    "submitted": ("on_time", "On time"),
    "late": ("late", "Late"),
    "overdue": ("missing", "Missing"),
    "draft": ("upcoming", "Not due yet"),
    "not_started": ("upcoming", "Not due yet"),
}


@dataclass(frozen=True)
class WorkRow:
    assignment: Assignment
    #: on_time, late, missing or upcoming.
    key: str
    label: str
    late_working_days: int | None
    #: The learner's own deadline, moved by any extension granted.
    due_at: datetime
    extended: bool
    #: The released mark, only for a learner who shares marks with their sponsor.
    mark: Mark | None = None
    feedback: Markup | None = None


@dataclass(frozen=True)
class ModuleOutcome:
    module: Module
    #: The attempt that counts (a pass over a fail, else the later attempt), if any.
    result: ModuleResult | None

    @property
    def outcome(self) -> str:
        return result_text(self.result)

    @property
    def credits(self) -> int:
        return self.result.credits if self.result is not None and self.result.passed else 0


@dataclass(frozen=True)
class EnrolmentRecord:
    progress: LearnerProgress
    work: list[WorkRow]
    modules: list[ModuleOutcome]


@dataclass(frozen=True)
class LearnerRecord:
    user: User
    #: Employed by the organisation (so its sponsor sees their credentials even unsponsored).
    is_staff: bool
    shares_marks: bool
    enrolments: list[EnrolmentRecord]
    credentials: list[Credential]


def _released_marks(user_id: int, assignment_ids: set[int]) -> dict[int, Mark]:
    if not assignment_ids:
        return {}
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Submission, Submission.id == Mark.submission_id)
        .where(
            Submission.user_id == user_id,
            Submission.assignment_id.in_(assignment_ids),
            Mark.status == "released",
        )
    )
    return {mark.submission.assignment_id: mark for mark in marks}


def _best_results(user_id: int, cohort_ids: set[int]) -> dict[tuple[int, int], ModuleResult]:
    """The result that counts for each (cohort, module)."""
    best: dict[tuple[int, int], ModuleResult] = {}
    if not cohort_ids:
        return best
    results = db.session.scalars(
        sa.select(ModuleResult).where(
            ModuleResult.user_id == user_id, ModuleResult.cohort_id.in_(cohort_ids)
        )
    )
    for result in results:
        key = (result.cohort_id, result.module_id)
        held = best.get(key)
        if held is None or (result.passed, result.attempt) > (held.passed, held.attempt):
            best[key] = result
    return best


def _work_row(assignment: Assignment, status, mark: Mark | None) -> WorkRow:
    key, label = WORK_STATUSES[status.key]
    if key == "late":
        days = status.late_working_days
        label = f"Late by {days} working day{'' if days == 1 else 's'}"
    return WorkRow(
        assignment=assignment,
        key=key,
        label=label,
        late_working_days=status.late_working_days,
        due_at=status.due_at,
        extended=status.extension is not None,
        mark=mark,
        feedback=to_safe_html(mark.feedback) if mark is not None and mark.feedback else None,
    )


def learner_record(organisation: Organisation, user_id: int) -> LearnerRecord | None:
    """What `organisation`'s sponsors may see of one learner, or None when the learner is
    neither sponsored by it nor on its staff (the page answers 404 then)."""
    user = db.session.get(User, user_id)
    if user is None:
        return None
    progress = [p for p in organisation_report(organisation).learners if p.user.id == user.id]
    is_staff = user.organisation_id == organisation.id
    if not progress and not is_staff:
        return None
    progress.sort(key=lambda p: (p.cohort.starts_on, p.enrolment.id), reverse=True)
    cohort_ids = {p.cohort.id for p in progress}
    assignments = assignments_by_cohort(cohort_ids)
    every_assignment = [a for items in assignments.values() for a in items]
    statuses = statuses_for_learner(user.id, every_assignment)
    shares = user.shares_marks_with_sponsor
    marks = _released_marks(user.id, {a.id for a in every_assignment}) if shares else {}
    results = _best_results(user.id, cohort_ids)
    enrolments = []
    for item in progress:
        work = [_work_row(a, statuses[a.id], marks.get(a.id)) for a in assignments[item.cohort.id]]
        modules = [
            ModuleOutcome(delivery.module, results.get((item.cohort.id, delivery.module_id)))
            for delivery in item.cohort.deliveries
        ]
        enrolments.append(EnrolmentRecord(item, work, modules))
    credentials = db.session.scalars(
        sa.select(Credential)
        .where(Credential.user_id == user.id)
        .order_by(Credential.issued_at.desc(), Credential.id.desc())
    ).all()
    return LearnerRecord(
        user=user,
        is_staff=is_staff,
        shares_marks=shares,
        enrolments=enrolments,
        credentials=list(credentials),
    )
