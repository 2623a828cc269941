"""HTML pages for marking: the tutor's queue, the marking page, second marking and agreement,
release, the cohort gradebook (and its CSV), the learner's marks, and the examiners' sample.

Every page loads through a query scope (404 when out of reach), checks the marking policy (403),
then calls a service and commits once. While an anonymous assignment is unreleased, staff pages
name learners only by `learner_label` (a candidate number) and address work by submission id, so
no name reaches a page, a link, a title or a URL. Learners see nothing of a mark until release.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload, raiseload
from sqlalchemy.orm.exc import StaleDataError

from academy.assessment.models import Assignment, Submission
from academy.assessment.policy import has_enrolment, visible_assignments, visible_submissions
from academy.assessment.tracking import download_name
from academy.audit import services as audit
from academy.catalogue.models import Module, Programme
from academy.cohorts.models import HOLDS_A_PLACE, Cohort, Enrolment, ModuleDelivery
from academy.cohorts.policy import teaches, visible_cohorts
from academy.core import clock
from academy.core.access import guard, require
from academy.core.downloads import send_stored_file
from academy.core.errors import DomainError
from academy.core.filetypes import by_extension
from academy.core.forms import STALE_PAGE, save_or_show, show_domain_error
from academy.core.navigation import add_nav_item
from academy.core.policy import examined_programme_ids, is_admin, tutored_cohort_ids
from academy.core.richtext import to_safe_html
from academy.extensions import db
from academy.marking import services
from academy.marking.forms import AgreeForm, ReleaseForm, SecondMarkForm, mark_form
from academy.marking.gradebook import build_gradebook, csv_lines, result_text
from academy.marking.models import Mark, ModuleResult
from academy.marking.policy import (
    can_agree,
    can_mark,
    can_ratify,
    can_view_gradebook,
    can_view_sample,
    examines,
    learner_label,
    learner_sees_mark,
    markable_submissions,
    marks_work,
    sees_first_mark,
)
from academy.marking.services import StaleMark

log = logging.getLogger(__name__)

bp = Blueprint("marking", __name__)
guard(bp)

add_nav_item("Marking", "marking.queue", marks_work, "marking.queue")
add_nav_item("My marks", "marking.my_marks", has_enrolment, "marking.my_marks")
add_nav_item("Examining", "marking.examining", examines, "marking.examining")

#: Marks a first marker may still change here; later states go through second marking.
EDITABLE = (None, "draft", "marked", "released")


def plain_mark(value) -> str:
    """`62`, `62.5`: a mark without trailing zeros."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@bp.app_template_filter("mark_value")
def _mark_value_filter(value) -> str:
    return plain_mark(value)


@bp.app_template_filter("long_date")
def _long_date_filter(day: date | None) -> str:
    return "" if day is None else f"{day:%A} {day.day} {day:%B %Y}"


# --- loading -----------------------------------------------------------------------------------


def _submission_or_404(submission_id: int) -> Submission:
    return db.first_or_404(visible_submissions(current_user).where(Submission.id == submission_id))


def _assignment_or_404(assignment_id: int) -> Assignment:
    return db.first_or_404(visible_assignments(current_user).where(Assignment.id == assignment_id))


def _cohort_or_404(cohort_id: int) -> Cohort:
    return db.first_or_404(visible_cohorts(current_user).where(Cohort.id == cohort_id))


def _files(submission: Submission) -> list[tuple]:
    """`(file, name shown)`: anonymous work under the candidate-number names downloads use."""
    return [(file, download_name(file, current_user)) for file in submission.files]


def _current_snapshot(submission: Submission) -> dict | None:
    mark = services.mark_for(submission)
    return services.snapshot(mark) if mark else None


# --- the marking queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    submission: Submission
    mark: Mark | None
    label: str
    feedback_due: date
    overdue: bool
    progress: str
    colour: str


def progress_of(mark: Mark | None) -> tuple[str, str]:
    """What is left to do on a script, as an NHS.UK tag's text and colour."""
    if mark is None:
        return "Not marked", "grey"
    if mark.status == "draft":
        return "Draft", "blue"
    if mark.status == "marked" and mark.needs_second_marking:
        return "Waiting for second marking", "orange"
    if mark.status == "second_marked":
        return "Markers disagree", "red"
    if mark.status == "released":
        return "Released", "purple"
    return "Ready to release", "green"


