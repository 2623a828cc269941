"""Every change to marks and results. Functions flush; the caller commits (and, after the
commit, sends the release emails).

A save always names the `version` it read: a stale one is refused with the current state, so
two markers never silently overwrite each other. Every change leaves a MarkHistory row.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from academy.assessment.models import Assignment, Submission
from academy.audit import services as audit
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core import calendar, clock
from academy.core.errors import Conflict, DomainError
from academy.core.uploads import store_upload
from academy.extensions import db
from academy.marking import arithmetic
from academy.marking.models import Mark, MarkHistory, ModuleResult

#: A first-class (distinction-level) percentage, always second marked under the sample rule.
FIRST_CLASS = 70
#: What a marker may attach as written feedback: documents only, never pages or images.
FEEDBACK_FILE_TYPES = ("pdf", "docx", "odt", "txt")
FEEDBACK_FILE_MAX_MB = 20


class StaleMark(Conflict):
    """A save based on an old version; carries the mark as it is now."""

    def __init__(self, mark: Mark | None):
        super().__init__(
            "Someone else has saved this mark since you opened it. Check their changes and "
            "save again.",
            field="version",
            extra={"current": snapshot(mark) if mark else None},
        )


def mark_for(submission: Submission) -> Mark | None:
    return db.session.scalar(sa.select(Mark).where(Mark.submission_id == submission.id))


def marks_for(submissions) -> dict[int, Mark]:
    """The marks of many submissions in one query, by submission id."""
    ids = [submission.id for submission in submissions]
    if not ids:
        return {}
    marks = db.session.scalars(sa.select(Mark).where(Mark.submission_id.in_(ids)))
    return {mark.submission_id: mark for mark in marks}


def snapshot(mark: Mark) -> dict:
    def number(value):
        return None if value is None else str(value)

    return {
        "status": mark.status,
        "raw_mark": number(mark.raw_mark),
        "rubric_scores": mark.rubric_scores,
        "feedback": mark.feedback,
        "second_mark": number(mark.second_mark),
        "agreed_mark": number(mark.agreed_mark),
        "penalty": number(mark.penalty),
        "final_mark": number(mark.final_mark),
        "penalty_waiver": mark.penalty_waiver,
        "feedback_file_name": mark.feedback_file_name,
        "feedback_file_sha256": mark.feedback_file_sha256,
        "version": mark.version,
    }


def _record(mark: Mark, action: str, actor, before: dict | None, reason: str = "") -> None:
    after = snapshot(mark)
    if before is not None:
        old, new = audit.changes(before, after)
    else:
        old, new = None, after
    mark.history.append(
        MarkHistory(action=action, changed_by_id=getattr(actor, "id", None), before=old,
                    after=new, reason=reason)
    )  # fmt: skip
    db.session.flush()
    audit.record(f"mark.{action}", actor=actor, obj=mark, before=old, after=new)


def _as_mark(value, assignment: Assignment, field: str = "mark") -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError("Enter the mark as a number", field=field) from exc
    if not number.is_finite() or number < 0 or number > assignment.max_mark:
        raise DomainError(f"The mark must be from 0 to {assignment.max_mark}", field=field)
    if number != number.quantize(Decimal("0.01")):
        raise DomainError("Give the mark to at most two decimal places", field=field)
    return number.quantize(Decimal("0.01"))


def rubric_total(assignment: Assignment, scores) -> Decimal:
    """The mark the chosen rubric levels add up to; refuses criteria or levels that don't exist."""
    criteria = (assignment.rubric or {}).get("criteria") or []
    if not isinstance(scores, dict):
        raise DomainError(
            "Rubric scores must name a level for each criterion", field="rubric_scores"
        )
    total = Decimal(0)
    for key, level in scores.items():
        index = int(key) if str(key).isdigit() else -1
        if not 0 <= index < len(criteria):
            raise DomainError(f"The rubric has no criterion {key}", field="rubric_scores")
        levels = criteria[index]["levels"]
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level < len(levels):
            raise DomainError(f"Criterion {key} has no level {level}", field="rubric_scores")
        total += Decimal(str(levels[level]["marks"]))
    if len(scores) != len(criteria):
        raise DomainError("Score every criterion of the rubric", field="rubric_scores")
    return arithmetic.rounded(total)


def _apply_penalty(mark: Mark) -> None:
    submission = mark.submission
    assignment = submission.assignment
    cohort: Cohort = assignment.delivery.cohort
    before_penalty = mark.mark_before_penalty
    if before_penalty is None:
        mark.penalty, mark.final_mark = Decimal("0"), None
        return
    policy = arithmetic.PenaltyPolicy(
        cohort.late_penalty_kind, cohort.late_penalty_marks, cohort.late_penalty_max_days
    )
    mark.penalty = arithmetic.late_penalty(
        before_penalty,
        max_mark=assignment.max_mark,
        late_days=submission.late_working_days or 0,
        policy=policy,
        pass_mark=assignment.delivery.module.pass_mark,
        # A new mark has no waiver until its first flush fills in the column's default.
        waived=bool((mark.penalty_waiver or "").strip()),
    )
    mark.final_mark = arithmetic.rounded(before_penalty - mark.penalty)


