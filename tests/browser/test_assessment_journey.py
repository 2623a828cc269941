"""Issue 4's "done when", through the real pages: a learner uploads two files, submits, and sees
and receives the receipt; the tutor sees the status; a late submission shows its lateness in
working days, across a bank holiday, as the calendar module counts them.

The live server runs on the real clock, so lateness is shown with an assignment whose due date is
already past, and the expected number is worked out here from the same moment.
"""

import email
import email.policy
import hashlib
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from academy.core.calendar import UK_TIME, is_working_day, working_days_late
from tests.browser.conftest import (
    assert_accessible,
    expect_page,
    open_menu,
    sign_in_as,
)

pytestmark = pytest.mark.browser

DEMO_ASSIGNMENT = "Case study: an electronic patient record go-live"
DECLARATION = "I confirm that this is my own work"


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_pdf(path, text: str) -> None:
    """A small but well-formed one-page PDF, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def make_docx(path, text: str) -> None:
    """A minimal Word document: the parts Word itself needs to open it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        docx.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        docx.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
        )


def _upload(page, path) -> None:
    page.get_by_label("Upload a file").set_input_files(str(path))
    page.get_by_role("button", name="Upload file").click()
    expect(page.get_by_text(f"{path.name} has been uploaded to your draft")).to_be_visible()


def _submit(page, assignment_title: str) -> None:
    page.get_by_role("button", name="Submit your work").click()
    expect_page(page, "Check and submit your work")
    assert_accessible(page)
    page.get_by_label(DECLARATION).check()
    page.get_by_role("button", name="Submit your work").click()
    expect(page.locator(".nhsuk-panel")).to_contain_text("Work submitted")
    expect(page.locator(".nhsuk-panel")).to_contain_text(assignment_title)


def _summary_value(page, key: str) -> str:
    row = page.locator(".nhsuk-summary-list__row", has=page.get_by_text(key, exact=True))
    return row.locator(".nhsuk-summary-list__value").inner_text().strip()


def _receipt_emails(mail_dir, to: str) -> list[email.message.EmailMessage]:
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(mail_dir.glob("*-submission_receipt.eml"))
    ]
    return [m for m in messages if m["To"] == to]