@bp.get("/marking")
def queue():
    require(marks_work)
    work = markable_submissions(current_user).outerjoin(Mark, Mark.submission_id == Submission.id)
    # Released work is only counted, in SQL: a tutor's cohorts hold years of it, and loading it
    # row by row made the page grow with every release.
    counts = Counter()
    for assignment_id, submitted, released in db.session.execute(
        work.with_only_columns(
            Submission.assignment_id,
            sa.func.count(Submission.id),
            sa.func.count(Mark.id).filter(Mark.status == "released"),
        ).group_by(Submission.assignment_id)
    ):
        counts[(assignment_id, "submitted")] = submitted
        counts[(assignment_id, "released")] = released
    assignments = {
        assignment.id: assignment
        for assignment in db.session.scalars(
            sa.select(Assignment)
            .where(Assignment.id.in_([assignment_id for assignment_id, _ in counts]))
            .options(joinedload(Assignment.delivery).joinedload(ModuleDelivery.cohort))
        )
    }
    rows = db.session.execute(
        work.where(sa.or_(Mark.id.is_(None), Mark.status != "released"))
        .add_columns(Mark)
        .options(
            joinedload(Submission.assignment)
            .joinedload(Assignment.delivery)
            .joinedload(ModuleDelivery.cohort),
            # The queue shows neither files nor receipts: loading them cost a query per 500 rows.
            raiseload(Submission.files),
            raiseload(Submission.receipts),
        )  # fmt: skip
    ).all()
    today = clock.today()
    items = []
    for submission, mark in rows:
        if mark is not None and services.ready_for_release(mark):
            counts[(submission.assignment_id, "ready")] += 1
        due = services.feedback_due(submission)
        items.append(
            QueueItem(submission, mark, learner_label(submission, mark), due, today > due,
                      *progress_of(mark))
        )  # fmt: skip
    items.sort(key=lambda item: (item.feedback_due, item.submission.id))
    return render_template(
        "marking/queue.html",
        items=items,
        assignments=sorted(assignments.values(), key=lambda a: (a.due_at, a.id)),
        counts=counts,
        cohorts=_gradebook_cohorts(),
    )


def _gradebook_cohorts() -> list[Cohort]:
    stmt = visible_cohorts(current_user)
    if not is_admin(current_user):
        stmt = stmt.where(Cohort.id.in_(tutored_cohort_ids(current_user) or {-1}))
    return list(db.session.scalars(stmt))


# --- the marking page --------------------------------------------------------------------------


def _initial(mark: Mark | None, assignment: Assignment) -> dict:
    if mark is None:
        return {"version": 0}
    data = {"version": mark.version, "feedback": mark.feedback,
            "penalty_waiver": mark.penalty_waiver}  # fmt: skip
    # With a rubric the mark follows from the levels; prefilling it would contradict them the
    # moment a level changes.
    if not (assignment.rubric and mark.rubric_scores):
        data["mark"] = plain_mark(mark.raw_mark)
    for key, level in (mark.rubric_scores or {}).items():
        data[f"criterion_{key}"] = level
    return data


@bp.route("/marking/submissions/<int:submission_id>", methods=["GET", "POST"])
def mark(submission_id: int):
    submission = _submission_or_404(submission_id)
    assignment = submission.assignment
    require(can_mark, assignment)
    current = services.mark_for(submission)
    if current is not None and not sees_first_mark(current_user, current):
        # Blind second marking: this page would show the first mark to the second marker.
        return redirect(url_for(".moderate", submission_id=submission.id))
    editable = submission.status == "submitted" and (current.status if current else None) in (
        EDITABLE
    )
    late = bool(submission.late_working_days)
    form = mark_form(assignment, data=_initial(current, assignment))
    stale, preview, status = None, None, 200
    if editable and form.validate_on_submit():
        if form.action.data == "preview":
            preview = to_safe_html(form.feedback.data or "")
        else:
            try:
                saved = services.save_mark(
                    submission,
                    actor=current_user,
                    expected_version=form.expected_version,
                    mark=form.mark.data,
                    feedback=form.feedback.data or "",
                    rubric_scores=form.rubric_scores(),
                    complete=form.action.data != "draft",
                    penalty_waiver=(form.penalty_waiver.data or "") if late else None,
                    reason=form.reason.data or "",
                    feedback_file=_uploaded(form.feedback_file.data),
                )
                db.session.commit()
            except StaleMark as error:
                db.session.rollback()
                show_domain_error(form, error)
                # Show what is saved now beside what the marker typed; saving again, having
                # seen it, is a deliberate overwrite.
                stale = error.extra.get("current") or _current_snapshot(submission)
                form.version.data = stale["version"] if stale else 0
                status = error.status
            except DomainError as error:
                db.session.rollback()
                show_domain_error(form, error)
                status = error.status
            except StaleDataError:
                db.session.rollback()
                form.form_errors.append(STALE_PAGE)
                stale = _current_snapshot(submission)
                status = 409
            else:
                label = learner_label(submission, saved)
                log.info("mark %s saved (%s) by %s", saved.id, saved.status, current_user.id)
                if saved.status == "draft":
                    flash(f"Your draft mark for {label} has been saved", "success")
                    return redirect(url_for(".mark", submission_id=submission.id))
                flash(f"The mark for {label} has been saved", "success")
                return redirect(url_for(".queue"))
    elif form.is_submitted():
        status = 422 if editable else 409
        if not editable:
            form.form_errors.append("This mark can no longer be changed on this page")
    current = services.mark_for(submission) if status != 200 else current
    return render_template(
        "marking/mark.html",
        form=form,
        submission=submission,
        assignment=assignment,
        mark=current,
        label=learner_label(submission, current),
        files=_files(submission),
        feedback_due=services.feedback_due(submission),
        editable=editable,
        late=late,
        preview=preview,
        stale=stale,
        stale_feedback=to_safe_html(stale["feedback"]) if stale and stale["feedback"] else None,
        saved_feedback=to_safe_html(current.feedback) if current and current.feedback else None,
        criteria=form.rubric_criteria,
    ), status


