"""Issue 6's "done when", through the real pages: a learner who passed her modules finds her
credentials in her wallet, prints a certificate whose QR code leads to the public page, and her
credential verifies with the independent verifier (the digitalbazaar stack, offline) given only
the issuer's documents as the live server publishes them. An admin revokes a credential: the
public page, the independent verifier and our own verifier form all say so. External credentials
and the CPD record work in a browser too.

The demo's finished cohort "2025 autumn" supplies the credentials: Dr Hannah Clarke passed four
modules and holds the award with Merit; Rhys Morgan passed two modules.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import urllib.request
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import segno
from playwright.sync_api import expect

from academy.core.calendar import UK_TIME
from tests.browser.conftest import assert_accessible, expect_page, open_menu, sign_in_as
from tests.browser.test_assessment_journey import make_pdf
from tests.credentials.test_independent_verifier import run_independent_verifier

pytestmark = pytest.mark.browser

HANNAH = ("hannah.clarke@academy.example", "Dr Hannah Clarke")
RHYS = ("rhys.morgan@academy.example", "Rhys Morgan")
ADMIN = "admin@academy.example"
AWARD = "Postgraduate Certificate in Digital Health Leadership"
HOURS_PER_CREDIT = 10


# --- what a verifier elsewhere would fetch -----------------------------------------------------


def _fetch_json(live_server: str, url: str) -> dict:
    """A public document of the live server, fetched over HTTP as any verifier would."""
    assert url.startswith(f"{live_server}/"), url  # the academy's own URL, nobody else's
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our live server
        assert response.status == 200, url
        return json.loads(response.read())


def _issuer_documents(live_server: str, credential: dict) -> dict:
    """The issuer's controller document, the key the proof names and the status lists, as the
    live server publishes them now: all the independent verifier's loader may serve."""
    issuer = credential["issuer"]
    urls = [
        issuer["id"] if isinstance(issuer, dict) else issuer,
        credential["proof"]["verificationMethod"],
        *(entry["statusListCredential"] for entry in credential["credentialStatus"]),
    ]
    return {url: _fetch_json(live_server, url) for url in urls}


def _statuses(result: dict) -> dict[str, bool]:
    return {entry["purpose"]: entry["status"] for entry in result["statusResults"]}


# --- pages -------------------------------------------------------------------------------------


def _card(page, title: str):
    """A credential's card in the wallet."""
    return page.locator("section.academy-credential", has=page.get_by_role("heading", name=title))


def _summary_value(scope, key: str):
    return scope.locator(".nhsuk-summary-list__row", has_text=key).locator(
        ".nhsuk-summary-list__value"
    )


def _verdict(page):
    return page.locator("[data-verdict]")


def _check_with_our_verifier(page, document: dict) -> None:
    page.goto("/credentials/verify")
    expect_page(page, "Check a credential")
    page.get_by_label("Paste the credential's JSON").fill(json.dumps(document, ensure_ascii=False))
    page.get_by_role("button", name="Check credential").click()
    expect(_verdict(page)).to_be_visible()


def _open_wallet(page) -> None:
    open_menu(page, "My credentials")
    expect_page(page, "My credentials")


def _external_row(page, title: str):
    return page.get_by_role("table", name=re.compile(r"^Credentials from elsewhere")).locator(
        "tbody tr", has_text=title
    )


# --- the journeys ------------------------------------------------------------------------------


