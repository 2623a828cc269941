"""Issue 5's "done when", through the real pages: a tutor marks an anonymous assignment without
ever seeing a learner's name, a second marker moderates the sample (every fail is in it), the
marks are released together, and the learner sees the mark, the feedback and the penalty line.

The second marker is a new member of staff, brought in the way an admin does it: invited by
email (read from the live server's mail folder), sets a password, and is assigned to the cohort.
"""

import email
import email.policy
import hashlib
import re
import uuid
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from academy.core.calendar import UK_TIME
from tests.browser.conftest import (
    DEMO_PASSWORD,
    LIVE_SECRET_KEY,
    assert_accessible,
    expect_page,
    open_menu,
    sign_in_as,
)
from tests.browser.test_assessment_journey import DECLARATION, make_pdf

pytestmark = pytest.mark.browser

TUTOR = "tutor@academy.example"
COHORT = "2026 autumn"
DELIVERY = "DHL701 Foundations of health informatics – 2026 autumn"
#: (email, name) of the two learners who hand work in: the first gets 60, the second 35 (a fail).
PASSES = ("liam.evans@academy.example", "Liam Evans")
FAILS = ("amira.haddad@academy.example", "Dr Amira Haddad")
#: The smallest sample the form takes: besides fails and firsts, about 1 script in 100 is drawn.
SAMPLE_PERCENT = 1
FEEDBACK = "A clear account of the go-live; **tie the risks** to the data you would watch."


def drawn_for_the_sample(submission_id: int) -> bool:
    """Whether the stable random draw puts a script with a passing mark into the sample."""
    seed = f"{LIVE_SECRET_KEY}:sample:{submission_id}".encode()
    digest = hashlib.sha256(seed).hexdigest()
    return int(digest[:8], 16) % 100 < SAMPLE_PERCENT


def assert_no_identity(page, title: str | None = None) -> None:
    """Nothing on the page (text, links, hidden text, titles) names either learner; with `title`,
    nothing in the page's table rows about that assignment (the marking queue also lists work of
    assignments that are not anonymous, which rightly names the learners)."""
    if title is None:
        parts = [page.content()]
    else:
        rows = page.locator("tr", has_text=title)
        parts = [rows.nth(i).evaluate("row => row.outerHTML") for i in range(rows.count())]
        assert parts, f"no rows about {title} on {page.url}"
    for html in parts:
        for address, name in (PASSES, FAILS):
            assert name not in html, page.url
            assert address not in html, page.url
            assert address.split("@")[0] not in html, page.url


def _invitation_link(mail_dir, to: str) -> str:
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == to:
            body = message.get_body(preferencelist=("plain",)).get_content()
            return re.search(r"https?://\S+/set-password/\S+", body).group(0)
    pytest.fail(f"no invitation was sent to {to}")


