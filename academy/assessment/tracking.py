"""Where each learner stands on an assignment, read for pages in a fixed number of queries.

The learner's "My assignments" list and the tutor's tracking page show the same statuses, worked
out here from a submission and the learner's extensions, so the two pages cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from academy.assessment.models import Assignment, Extension, Submission
from academy.assessment.services import candidate_number
from academy.auth.models import User
from academy.cohorts.models import Enrolment
from academy.core import clock
from academy.extensions import db

#: NHS.UK tag colours by status, so a tutor scanning a long list sees problems first.
COLOURS = {
    "not_started": "grey",
    "draft": "blue",
    "submitted": "green",
    "late": "orange",
    "overdue": "red",
}


@dataclass(frozen=True)
class WorkStatus:
    #: not_started, draft, submitted (on time), late (submitted late) or overdue (not submitted
    #: and past the learner's own deadline).
    key: str
    label: str
    late_working_days: int | None
    #: The approved extension that sets the learner's deadline, if any.
    extension: Extension | None
    #: A request still waiting for a tutor.
    pending_extension: Extension | None
    due_at: datetime

    @property
    def colour(self) -> str:
        return COLOURS[self.key]


def work_status(
    assignment: Assignment, submission: Submission | None, extensions: list[Extension]
) -> WorkStatus:
    """The status of one learner's work, given their submission and extension requests."""
    approved = [e for e in extensions if e.status == "approved"]
    extension = max(approved, key=lambda e: e.granted_due_at, default=None)
    pending = next((e for e in extensions if e.status == "pending"), None)
    due_at = extension.granted_due_at if extension else assignment.due_at
    late = None
    if submission is not None and submission.status == "submitted":
        late = submission.late_working_days or 0
        if late:
            days = "working day" if late == 1 else "working days"
            key, label = "late", f"Submitted {late} {days} late"
        else:
            key, label = "submitted", "Submitted on time"
    else:
        key = "draft" if submission is not None else "not_started"
        label = "Draft" if submission is not None else "Not started"
        if clock.now() > due_at:
            key, label = "overdue", f"{label}, past the deadline"
    return WorkStatus(key, label, late, extension, pending, due_at)


def statuses_for_learner(user_id: int, assignments: list[Assignment]) -> dict[int, WorkStatus]:
    """One learner's status on each assignment: two queries, however many assignments."""
    ids = [a.id for a in assignments]
    if not ids:
        return {}
    submissions = {
        s.assignment_id: s
        for s in db.session.scalars(
            sa.select(Submission).where(
                Submission.user_id == user_id, Submission.assignment_id.in_(ids)
            )
        )
    }
    extensions: dict[int, list[Extension]] = defaultdict(list)
    for extension in db.session.scalars(
        sa.select(Extension)
        .where(Extension.user_id == user_id, Extension.assignment_id.in_(ids))
        .order_by(Extension.id)
    ):
        extensions[extension.assignment_id].append(extension)
    return {
        a.id: work_status(a, submissions.get(a.id), extensions.get(a.id, [])) for a in assignments
    }


@dataclass(frozen=True)
class TrackingRow:
    learner: User
    #: Set while the assignment is anonymous; the page shows it instead of the name.
    candidate_number: str | None
    submission: Submission | None
    status: WorkStatus

    @property
    def shown_as(self) -> str:
        return self.candidate_number or self.learner.name


def cohort_tracking(assignment: Assignment) -> list[TrackingRow]:
    """Every active learner of the assignment's cohort with their status: three queries (the
    learners, all their submissions, all their extensions), whatever the cohort's size."""
    learners = db.session.scalars(
        sa.select(User)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.cohort_id == assignment.delivery.cohort_id, Enrolment.status == "active")
        .order_by(User.name, User.id)
    ).all()
    submissions = {
        s.user_id: s
        for s in db.session.scalars(
            sa.select(Submission).where(Submission.assignment_id == assignment.id)
        )
    }
    extensions: dict[int, list[Extension]] = defaultdict(list)
    for extension in db.session.scalars(
        sa.select(Extension).where(Extension.assignment_id == assignment.id).order_by(Extension.id)
    ):
        extensions[extension.user_id].append(extension)
    rows = [
        TrackingRow(
            learner=learner,
            candidate_number=(
                candidate_number(assignment.id, learner.id) if assignment.anonymous else None
            ),
            submission=submissions.get(learner.id),
            status=work_status(assignment, submissions.get(learner.id), extensions[learner.id]),
        )
        for learner in learners
    ]
    if assignment.anonymous:
        # Sorted by name, the order itself would give the names away.
        rows.sort(key=lambda row: row.candidate_number)
    return rows


def shown_name(assignment: Assignment, user: User) -> str:
    """How staff pages name a learner on this assignment: a candidate number while anonymous."""
    if assignment.anonymous:
        return candidate_number(assignment.id, user.id)
    return user.name


def download_name(file, viewer) -> str:
    """The name a file downloads under. Staff fetching anonymous work get the candidate number
    and the file's position instead of the learner's own file name, which may name them."""
    submission = file.submission
    assignment = submission.assignment
    if not assignment.anonymous or submission.user_id == viewer.id:
        return file.name
    position = next(n for n, f in enumerate(submission.files, start=1) if f.id == file.id)
    number = candidate_number(assignment.id, submission.user_id)
    return f"{number}-file-{position}.{file.file_type}"
