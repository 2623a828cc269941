"""The marking pages through the test client: anonymous marking from queue to release without a
name in sight, what learners see before and after release, stale saves, second marking and
agreement, release and its emails, and who may open what."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from academy.assessment.models import SubmissionReceipt
from academy.assessment.services import candidate_number
from academy.extensions import db
from academy.marking import services
from academy.marking.models import Mark

LEARNER_NAME = "Amelia Hartley-Brown"
SURNAME = "Hartley-Brown"
FEEDBACK = "Your stakeholder analysis is unusually thorough"
RUBRIC = {
    "criteria": [
        {"title": "Analysis", "levels": [{"title": "Limited", "marks": 10},
                                         {"title": "Insightful", "marks": 37.5}]},
        {"title": "Writing", "levels": [{"title": "Unclear", "marks": 5},
                                        {"title": "Fluent", "marks": 30}]},
    ]
}  # fmt: skip


def html(response) -> str:
    return response.get_data(as_text=True)


def fresh_mark(submission) -> Mark | None:
    return db.session.scalars(
        sa.select(Mark)
        .where(Mark.submission_id == submission.id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def no_identity(page: str, learner) -> None:
    """Neither the learner's name nor their user id in a link or address."""
    assert SURNAME not in page
    assert LEARNER_NAME.split()[0] not in page
    assert f"/users/{learner.id}" not in page
    assert f"user_id={learner.id}" not in page


@pytest.fixture
def cohort(make):
    return make.cohort()


@pytest.fixture
def tutor(make, cohort):
    return make.user("tutor", scope=cohort, name="Priya Marker")


@pytest.fixture
def second(make, cohort):
    return make.user("tutor", scope=cohort, name="Tomasz Second")


@pytest.fixture
def learner(make, cohort):
    return make.learner_in(cohort, name=LEARNER_NAME)


@pytest.fixture
def client_for(app, login_as):
    """`client_for(user)`: a fresh client signed in as `user`."""
    return lambda user: login_as(user, the_client=app.test_client())


def submit(make, assignment, learner, **fields):
    submission = make.submission(assignment, learner, **fields)
    # A learner's own file name may name them; staff must never see it on anonymous work.
    submission.files[0].name = f"{SURNAME} final essay.pdf"
    if submission.status == "submitted":
        submission.receipts.append(
            SubmissionReceipt(submitted_at=submission.submitted_at, sha256="2" * 64,
                              files=[], late_working_days=submission.late_working_days)
        )  # fmt: skip
    db.session.commit()
    return submission


def post_mark(client, submission, version, action="complete", **fields):
    data = {"version": str(version), "action": action, "feedback": "", **fields}
    return client.post(f"/marking/submissions/{submission.id}", data=data)


# --- anonymous marking -------------------------------------------------------------------------


def test_anonymous_work_is_marked_moderated_and_released_without_a_name_until_release(
    make, cohort, tutor, second, learner, client_for
):
    assignment = make.assignment(cohort, anonymous=True, second_marking="all", rubric=RUBRIC,
                                 open_second_marking=True)  # fmt: skip
    submission = submit(make, assignment, learner)
    number = candidate_number(assignment.id, learner.id)
    first, other = client_for(tutor), client_for(second)

    queue = first.get("/marking")
    assert queue.status_code == 200 and number in html(queue)
    no_identity(html(queue), learner)

    page = first.get(f"/marking/submissions/{submission.id}")
    assert page.status_code == 200 and number in html(page)
    assert f"{number}-file-1.pdf" in html(page)  # the download's anonymous name
    no_identity(html(page), learner)

    saved = post_mark(first, submission, 0, criterion_0="1", criterion_1="1", feedback=FEEDBACK)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/marking")
    no_identity(html(first.get("/marking")), learner)  # the flash names the candidate
    mark = fresh_mark(submission)
    assert (mark.status, mark.raw_mark, mark.needs_second_marking) == ("marked", 67.5, True)

    moderation = other.get(f"/marking/submissions/{submission.id}/second-marking")
    assert moderation.status_code == 200 and "67.5" in html(moderation)  # open second marking
    no_identity(html(moderation), learner)
    agreed = other.post(
        f"/marking/submissions/{submission.id}/second-marking",
        data={"version": str(mark.version), "decision": "agree", "comment": "Fair"},
    )
    assert agreed.status_code == 302, re.findall(r"error-summary__list.{0,400}", html(agreed), re.S)
    assert fresh_mark(submission).status == "agreed"

    book = first.get(f"/marking/cohorts/{cohort.id}/gradebook")
    csv = first.get(f"/marking/cohorts/{cohort.id}/gradebook.csv")
    for page in (html(book), csv.get_data(as_text=True)):
        # The cohort's learners are listed, but nothing ties the name to the anonymous work.
        assert number not in page and "67.5" not in page
        assert f"/marking/submissions/{submission.id}" not in page
    row = next(line for line in csv.get_data(as_text=True).splitlines() if SURNAME in line)
    assert "Anonymous until released" in row
    release = first.get(f"/marking/assignments/{assignment.id}/release")
    no_identity(html(release), learner)

    first.post(f"/marking/assignments/{assignment.id}/release")
    assert fresh_mark(submission).status == "released"
    page = html(first.get(f"/marking/submissions/{submission.id}"))
    assert LEARNER_NAME in page  # identities are revealed once released
    book = html(first.get(f"/marking/cohorts/{cohort.id}/gradebook"))
    assert f"/marking/submissions/{submission.id}" in book and "67.5" in book
    row = next(
        line
        for line in first.get(f"/marking/cohorts/{cohort.id}/gradebook.csv")
        .get_data(as_text=True)
        .splitlines()
        if SURNAME in line
    )
    assert "67.5" in row and "Released" in row