def _selected_for_second_marking(mark: Mark) -> bool:
    assignment = mark.submission.assignment
    if assignment.second_marking == "all":
        return True
    if assignment.second_marking != "sample":
        return False
    percent = mark.raw_mark * 100 / assignment.max_mark
    if percent < assignment.delivery.module.pass_mark or percent >= FIRST_CLASS:
        return True
    # A stable draw per script, so re-saving a mark never changes whether it is in the sample.
    key = current_app.config["SECRET_KEY"].encode()
    digest = hashlib.sha256(key + f":sample:{mark.submission_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < (assignment.sample_percent or 0)


def save_mark(
    submission: Submission,
    *,
    actor,
    expected_version: int,
    mark=None,
    feedback: str | None = None,
    rubric_scores=None,
    complete: bool = True,
    penalty_waiver: str | None = None,
    reason: str = "",
    feedback_file: tuple[BinaryIO, str] | None = None,
) -> Mark:
    """The first marker's mark and feedback. `complete=False` keeps it as a draft. Changing a
    released mark needs a reason, and the learner sees the change at once. `feedback_file`, a
    `(stream, file name)` upload, replaces the mark's feedback file."""
    if submission.status != "submitted":
        raise Conflict("Only submitted work can be marked")
    assignment = submission.assignment
    current = mark_for(submission)
    if (current.version if current else 0) != expected_version:
        raise StaleMark(current)
    if rubric_scores is not None and assignment.rubric:
        total = rubric_total(assignment, rubric_scores)
        if mark is not None and _as_mark(mark, assignment) != total:
            raise DomainError(f"The rubric scores add up to {total:g}, not {mark}", field="mark")
        mark = total
    elif rubric_scores is not None:
        raise DomainError("This assignment has no rubric", field="rubric_scores")
    if mark is None and complete:
        raise DomainError("Enter a mark", field="mark")
    value = _as_mark(mark, assignment) if mark is not None else None
    released = current is not None and current.status == "released"
    if released and not (reason or "").strip():
        raise DomainError("Say why a released mark is being changed", field="reason")
    if current is not None and current.status in ("second_marked", "agreed", "ratified"):
        raise Conflict("This mark has been second marked; record an agreed mark instead")
    before = snapshot(current) if current is not None else None
    stored = _store_feedback_file(*feedback_file) if feedback_file is not None else None
    # In a savepoint, written when it ends: another marker's save landing between our read and
    # our write (two first saves at once, where the unique submission_id refuses the second
    # insert; or two saves of one version, where the version guard matches no row) then rolls
    # back only the savepoint, and the refusal can carry the winner's mark.
    try:
        with db.session.begin_nested(), db.session.no_autoflush:
            if current is None:
                current = Mark(submission=submission, submission_id=submission.id, status="draft")
                db.session.add(current)
            current.marker_id = getattr(actor, "id", None)
            current.raw_mark = value
            if rubric_scores is not None:
                current.rubric_scores = {str(k): v for k, v in rubric_scores.items()}
            if feedback is not None:
                current.feedback = feedback
            if penalty_waiver is not None:
                current.penalty_waiver = penalty_waiver.strip()
            if stored is not None:
                current.feedback_file_sha256, current.feedback_file_name = stored
            if released:
                current.agreed_mark = None if current.second_mark is None else value
            elif complete:
                current.status = "marked"
                current.needs_second_marking = _selected_for_second_marking(current)
            else:
                current.status = "draft"
            _apply_penalty(current)
    except (sa.exc.IntegrityError, StaleDataError) as exc:
        raise StaleMark(_mark_as_saved(submission)) from exc
    _record(current, "save", actor, before, reason.strip() if reason else "")
    if released:
        recompute_result(submission.user_id, assignment.delivery, actor=actor)
    return current


def _store_feedback_file(stream: BinaryIO, file_name: str) -> tuple[str, str]:
    """Check and store a feedback file; `(sha256, safe name)`."""
    stored = store_upload(
        stream,
        file_name,
        allowed_types=FEEDBACK_FILE_TYPES,
        max_mb=FEEDBACK_FILE_MAX_MB,
        field="feedback_file",
        what="The feedback file",
    )
    return stored.sha256, stored.name


def _mark_as_saved(submission: Submission) -> Mark | None:
    """The mark as the database has it now, not as this session last read it."""
    return db.session.scalar(
        sa.select(Mark)
        .where(Mark.submission_id == submission.id)
        .execution_options(populate_existing=True)
    )


def moderate(
    mark: Mark,
    *,
    actor,
    agreed: bool,
    second_mark=None,
    comment: str = "",
    expected_version: int | None = None,
) -> Mark:
    """The second marker's view. Agreeing confirms the first mark; otherwise their own mark is
    recorded, and within the tolerance the first mark stands; beyond it the mark is flagged
    until an agreed mark is recorded (`agree`)."""
    if expected_version is not None and expected_version != mark.version:
        raise StaleMark(mark)
    if mark.status not in ("marked", "second_marked"):
        raise Conflict("Only a completed first mark can be second marked")
    if mark.marker_id is not None and mark.marker_id == getattr(actor, "id", None):
        raise DomainError("The second marker must be someone other than the first marker")
    before = snapshot(mark)
    mark.second_marker_id = actor.id
    mark.second_comment = (comment or "").strip()
    if agreed:
        mark.second_mark = mark.raw_mark
        mark.agreed_mark = mark.raw_mark
        mark.agreed_comment = mark.second_comment or "Second marker agreed"
        mark.status = "agreed"
    else:
        if second_mark is None:
            raise DomainError("Give your mark, or agree with the first", field="mark")
        if not mark.second_comment:
            raise DomainError("Explain the difference in a comment", field="comment")
        mark.second_mark = _as_mark(second_mark, mark.submission.assignment)
        tolerance = mark.submission.assignment.moderation_tolerance
        if abs(mark.second_mark - mark.raw_mark) <= tolerance:
            mark.agreed_mark = mark.raw_mark
            mark.agreed_comment = f"Within the tolerance of {tolerance}: the first mark stands"
            mark.status = "agreed"
        else:
            mark.status = "second_marked"
    _apply_penalty(mark)
    db.session.flush()
    _record(mark, "moderate", actor, before)
    return mark


def needs_agreement(mark: Mark) -> bool:
    """Flagged: the markers are further apart than the assignment's tolerance."""
    return mark.status == "second_marked"


def agree(mark: Mark, *, actor, agreed_mark, comment: str, expected_version: int | None = None):
    if expected_version is not None and expected_version != mark.version:
        raise StaleMark(mark)
    if mark.status != "second_marked":
        raise Conflict("Only marks flagged by second marking need an agreed mark")
    if not (comment or "").strip():
        raise DomainError("Record how the mark was agreed", field="comment")
    before = snapshot(mark)
    mark.agreed_mark = _as_mark(agreed_mark, mark.submission.assignment)
    mark.agreed_comment = comment.strip()
    mark.status = "agreed"
    _apply_penalty(mark)
    db.session.flush()
    _record(mark, "agree", actor, before)
    return mark


def ready_for_release(mark: Mark) -> bool:
    if mark.status in ("agreed", "ratified"):
        return True
    return mark.status == "marked" and not mark.needs_second_marking


def ratify(assignment: Assignment, *, actor) -> list[Mark]:
    """The exam board's confirmation: every mark of the assignment ready for release and not yet
    ratified becomes ratified, and stays ready for release. Idempotent: ratifying again ratifies
    only what became ready since."""
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Mark.submission)
        .where(
            Submission.assignment_id == assignment.id,
            Mark.status.not_in(("ratified", "released")),
        )
        .order_by(Mark.id)
    ).all()
    ratified = []
    now = clock.now()
    for mark in marks:
        if not ready_for_release(mark):
            continue
        before = snapshot(mark)
        mark.status = "ratified"
        mark.ratified_at = now
        ratified.append((mark, before))
    db.session.flush()
    for mark, before in ratified:
        _record(mark, "ratify", actor, before)
    audit.record(
        "assignment.ratify", actor=actor, obj=assignment, after={"ratified": len(ratified)}
    )
    return [mark for mark, _ in ratified]