def _uploaded(upload) -> tuple | None:
    """`(stream, file name)` of a chosen file; None when the marker chose none."""
    if upload is None or not getattr(upload, "filename", None):
        return None
    return upload.stream, upload.filename


@bp.get("/marking/marks/<int:mark_id>/feedback-file")
def feedback_file(mark_id: int):
    """The mark's feedback file: for the learner once released; for the cohort's tutors and
    admins who may read the first mark. Anyone else, or no file: 404."""
    mark = db.get_or_404(Mark, mark_id)
    if mark.feedback_file_sha256 is None:
        abort(404)
    staff = can_mark(current_user, mark.submission.assignment) and sees_first_mark(
        current_user, mark
    )
    if not (staff or learner_sees_mark(current_user, mark)):
        abort(404)
    name = mark.feedback_file_name or "feedback"
    file_type = by_extension(name.rpartition(".")[2])
    try:
        return send_stored_file(mark.feedback_file_sha256, name, file_type and file_type.mime)
    except FileNotFoundError:
        log.error("mark %s: no stored feedback file %s", mark.id, mark.feedback_file_sha256)
        abort(404)


# --- second marking and agreement --------------------------------------------------------------


@bp.route("/marking/submissions/<int:submission_id>/second-marking", methods=["GET", "POST"])
def moderate(submission_id: int):
    submission = _submission_or_404(submission_id)
    assignment = submission.assignment
    require(can_mark, assignment)
    mark = services.mark_for(submission)
    if mark is None or not (mark.needs_second_marking or mark.second_mark is not None):
        abort(404)
    first_marker = mark.marker_id == current_user.id
    second_form = agree_form = None
    status = 200
    if services.needs_agreement(mark) and request.method == "POST":
        require(can_agree, mark)
    if mark.status == "marked":
        second_form = SecondMarkForm(data={"version": mark.version})
        if second_form.validate_on_submit():
            done = save_or_show(
                second_form,
                lambda: services.moderate(
                    mark,
                    actor=current_user,
                    agreed=assignment.open_second_marking and second_form.agreed,
                    second_mark=second_form.mark.data,
                    comment=second_form.comment.data or "",
                    expected_version=second_form.expected_version,
                ),
            )
            if done is not None:
                return _after_moderation(submission, done)
            status = getattr(second_form, "refusal_status", 409)
    elif services.needs_agreement(mark) and can_agree(current_user, mark):
        agree_form = AgreeForm(data={"version": mark.version})
        if agree_form.validate_on_submit():
            done = save_or_show(
                agree_form,
                lambda: services.agree(
                    mark,
                    actor=current_user,
                    agreed_mark=agree_form.mark.data,
                    comment=agree_form.comment.data or "",
                    expected_version=agree_form.expected_version,
                ),
            )
            if done is not None:
                return _after_moderation(submission, done)
            status = getattr(agree_form, "refusal_status", 409)
    form = second_form if second_form is not None else agree_form
    if form is not None and form.is_submitted() and form.errors and status == 200:
        status = 422
    if status != 200:
        mark = services.mark_for(submission)
    return render_template(
        "marking/moderate.html",
        submission=submission,
        assignment=assignment,
        mark=mark,
        label=learner_label(submission, mark),
        files=_files(submission),
        first_marker=first_marker,
        # Blind second marking: the first mark stays hidden until the second is given.
        show_first=sees_first_mark(current_user, mark),
        first_feedback=to_safe_html(mark.feedback) if mark.feedback else None,
        second_form=second_form if not first_marker else None,
        agree_form=agree_form,
        form=form,
    ), status