def test_a_named_assignment_shows_names_to_markers(make, cohort, tutor, learner, client_for):
    submission = submit(make, make.assignment(cohort), learner)
    client = client_for(tutor)
    assert LEARNER_NAME in html(client.get("/marking"))
    assert LEARNER_NAME in html(client.get(f"/marking/submissions/{submission.id}"))


# --- what learners see -------------------------------------------------------------------------


UNRELEASED_WORDS = re.compile(r"\b(marked|draft)\b", re.IGNORECASE)


def test_a_learner_sees_nothing_before_release_and_everything_after(
    make, cohort, tutor, learner, client_for, outbox
):
    assignment = make.assignment(cohort, rubric=RUBRIC, title="Leading an EPR go-live")
    submission = submit(make, assignment, learner, late_working_days=2)
    marker, own = client_for(tutor), client_for(learner)
    pages = ("/my-marks", f"/assignments/{assignment.id}")

    def learner_pages() -> list[str]:
        return [html(own.get(path)) for path in pages]

    post_mark(marker, submission, 0, action="draft", criterion_0="1", criterion_1="1",
              feedback=FEEDBACK)  # fmt: skip
    for page in learner_pages():
        assert "67.5" not in page and "57.5" not in page and FEEDBACK not in page
        assert not UNRELEASED_WORDS.search(page), UNRELEASED_WORDS.search(page)
    post_mark(marker, submission, 1, criterion_0="1", criterion_1="1", feedback=FEEDBACK)
    assert fresh_mark(submission).status == "marked"
    for page in learner_pages():
        assert "67.5" not in page and "57.5" not in page and FEEDBACK not in page
        assert "Insightful" not in page
        assert not UNRELEASED_WORDS.search(page), UNRELEASED_WORDS.search(page)

    marker.post(f"/marking/assignments/{assignment.id}/release")
    page = html(own.get("/my-marks"))
    assert "67.5 out of 100" in page  # the mark before the penalty
    assert "2 working days late, 10 marks deducted" in page
    assert "57.5 out of 100" in page  # the final mark
    assert FEEDBACK in page and "Insightful" in page and "Fluent" in page
    assert "Module results" in page and "Credits so far" in page
    # The pass also issues a credential, which has its own email.
    (message,) = [m for m in outbox if m["Subject"].startswith("Your mark is ready")]
    assert message["To"] == learner.email
    body = message.get_body(("plain",)).get_content()
    assert "67.5" not in body and "57.5" not in body and FEEDBACK not in body
    assert "/my-marks" in body


def test_feedback_reaches_the_learner_sanitised(make, cohort, tutor, learner, client_for):
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, learner)
    marker = client_for(tutor)
    post_mark(marker, submission, 0, mark="70",
              feedback="**Strong** work <script>alert(1)</script>")  # fmt: skip
    marker.post(f"/marking/assignments/{assignment.id}/release")
    page = html(client_for(learner).get("/my-marks"))
    assert "<strong>Strong</strong>" in page and "<script>alert(1)" not in page


def test_a_waived_penalty_is_explained(make, cohort, tutor, learner, client_for):
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, learner, late_working_days=3)
    marker = client_for(tutor)
    post_mark(marker, submission, 0, mark="64", penalty_waiver="Mitigation accepted by the board")
    assert fresh_mark(submission).final_mark == 64
    marker.post(f"/marking/assignments/{assignment.id}/release")
    page = html(client_for(learner).get("/my-marks"))
    assert "3 working days late: penalty waived" in page
    assert "Mitigation accepted" not in page  # the reason is for staff