def test_learner_submits_two_files_gets_a_receipt_and_the_tutor_sees_it(page, tmp_path, mail_dir):
    pdf, docx = tmp_path / "case-study.pdf", tmp_path / "reflection.docx"
    make_pdf(pdf, "An EPR go-live at St Thomas'")
    make_docx(docx, "What I would watch after go-live")
    learner = "liam.evans@academy.example"

    sign_in_as(page, learner)
    open_menu(page, "My assignments")
    expect_page(page, "My assignments")
    assert_accessible(page)
    page.get_by_role("link", name=DEMO_ASSIGNMENT).click()
    expect_page(page, DEMO_ASSIGNMENT)
    expect(page.get_by_text("You have not uploaded anything yet.")).to_be_visible()
    assert_accessible(page)

    _upload(page, pdf)
    _upload(page, docx)
    drafts = page.get_by_role("table", name="Your draft files")
    expect(drafts.locator("tbody tr")).to_have_count(2)
    for path in (pdf, docx):
        expect(drafts.get_by_role("row", name=re.compile(re.escape(path.name)))).to_contain_text(
            _sha256(path)
        )
    assert_accessible(page)

    # Without the declaration nothing is submitted, and the page says why.
    page.get_by_role("button", name="Submit your work").click()
    expect_page(page, "Check and submit your work")
    page.get_by_role("button", name="Submit your work").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=f"Back to {DEMO_ASSIGNMENT}").click()
    expect_page(page, DEMO_ASSIGNMENT)
    expect(page.get_by_role("table", name="Your draft files")).to_be_visible()

    _submit(page, DEMO_ASSIGNMENT)
    receipt_sha = _summary_value(page, "Receipt SHA-256")
    assert re.fullmatch(r"[0-9a-f]{64}", receipt_sha), receipt_sha
    assert _summary_value(page, "Lateness") == "On time"
    files = page.get_by_role("table", name="Files (2)")
    for path in (pdf, docx):
        expect(files.get_by_role("row", name=re.compile(re.escape(path.name)))).to_contain_text(
            _sha256(path)
        )
    assert_accessible(page)
    receipt_url = page.url

    # The same receipt arrived by email.
    (message,) = _receipt_emails(mail_dir, learner)
    assert message["Subject"] == f"Receipt: {DEMO_ASSIGNMENT}"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"Receipt SHA-256: {receipt_sha}" in body
    for path in (pdf, docx):
        assert path.name in body
        assert f"SHA-256: {_sha256(path)}" in body
    assert receipt_url in body  # the link back to the receipt page just seen

    # The work is locked: the assignment page now points at the receipt, with no upload.
    page.get_by_role("link", name=f"Back to {DEMO_ASSIGNMENT}").click()
    expect_page(page, DEMO_ASSIGNMENT)
    expect(page.get_by_role("link", name="View your receipt")).to_be_visible()
    expect(page.get_by_label("Upload a file")).to_have_count(0)

    # The tutor's tracking page shows the learner as submitted.
    sign_in_as(page, "tutor@academy.example")
    open_menu(page, "Assignments")
    expect_page(page, "Assignments")
    assert_accessible(page)
    page.get_by_role("link", name=DEMO_ASSIGNMENT).click()
    expect_page(page, DEMO_ASSIGNMENT)
    learners = page.get_by_role("table", name=re.compile("^Every active learner"))
    liam = learners.get_by_role("row", name=re.compile("Liam Evans"))
    expect(liam).to_contain_text("Submitted on time")
    expect(liam.get_by_role("link", name="Receipt for Liam Evans")).to_be_visible()
    expect(liam).to_contain_text(pdf.name)
    expect(liam).to_contain_text(docx.name)
    expect(learners.get_by_role("row", name=re.compile("Grace Adeyemi"))).to_contain_text(
        "Not started"
    )
    assert_accessible(page)
    assert page.external_requests == []


# --- lateness across a bank holiday --------------------------------------------------------------

#: Due dates just before an England bank holiday: the Thursday before the late summer bank holiday
#: (Monday 31 August 2026), and Christmas Eve 2026 (Christmas Day, then Boxing Day moved to
#: Monday 28 December).
DUE_BEFORE_A_BANK_HOLIDAY = [
    datetime(2026, 12, 24, 12, tzinfo=UK_TIME),
    datetime(2026, 8, 27, 12, tzinfo=UK_TIME),
]


def naive_weekdays_late(due: datetime, submitted: datetime) -> int:
    """What a calendar that knows weekends but not bank holidays would say."""
    day, end, count = due.astimezone(UK_TIME).date(), submitted.astimezone(UK_TIME).date(), 0
    while day < end:
        day += timedelta(days=1)
        count += day.weekday() < 5
    return max(1, count) if submitted > due else 0


def _due_across_a_bank_holiday(now: datetime) -> datetime:
    """The latest due date already passed with a bank holiday between it and now, so a naive
    weekday count and the real one differ."""
    for due in DUE_BEFORE_A_BANK_HOLIDAY:
        if due < now and naive_weekdays_late(due, now) != working_days_late(due, now, "england"):
            return due
    pytest.fail("no listed due date lies before a bank holiday in the past: extend the list")


def _uk_moment(text: str) -> datetime:
    """`Sunday 22 November 2026 at 9:37pm (UK time)`, as the receipt shows it, to a datetime."""
    match = re.fullmatch(r"\w+ (\d+) (\w+) (\d{4}) at (\d+)(?::(\d+))?(am|pm) \(UK time\)", text)
    assert match, text
    day, month, year, hour, minute, half = match.groups()
    moment = datetime.strptime(f"{day} {month} {year}", "%d %B %Y")
    hour = int(hour) % 12 + (12 if half == "pm" else 0)
    return moment.replace(hour=hour, minute=int(minute or 0), tzinfo=UK_TIME)