def _after_moderation(submission: Submission, mark: Mark):
    label = learner_label(submission, mark)
    log.info("mark %s moderated (%s) by %s", mark.id, mark.status, current_user.id)
    if services.needs_agreement(mark):
        flash(f"The marks for {label} differ by more than the tolerance: agree a mark", "info")
        return redirect(url_for(".moderate", submission_id=submission.id))
    flash(f"The mark for {label} is agreed", "success")
    return redirect(url_for(".queue"))


# --- release -----------------------------------------------------------------------------------


@bp.route("/marking/assignments/<int:assignment_id>/release", methods=["GET", "POST"])
def release(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    require(can_mark, assignment)
    form = ReleaseForm()
    if form.validate_on_submit():
        released = services.release(assignment, actor=current_user)
        services.send_release_notices(released)
        db.session.commit()
        log.info("%s marks of assignment %s released by %s", len(released), assignment.id,
                 current_user.id)  # fmt: skip
        if released:
            noun = "mark has" if len(released) == 1 else "marks have"
            flash(f"{len(released)} {noun} been released. Learners have been told.", "success")
        else:
            flash("There is nothing new to release", "info")
        return redirect(url_for(".release", assignment_id=assignment.id))
    ratify_form = ReleaseForm() if can_ratify(current_user) else None
    rows = db.session.execute(
        sa.select(Submission, Mark)
        .outerjoin(Mark, Mark.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment.id, Submission.status == "submitted")
        .order_by(Submission.id)
    ).all()
    released = [m for _, m in rows if m is not None and m.status == "released"]
    ready = [m for _, m in rows if m is not None and m.status != "released"
             and services.ready_for_release(m)]  # fmt: skip
    waiting = [
        (submission, learner_label(submission, m), progress_of(m)[0])
        for submission, m in rows
        if m is None or (m.status != "released" and not services.ready_for_release(m))
    ]
    if assignment.anonymous:
        waiting.sort(key=lambda row: row[1])
    return render_template(
        "marking/release.html",
        assignment=assignment,
        form=form,
        ratify_form=ratify_form,
        released=len(released),
        ready=len(ready),
        to_ratify=sum(1 for m in ready if m.status != "ratified"),
        waiting=waiting,
    )


@bp.post("/marking/assignments/<int:assignment_id>/ratify")
def ratify(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    require(can_mark, assignment)
    require(can_ratify)
    if not ReleaseForm().validate_on_submit():  # only its CSRF token to check
        abort(400)
    ratified = services.ratify(assignment, actor=current_user)
    db.session.commit()
    log.info("%s marks of assignment %s ratified by %s", len(ratified), assignment.id,
             current_user.id)  # fmt: skip
    if ratified:
        noun = "mark has" if len(ratified) == 1 else "marks have"
        flash(f"{len(ratified)} {noun} been ratified. Release them when you are ready.", "success")
    else:
        flash("There is nothing new to ratify", "info")
    return redirect(url_for(".release", assignment_id=assignment.id))


# --- the learner's marks -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReleasedMark:
    mark: Mark
    assignment: Assignment
    penalty: str
    feedback: object
    #: `(criterion title, level title, level description, level marks)` per criterion.
    rubric: list[tuple]


def penalty_text(mark: Mark) -> str:
    late = mark.submission.late_working_days or 0
    if not late:
        return "None: handed in on time"
    days = f"{late} working day{'' if late == 1 else 's'} late"
    if mark.penalty_waiver:
        return f"{days}: penalty waived"
    if not mark.penalty:
        return f"{days}, no marks deducted"
    noun = "mark" if mark.penalty == 1 else "marks"
    return f"{days}, {plain_mark(mark.penalty)} {noun} deducted"


def rubric_rows(assignment: Assignment, scores: dict | None) -> list[tuple]:
    criteria = (assignment.rubric or {}).get("criteria") or []
    rows = []
    for index, criterion in enumerate(criteria):
        level_index = (scores or {}).get(str(index))
        levels = criterion.get("levels") or []
        if level_index is None or not 0 <= level_index < len(levels):
            continue
        level = levels[level_index]
        rows.append((criterion.get("title", ""), level.get("title", ""),
                     level.get("description", ""), level.get("marks")))  # fmt: skip
    return rows


@bp.get("/my-marks")
def my_marks():
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Submission, Submission.id == Mark.submission_id)
        .where(Submission.user_id == current_user.id, Mark.status == "released")
        .order_by(Mark.released_at.desc(), Mark.id)
    ).all()
    entries = [
        ReleasedMark(
            mark=mark,
            assignment=mark.submission.assignment,
            penalty=penalty_text(mark),
            feedback=to_safe_html(mark.feedback) if mark.feedback else None,
            rubric=rubric_rows(mark.submission.assignment, mark.rubric_scores),
        )
        for mark in marks
        if learner_sees_mark(current_user, mark)
    ]
    results = db.session.execute(
        sa.select(ModuleResult, Module)
        .join(Module, Module.id == ModuleResult.module_id)
        .where(ModuleResult.user_id == current_user.id)
        .order_by(ModuleResult.cohort_id, Module.code, ModuleResult.attempt)
    ).all()
    cohort_ids = {result.cohort_id for result, _ in results}
    cohorts = db.session.scalars(
        sa.select(Cohort)
        .join(Enrolment, Enrolment.cohort_id == Cohort.id)
        .where(
            Enrolment.user_id == current_user.id,
            Enrolment.status.in_(HOLDS_A_PLACE),
            Cohort.id.in_(cohort_ids or {-1}),
        )
        .order_by(Cohort.starts_on)
    ).all()
    standings = []
    for cohort in cohorts:
        modules = {link.module_id: link.module for link in cohort.programme.modules}
        standing = services.programme_standing(current_user.id, cohort)
        standings.append((cohort, standing, [modules[i] for i in standing["core_passed"]]))
    return render_template(
        "marking/my_marks.html",
        entries=entries,
        results=results,
        standings=standings,
        result_text=result_text,
    )