# --- saving --------------------------------------------------------------------------------------


def test_a_stale_save_shows_the_saved_mark_and_keeps_what_was_typed(
    make, cohort, tutor, second, learner, client_for
):
    submission = submit(make, make.assignment(cohort), learner)
    first = client_for(tutor)
    assert 'name="version" type="hidden" value="0"' in html(
        first.get(f"/marking/submissions/{submission.id}")
    )
    # Meanwhile the other marker saves a draft.
    services.save_mark(submission, actor=second, expected_version=0, mark=60, complete=False,
                       feedback="The other marker sees more")  # fmt: skip
    db.session.commit()

    stale = post_mark(first, submission, 0, mark="72", feedback="My own careful words")
    page = html(stale)
    assert stale.status_code == 409
    assert "There is a problem" in page and "Someone else has saved this mark" in page
    assert "The other marker sees more" in page  # what is saved now
    assert "My own careful words" in page and 'value="72"' in page  # what was typed
    assert fresh_mark(submission).raw_mark == 60

    current = fresh_mark(submission).version
    assert f'name="version" type="hidden" value="{current}"' in page
    again = post_mark(first, submission, current, mark="72", feedback="My own careful words")
    assert again.status_code == 302
    assert (fresh_mark(submission).raw_mark, fresh_mark(submission).status) == (72, "marked")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mark": "101"}, "The mark must be from 0 to 100"),
        ({"mark": "-3"}, "The mark must be from 0 to 100"),
        ({"mark": "lots"}, "Enter the mark as a number"),
        ({}, "Enter a mark"),
        ({"version": "x", "mark": "50"}, "This page is out of date"),
    ],
)
def test_bad_marks_are_refused_with_a_clear_error(
    make, cohort, tutor, learner, client_for, fields, message
):
    submission = submit(make, make.assignment(cohort), learner)
    response = post_mark(client_for(tutor), submission, fields.pop("version", 0), **fields)
    assert response.status_code in (409, 422)
    assert message in html(response) and "There is a problem" in html(response)
    assert fresh_mark(submission) is None


def test_a_rubric_with_a_missing_criterion_is_refused(make, cohort, tutor, learner, client_for):
    submission = submit(make, make.assignment(cohort, rubric=RUBRIC), learner)
    response = post_mark(client_for(tutor), submission, 0, criterion_0="1")
    assert response.status_code == 422 and "Score every criterion" in html(response)
    assert fresh_mark(submission) is None


def test_a_draft_stays_on_the_page_and_the_preview_saves_nothing(
    make, cohort, tutor, learner, client_for
):
    submission = submit(make, make.assignment(cohort), learner)
    client = client_for(tutor)
    preview = post_mark(client, submission, 0, action="preview", feedback="Good *use* of data")
    assert preview.status_code == 200 and "Good <em>use</em> of data" in html(preview)
    assert fresh_mark(submission) is None
    draft = post_mark(client, submission, 0, action="draft", mark="55")
    assert draft.headers["Location"].endswith(f"/marking/submissions/{submission.id}")
    assert fresh_mark(submission).status == "draft"


def test_a_released_mark_changes_only_with_a_reason(make, cohort, tutor, learner, client_for):
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, learner)
    client = client_for(tutor)
    post_mark(client, submission, 0, mark="58")
    client.post(f"/marking/assignments/{assignment.id}/release")
    mark = fresh_mark(submission)
    page = html(client.get(f"/marking/submissions/{submission.id}"))
    assert "Why are you changing a released mark?" in page
    refused = post_mark(client, submission, mark.version, mark="61")
    assert refused.status_code == 422 and "Say why a released mark is being changed" in html(
        refused
    )
    assert fresh_mark(submission).raw_mark == 58
    changed = post_mark(client, submission, mark.version, mark="61", reason="Added up wrongly")
    assert changed.status_code == 302
    assert fresh_mark(submission).final_mark == 61
    assert "61 out of 100" in html(client_for(learner).get("/my-marks"))


# --- second marking ------------------------------------------------------------------------------