def test_the_chosen_due_date_spans_a_bank_holiday_a_naive_weekday_count_would_miss():
    now = datetime.now(UTC)
    due = _due_across_a_bank_holiday(now)
    real = working_days_late(due, now, "england")
    naive = naive_weekdays_late(due, now)
    holidays_between = [
        due.date() + timedelta(days=n)
        for n in range(1, (now.astimezone(UK_TIME).date() - due.date()).days + 1)
        if (due.date() + timedelta(days=n)).weekday() < 5
        and not is_working_day(due.date() + timedelta(days=n), "england")
    ]
    assert naive - real == len(holidays_between) >= 1
    if due.month == 8:
        assert date(2026, 8, 31) in holidays_between


def test_late_submission_shows_working_days_late_across_a_bank_holiday(page, tmp_path):
    due = _due_across_a_bank_holiday(datetime.now(UTC))
    suffix = uuid.uuid4().hex[:6].upper()
    title = f"Reflective log {suffix}"
    essay = tmp_path / f"reflective-log-{suffix.lower()}.pdf"
    make_pdf(essay, "Reflections on a late summer")

    # The tutor sets an assignment that fell due before the bank holiday, with a distant cut-off.
    sign_in_as(page, "tutor@academy.example")
    open_menu(page, "Assignments")
    expect_page(page, "Assignments")
    page.get_by_role("button", name="Set an assignment").click()
    expect_page(page, "Set an assignment")
    assert_accessible(page)
    page.get_by_label("Module and cohort").select_option(
        label="DHL701 Foundations of health informatics – 2026 autumn"
    )
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Brief").fill("Keep a **reflective log** of one change you led.")
    for legend, moment in (
        ("Opens", datetime(2026, 6, 1, 9, tzinfo=UK_TIME)),
        ("Due", due),
        ("Cut-off", datetime(2027, 12, 31, 12, tzinfo=UK_TIME)),
    ):
        group = page.get_by_role("group", name=legend, exact=True)
        group.get_by_label("Day").fill(str(moment.day))
        group.get_by_label("Month").fill(str(moment.month))
        group.get_by_label("Year").fill(str(moment.year))
        group.get_by_label("Time").fill(f"{moment:%H:%M}")
    page.get_by_role("button", name="Set assignment").click()
    expect_page(page, title)
    expect(page.get_by_text(f"{title} has been set")).to_be_visible()
    due_text = f"{due:%A} {due.day} {due:%B %Y} at 12pm"
    assert _summary_value(page, "Due") == due_text
    assert_accessible(page)

    # A learner of the cohort hands work in now: late, by working days.
    learner = "amira.haddad@academy.example"
    sign_in_as(page, learner)
    open_menu(page, "My assignments")
    expect_page(page, "My assignments")
    expect(page.get_by_role("row", name=re.compile(title))).to_contain_text(
        "Not started, past the deadline"
    )
    assert_accessible(page)
    page.get_by_role("link", name=title).click()
    expect_page(page, title)
    assert _summary_value(page, "Time left") == (
        "The deadline has passed: work handed in now is late"
    )
    assert_accessible(page)
    _upload(page, essay)
    page.get_by_role("button", name="Submit your work").click()
    expect_page(page, "Check and submit your work")
    expect(page.get_by_text("This work will be late")).to_be_visible()
    page.get_by_label(DECLARATION).check()
    page.get_by_role("button", name="Submit your work").click()
    expect(page.locator(".nhsuk-panel")).to_contain_text("Work submitted")
    submitted = _uk_moment(_summary_value(page, "Submitted"))
    assert abs(submitted - datetime.now(UTC)) < timedelta(minutes=5)

    expected = working_days_late(due, submitted, "england")
    assert expected != naive_weekdays_late(due, submitted)
    assert _summary_value(page, "Lateness") == f"{expected} working days late"
    assert_accessible(page)

    # The tutor's tracking page agrees.
    sign_in_as(page, "tutor@academy.example")
    open_menu(page, "Assignments")
    page.get_by_role("link", name=title).click()
    expect_page(page, title)
    amira = page.get_by_role("row", name=re.compile("Dr Amira Haddad"))
    expect(amira).to_contain_text(f"Submitted {expected} working days late")
    assert_accessible(page)
    assert page.external_requests == []