def release(assignment: Assignment, *, actor) -> list[Mark]:
    """Release every ready mark of the assignment together. Idempotent: marks already released
    are left alone, so releasing twice releases nothing the second time."""
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Mark.submission)
        .where(Submission.assignment_id == assignment.id, Mark.status != "released")
    ).all()
    released = []
    now = clock.now()
    for mark in marks:
        if not ready_for_release(mark):
            continue
        before = snapshot(mark)
        mark.status = "released"
        mark.released_at = now
        mark.released_by_id = actor.id
        released.append((mark, before))
    db.session.flush()
    for mark, before in released:
        _record(mark, "release", actor, before)
        recompute_result(mark.submission.user_id, assignment.delivery, actor=actor)
    audit.record(
        "assignment.release", actor=actor, obj=assignment, after={"released": len(released)}
    )
    return [mark for mark, _ in released]


def send_release_notices(marks: list[Mark]) -> None:
    """Tell each learner their mark is out (template `email/marks_released`). Queued in the
    release's own transaction, so no email announces a release that was rolled back. The email
    holds no mark."""
    from academy.core.urls import external_url
    from academy.notifications.mail import send_email

    for mark in marks:
        submission = mark.submission
        assignment = submission.assignment
        send_email(
            submission.user.email,
            f"Your mark is ready: {assignment.title}",
            "marks_released",
            user=submission.user,
            assignment=assignment,
            module=assignment.delivery.module,
            mark=mark,
            # The learner's marks page, where the mark and feedback are shown.
            link=external_url("marking.my_marks"),
        )