def test_blind_second_marking_hides_the_first_mark_until_agreement(
    make, cohort, tutor, second, learner, client_for
):
    assignment = make.assignment(cohort, second_marking="all", moderation_tolerance=5)
    submission = submit(make, assignment, learner)
    first, other = client_for(tutor), client_for(second)
    post_mark(first, submission, 0, mark="48.5", feedback="First view")
    mark = fresh_mark(submission)

    path = f"/marking/submissions/{submission.id}/second-marking"
    page = html(other.get(path))
    assert "48.5" not in page and "First view" not in page and "blind" in page
    # Nor can the marking page or the gradebook give it away.
    assert other.get(f"/marking/submissions/{submission.id}").headers["Location"].endswith(path)
    assert "48.5" not in html(other.get(f"/marking/cohorts/{cohort.id}/gradebook"))
    # The first marker cannot second mark their own work.
    own = first.post(path, data={"version": str(mark.version), "mark": "48.5", "comment": "Me"})
    assert own.status_code == 422 and "someone other than the first marker" in html(own)
    assert fresh_mark(submission).second_mark is None

    flagged = other.post(path, data={"version": str(mark.version), "mark": "62",
                                     "comment": "Undervalues the analysis"})  # fmt: skip
    assert flagged.status_code == 302 and flagged.headers["Location"].endswith(path)
    page = html(other.get(path))
    assert "Agree a mark" in page and "48.5" in page and "62" in page
    mark = fresh_mark(submission)
    assert mark.status == "second_marked"
    missing = first.post(path, data={"version": str(mark.version), "mark": "55", "comment": ""})
    assert missing.status_code == 422 and "Record how the mark was agreed" in html(missing)
    agreed = first.post(path, data={"version": str(mark.version), "mark": "55",
                                    "comment": "Met and agreed"})  # fmt: skip
    assert agreed.status_code == 302
    assert (fresh_mark(submission).status, fresh_mark(submission).final_mark) == ("agreed", 55)


def test_only_the_two_markers_or_an_admin_agree_a_mark(
    make, cohort, tutor, second, learner, client_for
):
    assignment = make.assignment(cohort, second_marking="all")
    submission = submit(make, assignment, learner)
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=40)
    services.moderate(mark, actor=second, agreed=False, second_mark=60, comment="Too harsh")
    db.session.commit()
    third = client_for(make.user("tutor", scope=cohort))
    path = f"/marking/submissions/{submission.id}/second-marking"
    assert "One of the two markers" in html(third.get(path))
    refused = third.post(path, data={"version": str(mark.version), "mark": "50", "comment": "x"})
    assert refused.status_code == 403
    assert fresh_mark(submission).status == "second_marked"


def test_work_not_chosen_for_second_marking_has_no_second_marking_page(
    make, cohort, tutor, learner, client_for
):
    submission = submit(make, make.assignment(cohort), learner)
    client = client_for(tutor)
    post_mark(client, submission, 0, mark="60")
    assert client.get(f"/marking/submissions/{submission.id}/second-marking").status_code == 404


# --- release -------------------------------------------------------------------------------------


def test_release_shows_what_is_ready_and_is_idempotent(
    make, cohort, tutor, learner, client_for, outbox
):
    assignment = make.assignment(cohort)
    ready = submit(make, assignment, learner)
    waiting = make.submission(assignment, make.learner_in(cohort))
    client = client_for(tutor)
    post_mark(client, ready, 0, mark="66")
    post_mark(client, waiting, 0, action="draft", mark="30")

    page = html(client.get(f"/marking/assignments/{assignment.id}/release"))
    assert "Release 1 mark" in page and "Not ready yet" in page

    first = client.post(f"/marking/assignments/{assignment.id}/release", follow_redirects=True)
    assert "1 mark has been released" in html(first)
    # The pass also issues a credential, which has its own email.
    notices = [m for m in outbox if m["Subject"].startswith("Your mark is ready")]
    assert [m["To"] for m in notices] == [learner.email]
    assert fresh_mark(waiting).status == "draft"
    sent = len(outbox)

    again = client.post(f"/marking/assignments/{assignment.id}/release", follow_redirects=True)
    assert "There is nothing new to release" in html(again)
    assert len(outbox) == sent


# --- who may open what ---------------------------------------------------------------------------


def test_a_tutor_of_another_cohort_finds_nothing(make, cohort, learner, client_for):
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, learner)
    stranger = client_for(make.user("tutor", scope=make.cohort()))
    assert stranger.get(f"/marking/submissions/{submission.id}").status_code == 404
    assert post_mark(stranger, submission, 0, mark="90").status_code == 404
    assert stranger.get(f"/marking/submissions/{submission.id}/second-marking").status_code == 404
    assert stranger.post(f"/marking/assignments/{assignment.id}/release").status_code == 404
    assert stranger.get(f"/marking/cohorts/{cohort.id}/gradebook").status_code == 404
    assert stranger.get(f"/marking/cohorts/{cohort.id}/gradebook.csv").status_code == 404
    assert fresh_mark(submission) is None
    assert f"/marking/submissions/{submission.id}" not in html(stranger.get("/marking"))