# --- the gradebook -----------------------------------------------------------------------------


@bp.get("/marking/cohorts/<int:cohort_id>/gradebook")
def gradebook(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    require(can_view_gradebook, cohort)
    return render_template(
        "marking/gradebook.html",
        book=build_gradebook(cohort),
        cohort=cohort,
        # Examiners read; only those who mark get links to the marking pages.
        links=is_admin(current_user) or teaches(current_user, cohort),
        result_text=result_text,
    )


@bp.get("/marking/cohorts/<int:cohort_id>/gradebook.csv")
def gradebook_csv(cohort_id: int):
    cohort = _cohort_or_404(cohort_id)
    require(can_view_gradebook, cohort)
    # Committed before the gradebook is read: a commit afterwards would expire what it loaded
    # and the streamed rows would load it again, one query at a time.
    audit.record_export("gradebook", actor=current_user, obj=cohort, format="csv")
    db.session.commit()
    book = build_gradebook(cohort)
    response = Response(stream_with_context(csv_lines(book)), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="gradebook-cohort-{cohort.id}.csv"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- examiners ---------------------------------------------------------------------------------


def _examines_or_admin(user) -> bool:
    return is_admin(user) or examines(user)


@bp.get("/marking/examining")
def examining():
    require(_examines_or_admin)
    stmt = sa.select(Programme).order_by(Programme.title)
    if not is_admin(current_user):
        stmt = stmt.where(Programme.id.in_(examined_programme_ids(current_user)))
    programmes = db.session.scalars(stmt).all()
    cohorts = db.session.scalars(
        sa.select(Cohort)
        .where(Cohort.programme_id.in_([p.id for p in programmes] or [-1]))
        .order_by(Cohort.starts_on.desc(), Cohort.name)
    ).all()
    return render_template("marking/examining.html", programmes=programmes, cohorts=cohorts)


@bp.get("/marking/programmes/<int:programme_id>/sample")
def sample(programme_id: int):
    programme = db.get_or_404(Programme, programme_id)
    require(can_view_sample, programme)
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Submission, Submission.id == Mark.submission_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
        .join(Cohort, Cohort.id == ModuleDelivery.cohort_id)
        .where(Cohort.programme_id == programme.id, Mark.second_mark.is_not(None))
        .options(joinedload(Mark.marker), joinedload(Mark.second_marker))
        .order_by(Cohort.starts_on, Assignment.due_at, Assignment.id, Mark.id)
    ).all()
    groups: dict[int, tuple[Assignment, list]] = {}
    for mark in marks:
        assignment = mark.submission.assignment
        entry = (mark, learner_label(mark.submission, mark),
                 to_safe_html(mark.feedback) if mark.feedback else None)  # fmt: skip
        groups.setdefault(assignment.id, (assignment, []))[1].append(entry)
    for _, entries in groups.values():
        entries.sort(key=lambda entry: entry[1])
    return render_template("marking/sample.html", programme=programme, groups=list(groups.values()))