def test_wallet_certificate_and_public_page_and_the_independent_verifier_agrees(
    page, live_server, tmp_path
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in_as(page, HANNAH[0])
    _open_wallet(page)
    cards = page.locator("section.academy-credential")
    expect(cards).to_have_count(5)  # four module passes and the award
    award = _card(page, AWARD)
    expect(_summary_value(award, "Classification")).to_have_text("Merit")
    expect(_summary_value(award, "Type")).to_have_text("Certificate")
    expect(_summary_value(award, "Status")).to_contain_text("Valid")
    modules = cards.filter(has=page.get_by_text("Module pass", exact=True))
    expect(modules).to_have_count(4)
    module_title = modules.first.get_by_role("heading").inner_text()
    assert_accessible(page)

    # The share link, copied with the button as a learner would.
    share = page.get_by_label(f"Link to share for {AWARD}")
    award_link = share.input_value()
    assert re.fullmatch(rf"{re.escape(live_server)}/credentials/[0-9a-f-]{{36}}", award_link)
    award.get_by_role("button", name=f"Copy link for {AWARD}").click()
    expect(award.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == award_link
    module_link = page.get_by_label(f"Link to share for {module_title}").input_value()

    # The printable certificate: her name, the award, and a QR code of the public page.
    page.get_by_role("link", name=f"Printable certificate for {AWARD}").click()
    expect_page(page, "Printable certificate")
    certificate = page.get_by_role("article", name="Certificate")
    expect(certificate.locator(".academy-certificate__holder")).to_have_text(HANNAH[1])
    expect(certificate.locator(".academy-certificate__title")).to_have_text(AWARD)
    expect(certificate).to_contain_text("Merit")
    qr_code = certificate.get_by_role("img", name="QR code: scan to verify this credential")
    expect(qr_code).to_be_visible()
    assert qr_code.evaluate("element => element.tagName") == "svg"
    expect(certificate.locator(".academy-certificate__url")).to_have_text(award_link)
    # The same link and settings give the same symbol, so the code drawn is the link's code.
    expected = segno.make(award_link, error="m").svg_inline(scale=4)
    drawn_path = qr_code.locator("path").get_attribute("d")
    assert drawn_path == re.search(r'\sd="([^"]+)"', expected).group(1)
    assert_accessible(page)

    # Anyone with the link, signed out, sees the award is genuine and in force.
    page.context.clear_cookies()
    page.goto(award_link)
    expect_page(page, AWARD)
    expect(_verdict(page)).to_have_attribute("data-verdict", "valid")
    expect(_verdict(page)).to_contain_text("Valid")
    expect(_summary_value(page, "Awarded to")).to_have_text(HANNAH[1])
    expect(_summary_value(page, "Classification")).to_have_text("Merit")
    assert_accessible(page)

    # A module credential verifies with software we did not write, offline, given only what
    # the live server publishes; a changed copy does not.
    issued = _fetch_json(live_server, f"{module_link}.json")
    documents = _issuer_documents(live_server, issued)
    renamed = copy.deepcopy(issued)
    renamed["credentialSubject"]["achievement"]["name"] += " (with distinction)"
    genuine, changed = run_independent_verifier(
        [
            {"credential": issued, "checkStatus": True},
            {"credential": renamed, "checkStatus": True},
        ],
        documents,
        tmp_path,
    )
    assert genuine["verified"], genuine["error"]
    assert _statuses(genuine) == {"revocation": False, "suspension": False}
    assert not changed["verified"]
    assert "signature" in changed["error"].lower()

    # An employer pastes the same JSON into our own verifier form.
    _check_with_our_verifier(page, issued)
    expect(_verdict(page)).to_have_attribute("data-verdict", "valid")
    expect(_verdict(page)).to_contain_text("Valid")
    expect(page.get_by_role("table", name="What was checked")).not_to_contain_text("Failed")
    assert_accessible(page)
    assert page.external_requests == []


def test_external_credential_with_evidence_is_self_declared_until_an_admin_verifies_it(
    page, tmp_path
):
    title = f"Certificate in Clinical Informatics {uuid.uuid4().hex[:6].upper()}"
    evidence = tmp_path / "informatics-certificate.pdf"
    make_pdf(evidence, "Certificate in Clinical Informatics")

    sign_in_as(page, HANNAH[0])
    _open_wallet(page)
    page.get_by_role("button", name="Add a credential from elsewhere").click()
    expect_page(page, "Add a credential from elsewhere")
    assert_accessible(page)
    page.get_by_label("Title of the credential").fill(title)
    page.get_by_label("Awarding body").fill("Faculty of Clinical Informatics")
    page.get_by_label("Date awarded").fill("2024-06-28")
    page.get_by_label("Expiry date (optional)").fill("2029-06-28")
    page.get_by_label("Evidence (optional)").set_input_files(str(evidence))
    page.get_by_role("button", name="Add credential").click()
    expect_page(page, "My credentials")
    expect(page.get_by_text(f"“{title}” has been added")).to_be_visible()
    row = _external_row(page, title)
    expect(row).to_contain_text("Faculty of Clinical Informatics")
    expect(row).to_contain_text("Self-declared")
    expect(row).not_to_contain_text("Verified")
    assert_accessible(page)

    # The evidence comes back as the file uploaded, as an attachment, never shown inline.
    evidence_link = row.get_by_role("link", name=f"Evidence for {title}")
    response = page.request.get(evidence_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert evidence.name in response.headers["content-disposition"]
    assert response.headers["content-type"] == "application/pdf"
    assert response.body() == evidence.read_bytes()
    with page.expect_download() as download:
        evidence_link.click()
    assert download.value.suggested_filename == evidence.name

    # An admin checks the evidence and verifies it.
    sign_in_as(page, ADMIN)
    open_menu(page, "Credentials")
    expect_page(page, "Credentials")
    page.get_by_label("Search by learner").fill(title)
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name=re.compile(r"^Credentials matching your search"))
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("Self-declared")
    results.get_by_role("link", name=title).click()
    expect_page(page, title)
    expect(_summary_value(page, "Evidence")).to_contain_text(evidence.name)
    assert_accessible(page)
    page.get_by_role("button", name="Mark as verified").click()
    expect(page.get_by_text(f"“{title}” of {HANNAH[1]} is now verified")).to_be_visible()
    expect(_summary_value(page, "Verification")).to_contain_text("Verified")

    sign_in_as(page, HANNAH[0])
    _open_wallet(page)
    expect(_external_row(page, title)).to_contain_text("Verified")
    expect(_external_row(page, title)).not_to_contain_text("Self-declared")
    assert page.external_requests == []


def _all_time(page, kind: str) -> Decimal:
    """Hours of one kind of learning ("Academy study", "Self-logged", "Total") in the record's
    "All time" column."""
    table = page.get_by_role("table", name="Your hours of CPD")
    cell = table.get_by_role("row", name=re.compile(rf"^{kind}")).locator("td").last
    return Decimal(re.fullmatch(r"([\d.]+) hours?", cell.inner_text().strip()).group(1))


def test_cpd_record_counts_academy_study_and_logged_activities_and_exports_them(page):
    title = f"Clinical safety case workshop {uuid.uuid4().hex[:6].upper()}"
    reflection = (
        "Réflexion: the café-style hazard log façade fell apart under naïve review.\n\n"
        "Zoë's coöperation with the CSO showed me how to chair a hazard workshop."
    )
    started_on = datetime.now(UK_TIME).date() - timedelta(days=3)

    sign_in_as(page, HANNAH[0])
    open_menu(page, "My CPD")
    expect_page(page, "My CPD record")
    study = page.get_by_role("table", name="Modules you have taken in the Academy")
    rows = study.locator("tbody tr")
    expect(rows).to_have_count(4)
    module_hours = {}
    for index in range(4):
        row = rows.nth(index)
        code, credits = re.search(r"(DHL\d+) .*?(\d+) credits", row.inner_text(), re.S).groups()
        hours = Decimal(row.locator("td").nth(2).inner_text().split()[-1])
        assert hours == int(credits) * HOURS_PER_CREDIT
        module_hours[code] = hours
        expect(row).to_contain_text("2025 autumn")
        expect(row).to_contain_text("Passed")
        expect(row.get_by_role("link", name=re.compile(r"^View credential for "))).to_be_visible()
    expect(page.get_by_role("heading", name="FHIR fundamentals (e-learning)")).to_be_visible()
    assert _all_time(page, "Academy study") == sum(module_hours.values())
    self_logged, total = _all_time(page, "Self-logged"), _all_time(page, "Total")
    assert_accessible(page)

    page.get_by_role("link", name="Add a CPD activity").click()
    expect_page(page, "Add a CPD activity")
    assert_accessible(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Kind of activity").select_option(label="Conference or event")
    page.get_by_label("Provider (optional)").fill("Royal Free London NHS Foundation Trust")
    page.get_by_label("Start date").fill(started_on.isoformat())
    page.get_by_label("Hours").fill("3.5")
    page.get_by_label("Reflection (optional)").fill(reflection)
    page.get_by_role("button", name="Add activity").click()
    expect_page(page, "My CPD record")
    expect(page.get_by_text(f"“{title}” has been added to your CPD record")).to_be_visible()
    entry = page.locator("section", has=page.get_by_role("heading", name=title))
    expect(entry).to_contain_text("3.5 hours")
    expect(entry).to_contain_text("Réflexion: the café-style hazard log façade")
    expect(entry).to_contain_text("Zoë's coöperation with the CSO")
    assert _all_time(page, "Self-logged") == self_logged + Decimal("3.5")
    assert _all_time(page, "Total") == total + Decimal("3.5")
    assert_accessible(page)

    # The spreadsheet for appraisal: Academy study and the new entry, accents intact.
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"as a spreadsheet \(CSV\)$")).click()
    assert re.fullmatch(r"cpd-record-all-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    text = download.value.path().read_bytes().decode("utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    (logged,) = [line for line in exported if line["Title"] == title]
    assert logged["Source"] == "Self-logged"
    assert logged["Activity type"] == "Conference or event"
    assert logged["Start date"] == started_on.isoformat()
    assert logged["Hours"] == "3.5"
    assert logged["Reflection"].replace("\r\n", "\n") == reflection
    academy = [line for line in exported if line["Source"] == "Academy"]
    assert {line["Title"].split()[0]: Decimal(line["Hours"]) for line in academy} == module_hours
    for line in academy:
        assert line["Outcome"] == "Passed"
        assert re.fullmatch(r"https?://\S+/credentials/[0-9a-f-]{36}", line["Credential"])

    # The printable record.
    page.get_by_role("link", name=re.compile(r"^Printable CPD record")).click()
    expect_page(page, "Continuing professional development record")
    expect(page.get_by_role("table", name="Activities")).to_contain_text(title)
    expect(_summary_value(page, "Name")).to_have_text(HANNAH[1])
    assert_accessible(page)
    assert page.external_requests == []


def test_admin_revokes_a_credential_and_every_verifier_says_so(page, live_server, tmp_path):
    reason = "Issued in error: the DHL mark was entered against the wrong learner"

    sign_in_as(page, ADMIN)
    open_menu(page, "Credentials")
    expect_page(page, "Credentials")
    assert_accessible(page)
    page.get_by_label("Search by learner").fill(RHYS[1])
    page.get_by_label("Status").select_option("valid")
    page.get_by_label("Type").select_option(label="Module pass")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name=re.compile(r"^Credentials matching your search"))
    expect(results.locator("tbody tr")).to_have_count(2)  # his two passes
    expect(results).not_to_contain_text(HANNAH[1])
    title = results.locator("tbody tr").first.get_by_role("link").inner_text()
    results.get_by_role("link", name=title).click()
    expect_page(page, title)
    public_link = page.get_by_role("link", name="Public verification page").get_attribute("href")
    assert_accessible(page)

    page.get_by_label("Why are you revoking it?").fill(reason)
    page.get_by_role("button", name="Revoke credential").click()
    expect(page.get_by_text(f"“{title}” of {RHYS[1]} has been revoked")).to_be_visible()
    expect(_summary_value(page, "Status")).to_contain_text("Revoked")
    expect(_summary_value(page, "Status")).to_contain_text(reason)
    expect(page.get_by_role("button", name="Revoke credential")).to_have_count(0)
    history = page.get_by_role("table", name="What has happened to this credential")
    expect(history.locator("tbody tr", has_text="Revoked")).to_contain_text(reason)
    assert_accessible(page)

    # The public page, signed out, says it is revoked and why.
    page.context.clear_cookies()
    page.goto(public_link)
    expect_page(page, title)
    expect(_verdict(page)).to_have_attribute("data-verdict", "revoked")
    expect(_verdict(page)).to_contain_text("Revoked")
    expect(_verdict(page)).to_contain_text(reason)
    expect(_summary_value(page, "Awarded to")).to_have_text(RHYS[1])
    assert_accessible(page)

    # The independent verifier, given the status lists as they are now: the signature holds,
    # and the revocation list says it is withdrawn.
    issued = _fetch_json(live_server, f"{public_link}.json")
    (result,) = run_independent_verifier(
        [{"credential": issued, "checkStatus": True}],
        _issuer_documents(live_server, issued),
        tmp_path,
    )
    assert result["verified"], result["error"]
    assert _statuses(result) == {"revocation": True, "suspension": False}

    # And our own verifier form.
    _check_with_our_verifier(page, issued)
    expect(_verdict(page)).to_have_attribute("data-verdict", "revoked")
    expect(_verdict(page)).to_contain_text("Revoked")
    assert_accessible(page)
    assert page.external_requests == []