def test_sponsors_and_learners_are_refused(make, cohort, learner, client_for):
    organisation = make.organisation()
    sponsored = make.learner_in(cohort, organisation=organisation)
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, sponsored)
    sponsor = client_for(make.user("sponsor", scope=organisation))
    assert sponsor.get("/marking").status_code == 403
    assert sponsor.get(f"/marking/submissions/{submission.id}").status_code == 404
    assert sponsor.get(f"/marking/assignments/{assignment.id}/release").status_code == 404
    assert sponsor.get(f"/marking/cohorts/{cohort.id}/gradebook").status_code == 403
    assert sponsor.get(f"/marking/cohorts/{cohort.id}/gradebook.csv").status_code == 403
    assert sponsor.get("/marking/examining").status_code == 403

    own = client_for(sponsored)
    assert own.get("/marking").status_code == 403
    assert own.get(f"/marking/submissions/{submission.id}").status_code == 403
    assert own.get(f"/marking/assignments/{assignment.id}/release").status_code == 403
    assert own.get(f"/marking/cohorts/{cohort.id}/gradebook").status_code == 403
    assert own.get("/my-marks").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, make, cohort):
    for path in ("/marking", "/my-marks", f"/marking/cohorts/{cohort.id}/gradebook"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_examiners_read_the_moderated_sample_and_gradebook_but_mark_nothing(
    make, cohort, tutor, second, learner, client_for
):
    assignment = make.assignment(cohort, second_marking="all", anonymous=True)
    submission = submit(make, assignment, learner)
    mark = services.save_mark(submission, actor=tutor, expected_version=0, mark=52,
                              feedback="Sound but thin")  # fmt: skip
    services.moderate(mark, actor=second, agreed=False, second_mark=55, comment="A touch low")
    unsampled = make.submission(make.assignment(cohort), make.learner_in(cohort))
    services.save_mark(unsampled, actor=tutor, expected_version=0, mark=71.25)
    db.session.commit()
    programme = cohort.programme
    examiner = client_for(make.user("examiner", scope=programme))

    page = examiner.get(f"/marking/programmes/{programme.id}/sample")
    text = html(page)
    assert page.status_code == 200
    assert "52" in text and "55" in text and "A touch low" in text and "Sound but thin" in text
    assert candidate_number(assignment.id, learner.id) in text
    assert "71.25" not in text  # only second-marked work is in the sample
    no_identity(text, learner)
    assert "Moderated sample" in html(examiner.get("/marking/examining"))

    book = examiner.get(f"/marking/cohorts/{cohort.id}/gradebook")
    assert book.status_code == 200 and "/marking/submissions/" not in html(book)
    assert examiner.get(f"/marking/submissions/{submission.id}").status_code == 403
    assert examiner.post(f"/marking/assignments/{assignment.id}/release").status_code == 403
    assert examiner.get("/marking").status_code == 403

    outsider = client_for(make.user("examiner", scope=make.programme()))
    assert outsider.get(f"/marking/programmes/{programme.id}/sample").status_code == 403
    assert outsider.get(f"/marking/cohorts/{cohort.id}/gradebook").status_code == 404


def test_the_queue_puts_the_earliest_feedback_deadline_first_and_flags_overdue_work(
    make, cohort, tutor, client_for
):
    from datetime import timedelta

    from academy.core import clock

    assignment = make.assignment(cohort)
    late = make.submission(assignment, make.learner_in(cohort, name="Zed Earlier"))
    late.submitted_at = clock.now() - timedelta(days=40)
    recent = make.submission(assignment, make.learner_in(cohort, name="Ann Recent"))
    db.session.commit()
    page = html(client_for(tutor).get("/marking"))
    assert page.index("Zed Earlier") < page.index("Ann Recent")
    assert page.count("Overdue") == 1
    assert services.feedback_due(late) < services.feedback_due(recent)


def test_the_gradebook_csv_is_an_attachment_safe_for_spreadsheets(make, cohort, tutor, client_for):
    make.learner_in(cohort, name="=HYPERLINK(evil)")
    make.assignment(cohort)
    response = client_for(tutor).get(f"/marking/cohorts/{cohort.id}/gradebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "'=HYPERLINK(evil)" in response.get_data(as_text=True)


def test_marks_show_as_decimals(make, cohort, tutor, learner, client_for):
    assignment = make.assignment(cohort)
    submission = submit(make, assignment, learner)
    services.save_mark(submission, actor=tutor, expected_version=0, mark=Decimal("59.5"))
    db.session.commit()
    assert "59.5" in html(client_for(tutor).get(f"/marking/cohorts/{cohort.id}/gradebook"))
