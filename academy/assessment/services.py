"""Every change to assignments, submissions and extensions. Functions flush; the caller commits.

The deadline rules live here and nowhere else, so the HTML form and the API cannot disagree
about what a learner may do (Moodle's CVE-2016-2159 was one path forgetting the cut-off).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from academy.assessment.models import (
    SECOND_MARKING_RULES,
    SUBMISSION_TYPES,
    Assignment,
    Extension,
    Submission,
    SubmissionFile,
    SubmissionReceipt,
)
from academy.audit import services as audit
from academy.cohorts.models import ModuleDelivery
from academy.core import calendar, clock
from academy.core.errors import Conflict, DomainError
from academy.core.uploads import store_upload
from academy.extensions import db

MAX_FILES_PER_SUBMISSION = 10

ASSIGNMENT_FIELDS = (
    "title", "brief", "brief_format", "opens_at", "due_at", "cutoff_at", "weight", "max_mark",
    "allowed_types", "max_size_mb", "anonymous", "second_marking", "sample_percent", "rubric",
)  # fmt: skip


def check_version(obj, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != obj.version:
        raise Conflict(
            f"This record was changed by someone else (now version {obj.version}); "
            "reload it and try again",
            field="version",
        )


# --- assignments -------------------------------------------------------------------------------


def _validate_assignment(assignment: Assignment) -> None:
    if not (assignment.title or "").strip():
        raise DomainError("Enter a title", field="title")
    if not (assignment.opens_at <= assignment.due_at):
        raise DomainError("The due time must be on or after the opening time", field="due_at")
    if not (assignment.due_at <= assignment.cutoff_at):
        raise DomainError("The cut-off must be on or after the due time", field="cutoff_at")
    if not 0 <= assignment.weight <= 100:
        raise DomainError("Weight must be a percentage from 0 to 100", field="weight")
    if assignment.max_mark is None or assignment.max_mark <= 0:
        raise DomainError("The maximum mark must be more than 0", field="max_mark")
    if not assignment.allowed_types:
        raise DomainError("Allow at least one file type", field="allowed_types")
    unknown = [t for t in assignment.allowed_types if t not in SUBMISSION_TYPES]
    if unknown:
        raise DomainError(
            f"Unknown file types: {', '.join(unknown)}. Choose from {', '.join(SUBMISSION_TYPES)}",
            field="allowed_types",
        )
    if not 1 <= assignment.max_size_mb <= 100:
        raise DomainError("The size limit must be from 1 to 100 MB", field="max_size_mb")
    if assignment.second_marking not in SECOND_MARKING_RULES:
        raise DomainError(
            f"Second marking must be one of: {', '.join(SECOND_MARKING_RULES)}",
            field="second_marking",
        )
    if assignment.second_marking == "sample":
        if assignment.sample_percent is None or not 1 <= assignment.sample_percent <= 100:
            raise DomainError(
                "Give the sample as a percentage from 1 to 100", field="sample_percent"
            )
    else:
        assignment.sample_percent = None
    _validate_rubric(assignment.rubric, assignment.max_mark)


def _validate_rubric(rubric, max_mark: int) -> None:
    """A rubric is criteria, each with levels worth marks; the best levels add up to max_mark."""
    if rubric is None:
        return
    criteria = rubric.get("criteria") if isinstance(rubric, dict) else None
    if not isinstance(criteria, list) or not criteria:
        raise DomainError("A rubric needs at least one criterion", field="rubric")
    best_total = 0
    for number, criterion in enumerate(criteria, start=1):
        levels = criterion.get("levels") if isinstance(criterion, dict) else None
        if not isinstance(criterion, dict) or not str(criterion.get("title", "")).strip():
            raise DomainError(f"Criterion {number} needs a title", field="rubric")
        if not isinstance(levels, list) or len(levels) < 2:
            raise DomainError(f"Criterion {number} needs at least two levels", field="rubric")
        marks = []
        for level in levels:
            value = level.get("marks") if isinstance(level, dict) else None
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise DomainError(
                    f"Each level of criterion {number} needs marks of 0 or more", field="rubric"
                )
            if not str(level.get("title", "")).strip():
                raise DomainError(f"Each level of criterion {number} needs a title", field="rubric")
            marks.append(value)
        best_total += max(marks)
    if best_total != max_mark:
        raise DomainError(
            f"The rubric's best levels add up to {best_total:g}, not the maximum mark {max_mark}",
            field="rubric",
        )


def create_assignment(*, actor, delivery: ModuleDelivery, **fields) -> Assignment:
    unknown = set(fields) - set(ASSIGNMENT_FIELDS)
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}")
    assignment = Assignment(delivery=delivery, delivery_id=delivery.id)
    for name in ASSIGNMENT_FIELDS:
        if name in fields and fields[name] is not None:
            setattr(assignment, name, fields[name])
    _apply_defaults(assignment)
    _validate_assignment(assignment)
    db.session.add(assignment)
    db.session.flush()
    audit.record("assignment.create", actor=actor, obj=assignment, after=_snapshot(assignment))
    return assignment


def _apply_defaults(assignment: Assignment) -> None:
    for name, default in (
        ("brief", ""), ("brief_format", "markdown"), ("weight", 100), ("max_mark", 100),
        ("allowed_types", ["pdf", "docx"]), ("max_size_mb", 20), ("anonymous", False),
        ("second_marking", "none"),
    ):  # fmt: skip
        if getattr(assignment, name) is None:
            setattr(assignment, name, default)
    if assignment.cutoff_at is None and assignment.due_at is not None:
        assignment.cutoff_at = assignment.due_at
    for name in ("opens_at", "due_at", "cutoff_at"):
        if getattr(assignment, name) is None:
            raise DomainError("Give the opening, due and cut-off times", field=name)


def update_assignment(
    assignment: Assignment, *, actor, expected_version: int | None = None, **fields
) -> Assignment:
    check_version(assignment, expected_version)
    before = _snapshot(assignment)
    for name in ASSIGNMENT_FIELDS:
        if name in fields:
            setattr(assignment, name, fields[name])
    _apply_defaults(assignment)
    _validate_assignment(assignment)
    db.session.flush()
    old, new = audit.changes(before, _snapshot(assignment))
    if new:
        audit.record("assignment.update", actor=actor, obj=assignment, before=old, after=new)
    return assignment


def _snapshot(assignment: Assignment) -> dict:
    data = {}
    for name in ASSIGNMENT_FIELDS:
        value = getattr(assignment, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    return data


# --- deadlines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    cutoff_at: datetime
    extension: Extension | None

    @property
    def extended(self) -> bool:
        return self.extension is not None


def approved_extension(assignment: Assignment, user_id: int) -> Extension | None:
    return db.session.scalar(
        sa.select(Extension)
        .where(
            Extension.assignment_id == assignment.id,
            Extension.user_id == user_id,
            Extension.status == "approved",
        )
        .order_by(Extension.granted_due_at.desc())
        .limit(1)
    )


def deadline_for(assignment: Assignment, user_id: int) -> Deadline:
    """The learner's own deadline: the assignment's, moved by an approved extension."""
    extension = approved_extension(assignment, user_id)
    if extension is None:
        return Deadline(assignment.due_at, assignment.cutoff_at, None)
    return Deadline(extension.granted_due_at, extension.granted_cutoff_at, extension)


def nation_of(assignment: Assignment) -> str:
    return assignment.delivery.cohort.nation


def working_days_left(assignment: Assignment, user_id: int) -> int:
    deadline = deadline_for(assignment, user_id)
    now = clock.now()
    if now >= deadline.due_at:
        return 0
    return calendar.working_days_between(
        calendar.uk_date(now), calendar.uk_date(deadline.due_at), nation_of(assignment)
    )


def _check_open_for_work(assignment: Assignment, user_id: int) -> Deadline:
    now = clock.now()
    if now < assignment.opens_at:
        raise Conflict("This assignment is not open for submissions yet")
    deadline = deadline_for(assignment, user_id)
    if now > deadline.cutoff_at:
        raise Conflict(
            "The cut-off for this assignment has passed. Ask your tutor about an extension."
        )
    return deadline


def accepting_work(assignment: Assignment, user_id: int) -> bool:
    """Whether an upload or submit from this learner would pass the deadline rules now, so a
    page offers only what the services will accept."""
    try:
        _check_open_for_work(assignment, user_id)
    except Conflict:
        return False
    return True


# --- submissions -------------------------------------------------------------------------------


def submission_for(assignment: Assignment, user_id: int) -> Submission | None:
    return db.session.scalar(
        sa.select(Submission).where(
            Submission.assignment_id == assignment.id, Submission.user_id == user_id
        )
    )


def _draft_for(assignment: Assignment, user) -> Submission:
    """The learner's submission, made on first use. Two first uploads at once make one: the
    unique constraint refuses the second insert, which then finds the first."""
    existing = submission_for(assignment, user.id)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            submission = Submission(assignment_id=assignment.id, user_id=user.id, status="draft")
            db.session.add(submission)
    except sa.exc.IntegrityError:
        existing = submission_for(assignment, user.id)
        if existing is None:
            raise
        return existing
    return submission


def add_file(assignment: Assignment, user, stream: BinaryIO, file_name: str) -> SubmissionFile:
    """Add a file to the learner's draft, replacing one of the same name. The bytes are stored
    (and checked) before any row is written, so a failure leaves nothing behind."""
    _check_open_for_work(assignment, user.id)
    submission = submission_for(assignment, user.id)
    if submission is not None and submission.status != "draft":
        raise Conflict("You have already submitted this work. Ask your tutor to reopen it.")

    stored = store_upload(
        stream, file_name, allowed_types=assignment.allowed_types, max_mb=assignment.max_size_mb
    )
    name, file_type = stored.name, stored.file_type

    submission = _draft_for(assignment, user)
    same_name = [f for f in submission.files if f.name == name]
    for old in same_name:
        submission.files.remove(old)
    if len(submission.files) >= MAX_FILES_PER_SUBMISSION:
        raise DomainError(
            f"A submission can hold {MAX_FILES_PER_SUBMISSION} files at most", field="file"
        )
    added = SubmissionFile(
        name=name, sha256=stored.sha256, size=stored.size, file_type=file_type.ext
    )
    submission.files.append(added)
    db.session.flush()
    audit.record(
        "submission.file_add",
        actor=user,
        obj=submission,
        after={"name": name, "sha256": stored.sha256, "size": stored.size,
               "replaced": [f.sha256 for f in same_name]},
    )  # fmt: skip
    return added


def remove_file(submission: Submission, file: SubmissionFile, actor) -> None:
    if submission.status != "draft":
        raise Conflict("You have already submitted this work. Ask your tutor to reopen it.")
    _check_open_for_work(submission.assignment, submission.user_id)
    submission.files.remove(file)
    db.session.flush()
    audit.record("submission.file_remove", actor=actor, obj=submission, after={"name": file.name})


def receipt_hash(files: list[dict]) -> str:
    """One SHA-256 naming the whole submission: over each file's name and hash, in order."""
    canonical = json.dumps(
        [[f["name"], f["sha256"]] for f in files], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(submission: Submission, *, declaration: bool, actor) -> SubmissionReceipt:
    """Hand the draft in. Locks it, works out lateness in working days, and keeps a receipt."""
    if declaration is not True:
        raise DomainError("Confirm that this is your own work", field="declaration")
    assignment = submission.assignment
    deadline = _check_open_for_work(assignment, submission.user_id)
    if not submission.files:
        raise DomainError("Add at least one file before you submit", field="file")
    now = clock.now()
    late = calendar.working_days_late(deadline.due_at, now, nation_of(assignment))
    # One conditional UPDATE: of two submits racing, exactly one finds the draft.
    table = Submission.__table__
    result = db.session.execute(
        sa.update(table)
        .where(table.c.id == submission.id, table.c.status == "draft")
        .values(status="submitted", submitted_at=now, late_working_days=late,
                version=table.c.version + 1)
    )  # fmt: skip
    if result.rowcount != 1:
        raise Conflict("This work has already been submitted")
    db.session.refresh(submission)
    files = [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in submission.files]
    receipt = SubmissionReceipt(
        submission_id=submission.id,
        submitted_at=now,
        sha256=receipt_hash(files),
        files=files,
        late_working_days=late,
    )
    db.session.add(receipt)
    db.session.flush()
    audit.record(
        "submission.submit",
        actor=actor,
        obj=submission,
        after={"receipt": receipt.sha256, "late_working_days": late},
    )
    return receipt


def reopen(submission: Submission, *, actor, reason: str) -> Submission:
    """Unlock submitted work so the learner can change it (a tutor's or admin's decision)."""
    if not (reason or "").strip():
        raise DomainError("Give a reason for reopening", field="reason")
    if submission.status != "submitted":
        raise Conflict("Only submitted work can be reopened")
    submission.status = "draft"
    db.session.flush()
    audit.record("submission.reopen", actor=actor, obj=submission, after={"reason": reason.strip()})
    return submission


def send_receipt(receipt: SubmissionReceipt) -> None:
    """Queue the receipt email in the submission's own transaction, so no email describes work
    that was not saved."""
    from academy.core.urls import external_url
    from academy.notifications.mail import send_email

    submission = receipt.submission
    send_email(
        submission.user.email,
        f"Receipt: {submission.assignment.title}",
        "submission_receipt",
        receipt=receipt,
        submission=submission,
        assignment=submission.assignment,
        link=external_url("assessment.receipt", receipt_id=receipt.id),
    )


def candidate_number(assignment_id: int, user_id: int) -> str:
    """A stable, unguessable number standing for a learner on one assignment while it is marked
    anonymously: the same learner gets different numbers on different assignments."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"candidate:{assignment_id}:{user_id}".encode(), "sha256").hexdigest()
    return f"C{int(digest[:12], 16) % 10**7:07d}"


# --- extensions --------------------------------------------------------------------------------


def request_extension(
    assignment: Assignment, user, *, reason: str, requested_due_at: datetime
) -> Extension:
    """Ask for more time. Requests within the cohort's self-certification limit (in working
    days) are approved at once; longer ones wait for a tutor."""
    if not (reason or "").strip():
        raise DomainError("Tell us why you need more time", field="reason")
    now = clock.now()
    deadline = deadline_for(assignment, user.id)
    if now > deadline.cutoff_at:
        raise Conflict("The cut-off has passed, so an extension can no longer be requested")
    if requested_due_at <= deadline.due_at:
        raise DomainError(
            "The new date must be after the current due date", field="requested_due_at"
        )
    pending = db.session.scalar(
        sa.select(Extension.id).where(
            Extension.assignment_id == assignment.id,
            Extension.user_id == user.id,
            Extension.status == "pending",
        )
    )
    if pending is not None:
        raise Conflict("You already have a request waiting for a decision")
    extension = Extension(
        assignment_id=assignment.id,
        user_id=user.id,
        reason=reason.strip(),
        requested_due_at=requested_due_at,
        status="pending",
    )
    db.session.add(extension)
    limit = assignment.delivery.cohort.self_certified_extension_days
    extra_days = calendar.working_days_between(
        calendar.uk_date(deadline.due_at), calendar.uk_date(requested_due_at), nation_of(assignment)
    )
    if extra_days <= limit:
        _approve(extension, requested_due_at, actor=None)
        extension.self_certified = True
        extension.decision_comment = f"Self-certified: {extra_days} working days, within {limit}"
    db.session.flush()
    audit.record(
        "extension.request",
        actor=user,
        obj=extension,
        after={"requested_due_at": requested_due_at.isoformat(), "status": extension.status,
               "self_certified": extension.self_certified},
    )  # fmt: skip
    return extension


def _approve(extension: Extension, due_at: datetime, actor) -> None:
    assignment = extension.assignment or db.session.get(Assignment, extension.assignment_id)
    # The cut-off moves with the due date, keeping the same grace the assignment gives everyone.
    extension.status = "approved"
    extension.granted_due_at = due_at
    extension.granted_cutoff_at = due_at + (assignment.cutoff_at - assignment.due_at)
    extension.decided_by_id = getattr(actor, "id", None)
    extension.decided_at = clock.now()


def decide_extension(
    extension: Extension,
    *,
    actor,
    approved: bool,
    due_at: datetime | None = None,
    comment: str = "",
    expected_version: int | None = None,
) -> Extension:
    check_version(extension, expected_version)
    if extension.status != "pending":
        raise Conflict("This request has already been decided")
    comment = (comment or "").strip()
    if approved:
        due_at = due_at or extension.requested_due_at
        if due_at <= extension.assignment.due_at:
            raise DomainError("The new due date must be after the original one", field="due_at")
        _approve(extension, due_at, actor)
    else:
        if not comment:
            raise DomainError("Say why the request is declined", field="comment")
        extension.status = "declined"
        extension.decided_by_id = actor.id
        extension.decided_at = clock.now()
    extension.decision_comment = comment
    db.session.flush()
    audit.record(
        "extension.decide",
        actor=actor,
        obj=extension,
        after={"status": extension.status, "granted_due_at": extension.granted_due_at.isoformat()
               if extension.granted_due_at else None, "comment": comment},
    )  # fmt: skip
    send_extension_decision(extension)
    return extension


def send_extension_decision(extension: Extension) -> None:
    """Tell the learner a tutor's decision (template `email/extension_decision`), in the
    decision's own transaction."""
    from academy.core.urls import external_url
    from academy.notifications.mail import send_email

    assignment = extension.assignment
    send_email(
        extension.user.email,
        f"Extension {extension.status}: {assignment.title}",
        "extension_decision",
        user=extension.user,
        extension=extension,
        assignment=assignment,
        link=external_url("assessment.assignment", assignment_id=assignment.id),
    )