def _bring_in_a_second_marker(page, mail_dir) -> str:
    address = f"second.marker.{uuid.uuid4().hex[:8]}@academy.example"
    sign_in_as(page, "admin@academy.example")
    open_menu(page, "Users")
    page.get_by_role("button", name="Add a user").click()
    page.get_by_label("Full name").fill("Dr Second Marker")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Add user and send invitation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dr Second Marker")

    open_menu(page, "Cohorts")
    page.get_by_role("link", name=COHORT, exact=True).click()
    page.get_by_role("button", name="Assign a tutor").click()
    expect_page(page, "Assign a tutor")
    page.get_by_label("Tutor's email address").fill(address)
    page.get_by_role("button", name="Assign tutor").click()
    expect(page.get_by_text(f"Dr Second Marker now teaches {COHORT}")).to_be_visible()

    page.context.clear_cookies()
    page.goto(_invitation_link(mail_dir, address))
    page.get_by_label("New password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("Confirm new password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/sign-in"))
    return address


def _set_anonymous_assignment(page, title: str) -> None:
    sign_in_as(page, TUTOR)
    open_menu(page, "Assignments")
    expect_page(page, "Assignments")
    page.get_by_role("button", name="Set an assignment").click()
    expect_page(page, "Set an assignment")
    page.get_by_label("Module and cohort").select_option(label=DELIVERY)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Brief").fill("Write up **one** clinical system go-live.")
    now = datetime.now(UK_TIME).replace(second=0, microsecond=0)
    for legend, moment in (
        ("Opens", now - timedelta(days=2)),
        ("Due", now + timedelta(days=30)),
        ("Cut-off", now + timedelta(days=37)),
    ):
        group = page.get_by_role("group", name=legend, exact=True)
        group.get_by_label("Day").fill(str(moment.day))
        group.get_by_label("Month").fill(str(moment.month))
        group.get_by_label("Year").fill(str(moment.year))
        group.get_by_label("Time").fill(f"{moment:%H:%M}")
    page.get_by_label("Mark anonymously").check()
    page.get_by_label("Second marking").select_option("sample")
    page.get_by_label("Sample size (%)").fill(str(SAMPLE_PERCENT))
    page.get_by_role("button", name="Set assignment").click()
    expect_page(page, title)
    expect(page.get_by_text(f"{title} has been set")).to_be_visible()


def _hand_in(page, learner: str, title: str, pdf) -> None:
    sign_in_as(page, learner)
    open_menu(page, "My assignments")
    page.get_by_role("link", name=title).click()
    expect_page(page, title)
    page.get_by_label("Upload a file").set_input_files(str(pdf))
    page.get_by_role("button", name="Upload file").click()
    expect(page.get_by_text(f"{pdf.name} has been uploaded to your draft")).to_be_visible()
    page.get_by_role("button", name="Submit your work").click()
    expect_page(page, "Check and submit your work")
    page.get_by_label(DECLARATION).check()
    page.get_by_role("button", name="Submit your work").click()
    expect(page.locator(".nhsuk-panel")).to_contain_text("Work submitted")


def _my_marks_mentions(page, title: str) -> bool:
    open_menu(page, "My marks")
    expect_page(page, "My marks and feedback")
    assert_accessible(page)
    return title in page.content()


def _open_queue(page, title: str) -> None:
    open_menu(page, "Marking")
    expect_page(page, "Marking")
    assert_no_identity(page, title)
    assert_accessible(page)


def _queue(page):
    return page.get_by_role("table", name="Work waiting for marking, second marking or release")


def _submission_ids(page, title: str) -> list[int]:
    """The ids of this assignment's scripts in the queue, oldest hand-in first."""
    rows = _queue(page).locator("tbody tr", has_text=title)
    hrefs = [rows.nth(i).locator("a").first.get_attribute("href") for i in range(rows.count())]
    return sorted(int(re.search(r"/marking/submissions/(\d+)", h).group(1)) for h in hrefs)


def _mark(page, title: str, submission_id: int, mark: str, feedback: str) -> None:
    page.locator(f'a[href="/marking/submissions/{submission_id}"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Mark "))
    candidate = page.get_by_role("heading", level=1).inner_text().removeprefix("Mark ")
    assert_no_identity(page)
    assert_accessible(page)
    page.get_by_label("Mark", exact=True).fill(mark)
    page.get_by_label("Feedback for the learner").fill(feedback)
    page.get_by_role("button", name="Save and complete").click()
    expect_page(page, "Marking")
    expect(page.get_by_text(f"The mark for {candidate} has been saved")).to_be_visible()
    assert_no_identity(page, title)


def _second_mark(page, title: str, submission_id: int, mark: str) -> None:
    page.locator(f'a[href="/marking/submissions/{submission_id}/second-marking"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Second marking: "))
    expect(page.get_by_text("This assignment is second marked blind")).to_be_visible()
    assert_no_identity(page)
    assert_accessible(page)
    page.get_by_label("Your mark").fill(mark)
    page.get_by_label("Your comments").fill("A little generous to the evidence: within tolerance.")
    page.get_by_role("button", name="Save second mark").click()
    expect_page(page, "Marking")
    expect(page.get_by_text(re.compile(r"The mark for \S+ is agreed"))).to_be_visible()
    assert_no_identity(page, title)


def test_anonymous_marking_second_marking_release_and_the_learner_sees_it(page, tmp_path, mail_dir):
    title = f"Go-live write-up {uuid.uuid4().hex[:6].upper()}"
    second_marker = _bring_in_a_second_marker(page, mail_dir)
    _set_anonymous_assignment(page, title)

    # Two learners hand work in: the one who will pass first, so their script has the lower id.
    for learner, _ in (PASSES, FAILS):
        pdf = tmp_path / f"{learner.split('@')[0]}.pdf"
        make_pdf(pdf, "My go-live write-up")
        _hand_in(page, learner, title, pdf)
    assert not _my_marks_mentions(page, title)  # the second learner, before any marking

    # The first marker marks both scripts, seeing candidate numbers only.
    sign_in_as(page, TUTOR)
    _open_queue(page, title)
    passing, failing = _submission_ids(page, title)
    _mark(page, title, passing, "60", FEEDBACK)
    _mark(page, title, failing, "35", "The argument needs evidence throughout.")
    queue = _queue(page)
    # Every fail is in the sample; a passing mark only if the 1% draw picks it.
    sampled = [failing] + ([passing] if drawn_for_the_sample(passing) else [])
    for submission_id in (passing, failing):
        row = queue.locator(f'tr:has(a[href="/marking/submissions/{submission_id}"])')
        waits = submission_id in sampled
        expect(row).to_contain_text("Waiting for second marking" if waits else "Ready to release")
    assert_accessible(page)

    # Marked, but nothing is released: the learner still sees nothing of it.
    sign_in_as(page, PASSES[0])
    assert not _my_marks_mentions(page, title)

    # The gradebook names the cohort's learners, but nothing of the anonymous work beside them.
    sign_in_as(page, TUTOR)
    open_menu(page, "Marking")
    page.get_by_role("link", name=re.compile(rf": {COHORT}$")).click()
    expect_page(page, f"Gradebook: {COHORT}")
    for submission_id in (passing, failing):
        expect(page.locator(f'a[href="/marking/submissions/{submission_id}"]')).to_have_count(0)
    assert_accessible(page)

    # Release now would leave the failed script behind: it waits for second marking.
    open_menu(page, "Marking")
    page.get_by_role("link", name=re.compile(rf"^Release marks for {re.escape(title)}")).click()
    expect_page(page, f"Release marks: {title}")
    assert_no_identity(page)
    expect(
        page.get_by_role("table", name="Work whose mark is not ready to release")
    ).to_contain_text("Waiting for second marking")
    assert_accessible(page)
    release_url = page.url

    # The second marker, blind to the first marks, gives marks within the tolerance.
    sign_in_as(page, second_marker)
    _open_queue(page, title)
    for submission_id, mark in ((failing, "38"), (passing, "58")):
        if submission_id in sampled:
            _second_mark(page, title, submission_id, mark)

    # The first marker releases both marks together.
    sign_in_as(page, TUTOR)
    page.goto(release_url)
    expect_page(page, f"Release marks: {title}")
    assert_no_identity(page)
    assert_accessible(page)
    page.get_by_role("button", name="Release 2 marks").click()
    expect(page.get_by_text("2 marks have been released. Learners have been told.")).to_be_visible()
    assert_accessible(page)

    # The learner sees the mark, the feedback and the penalty line.
    sign_in_as(page, PASSES[0])
    assert _my_marks_mentions(page, title)
    entry = page.locator("section", has=page.get_by_role("heading", name=title))
    expect(entry).to_contain_text("60 out of 100")
    expect(entry).to_contain_text("None: handed in on time")
    expect(entry.locator(".academy-richtext strong")).to_have_text("tie the risks")
    expect(entry).to_contain_text("to the data you would watch")

    sign_in_as(page, FAILS[0])
    assert _my_marks_mentions(page, title)
    expect(page.locator("section", has=page.get_by_role("heading", name=title))).to_contain_text(
        "35 out of 100"
    )
    assert page.external_requests == []