def feedback_due(submission: Submission) -> object:
    """The date feedback is due: the cohort's turnaround in working days after submission."""
    cohort = submission.assignment.delivery.cohort
    return calendar.add_working_days(
        calendar.uk_date(submission.submitted_at), cohort.feedback_working_days, cohort.nation
    )


# --- results -----------------------------------------------------------------------------------


def recompute_result(user_id: int, delivery: ModuleDelivery, *, actor=None) -> ModuleResult | None:
    """Work out the learner's module result for each attempt from released final marks, then
    bring their credentials in line: a pass issues one, a pass lost revokes it."""
    result = None
    for attempt in (1, 2):
        assignments = db.session.scalars(
            sa.select(Assignment).where(
                Assignment.delivery_id == delivery.id, Assignment.attempt == attempt
            )
        ).all()
        if not assignments:
            continue
        released = {
            m.submission.assignment_id: m
            for m in db.session.scalars(
                sa.select(Mark)
                .join(Mark.submission)
                .where(
                    Submission.user_id == user_id,
                    Submission.assignment_id.in_([a.id for a in assignments]),
                    Mark.status == "released",
                )
            )
        }
        if not released:
            continue
        items = [
            arithmetic.Weighted(released[a.id].final_mark or Decimal(0), a.max_mark, a.weight)
            for a in assignments
            if a.id in released
        ]
        percentage = arithmetic.weighted_percentage(items)
        row = db.session.scalar(
            sa.select(ModuleResult).where(
                ModuleResult.user_id == user_id,
                ModuleResult.module_id == delivery.module_id,
                ModuleResult.cohort_id == delivery.cohort_id,
                ModuleResult.attempt == attempt,
            )
        ) or ModuleResult(
            user_id=user_id,
            module_id=delivery.module_id,
            cohort_id=delivery.cohort_id,
            attempt=attempt,
        )
        complete = len(released) == len(assignments)
        if percentage is None:
            row.mark, row.passed, row.credits, row.capped = None, False, 0, False
        else:
            outcome = arithmetic.module_outcome(
                percentage,
                pass_mark=delivery.module.pass_mark,
                credits=delivery.module.credits,
                resit=attempt == 2,
            )
            # A module passes only once every assessment of the attempt is in.
            passed = outcome.passed and complete
            row.mark, row.passed, row.capped = outcome.mark, passed, outcome.capped
            row.credits = outcome.credits if passed else 0
        row.status = "complete" if complete else "incomplete"
        db.session.add(row)
        db.session.flush()
        result = row
    if result is not None:
        from academy.credentials.services import reconcile

        reconcile(user_id, delivery, actor=actor)
    return result


def programme_standing(user_id: int, cohort: Cohort) -> dict:
    """Credits so far, core modules passed, and the classification the marks so far point to."""
    results = db.session.scalars(
        sa.select(ModuleResult).where(
            ModuleResult.user_id == user_id, ModuleResult.cohort_id == cohort.id
        )
    ).all()
    best: dict[int, ModuleResult] = {}
    for result in results:
        held = best.get(result.module_id)
        if held is None or (result.passed and not held.passed) or result.attempt > held.attempt:
            best[result.module_id] = result
    programme = cohort.programme
    credits_by_module = {link.module_id: link.module.credits for link in programme.modules}
    passed = [r for r in best.values() if r.passed]
    average = arithmetic.credit_weighted_average(
        (r.mark, credits_by_module.get(r.module_id, 0)) for r in best.values() if r.mark is not None
    )
    core_ids = {m.id for m in programme.core_modules}
    return {
        "credits": sum(r.credits for r in passed),
        "credits_required": programme.credits_required,
        "core_passed": sorted(core_ids & {r.module_id for r in passed}),
        "core_required": sorted(core_ids),
        "average": average,
        "classification": arithmetic.classification(
            average,
            arithmetic.Bands(programme.pass_band, programme.merit_band, programme.distinction_band),
        ),
    }


def enrolled_learner_ids(cohort_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Enrolment.user_id).where(
                Enrolment.cohort_id == cohort_id, Enrolment.status != "withdrawn"
            )
        )
    )
