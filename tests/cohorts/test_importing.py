"""Reading and checking a CSV file of learners, and importing it: all rows or none."""

from __future__ import annotations

import pytest

from academy.auth.models import User
from academy.cohorts import importing
from academy.cohorts.importing import ImportRefused, Problem
from academy.cohorts.models import Cohort, Enrolment
from academy.core.storage import FileTooLarge
from academy.extensions import db
from tests.cohorts import fresh
from tests.conftest import count

pytestmark = pytest.mark.usefixtures("ctx")

HEADER = "email,name,organisation_ods,professional_registration,staff_number"


def csv_bytes(*rows: str, header: str = HEADER, bom: bool = False, newline="\r\n") -> bytes:
    text = newline.join([header, *rows]) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def refusal(data: bytes) -> str:
    with pytest.raises(ImportRefused) as refused:
        importing.parse(data)
    assert refused.value.status == 422
    [message] = refused.value.problems
    assert message.row is None  # a whole-file problem
    return message.message


# --- reading the file --------------------------------------------------------------------------


def test_a_file_is_read_with_or_without_a_byte_order_mark():
    rows = ("priya.shah@nhs.test,Dr Priya Shah,RJ1,GMC 7098765,", "liam@nhs.test,Liam Evans,RJ1,,")
    for data in (csv_bytes(*rows), csv_bytes(*rows, bom=True)):
        lines = importing.parse(data)
        assert [line.number for line in lines] == [2, 3]
        assert lines[0].values["email"] == "priya.shah@nhs.test"  # no BOM glued to the header
        assert lines[0].values["professional_registration"] == "GMC 7098765"


def test_the_header_may_name_the_columns_in_any_order_and_case():
    data = csv_bytes(
        "Liam Evans,RJ1,liam@nhs.test,,E123",
        header=" Name ,ORGANISATION_ODS,Email,Professional_Registration,staff_number",
    )
    [line] = importing.parse(data)
    assert line.values == {
        "name": "Liam Evans",
        "organisation_ods": "RJ1",
        "email": "liam@nhs.test",
        "professional_registration": "",
        "staff_number": "E123",
    }


def test_blank_lines_are_skipped_and_rows_keep_their_spreadsheet_numbers():
    data = csv_bytes("a@nhs.test,A,RJ1,,", "", "b@nhs.test,B,RJ1,,", newline="\n")
    assert [line.number for line in importing.parse(data)] == [2, 4]


def test_a_missing_header_is_refused():
    message = refusal(b"priya.shah@nhs.test,Dr Priya Shah,RJ1,,\n")
    assert "header" in message
    assert HEADER in message


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("email,name,organisation_ods,staff_number", ["missing professional_registration"]),
        (HEADER + ",shoe_size", ["not expected 'shoe_size'"]),
        (
            "email,email,name,organisation_ods,professional_registration,staff_number",
            ["repeated email"],
        ),
    ],
)
def test_a_wrong_header_says_what_is_wrong(header, words):
    message = refusal(csv_bytes("x@nhs.test,X,RJ1,,", header=header))
    for word in words:
        assert word in message


def test_a_non_utf8_file_is_refused_with_how_to_fix_it():
    data = csv_bytes("zoe@nhs.test,Zoë Brontë,RJ1,,").decode().encode("latin-1")
    message = refusal(data)
    assert "not UTF-8" in message and "CSV UTF-8" in message


def test_a_utf16_file_is_refused():
    data = "\ufeff" + HEADER + "\r\nzoe@nhs.test,Zoe,RJ1,,\r\n"
    assert "UTF-16" in refusal(data.encode("utf-16"))


def test_a_binary_file_is_refused():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
    assert "not a CSV file" in refusal(png)


def test_a_file_that_is_not_csv_at_all_is_refused():
    assert "header" in refusal(b"%PDF-1.7 this is a document, not a spreadsheet\n")


def test_an_over_size_file_is_refused_as_too_large():
    row = b"someone@nhs.test,Some One,RJ1,,\n"
    data = HEADER.encode() + b"\n" + row * (importing.MAX_BYTES // len(row) + 1)
    with pytest.raises(FileTooLarge) as refused:
        importing.parse(data)
    assert refused.value.status == 413
    assert "2 MB" in refused.value.message


def test_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    data = csv_bytes(*(f"p{n}@nhs.test,P {n},RJ1,," for n in range(4)))
    assert "at most 3" in refusal(data)


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"", "file is empty"), (b"   \r\n\r\n", "file is empty"), (csv_bytes(), "no learners")],
)
def test_an_empty_file_or_a_header_alone_is_refused(data, says):
    assert says in refusal(data)


def test_a_malformed_csv_is_refused():
    assert "not a readable CSV" in refusal(csv_bytes('a@nhs.test,"Dr "Quoted" Name,RJ1,,'))


# --- checking every row ------------------------------------------------------------------------


def problems_of(data: bytes, cohort) -> list[Problem]:
    return importing.check(data, cohort).problems


def test_every_problem_is_named_by_row_and_column(cohort, trust):
    data = csv_bytes(
        "good@nhs.test,Good Person,RJ1,,",
        "not-an-email,Bad Email,RJ1,,",
        "nobody@nhs.test,,RJ1,,",
        "x@nhs.test,Unknown Trust,ZZZ9,,",
        "good@nhs.test,Good Again,rj1,,",
        "short@nhs.test,Too Few Values,RJ1",
        "long@nhs.test,Long Registration,RJ1," + "9" * 33 + ",",
    )

    found = {(p.row, p.column) for p in problems_of(data, cohort)}

    assert found == {
        (3, "email"),
        (4, "name"),
        (5, "organisation_ods"),
        (6, "email"),
        (7, None),
        (8, "professional_registration"),
    }


def test_the_messages_say_what_is_wrong(cohort, trust):
    data = csv_bytes(
        "good@nhs.test,Good Person,RJ1,,",
        "x@nhs.test,Unknown Trust,ZZZ9,,",
        "GOOD@nhs.test,Good Again,RJ1,,",
    )
    errors = importing.problems_by_key(problems_of(data, cohort))
    assert errors == {
        "row 3": ["organisation_ods: No organisation has the ODS code ZZZ9"],
        "row 4": ["email: good@nhs.test is also on row 2"],
    }


def test_people_already_in_the_cohort_or_deactivated_are_problems(cohort, trust, make):
    make.learner_in(cohort, email="already@nhs.test")
    make.user(email="gone@nhs.test", active=False)
    data = csv_bytes("already@nhs.test,Already In,RJ1,,", "gone@nhs.test,Gone Away,RJ1,,")

    errors = importing.problems_by_key(problems_of(data, cohort))
    assert errors == {
        "row 2": ["email: already@nhs.test is already enrolled in this cohort"],
        "row 3": ["email: The account for gone@nhs.test is deactivated"],
    }


def test_an_existing_account_is_matched_by_email_even_with_another_name(cohort, trust, make):
    existing = make.user(email="priya.shah@nhs.test", name="Priya Shah")
    plan = importing.check(csv_bytes("Priya.Shah@NHS.test,Dr P. Shah,RJ1,,"), cohort)
    assert plan.ok
    [row] = plan.rows
    assert row.user == existing and row.name == "Dr P. Shah"
    assert (plan.new_accounts, plan.existing_accounts) == (0, 1)


def test_the_whole_batch_must_fit_in_the_cohort(make, programme, trust):
    cohort = make.cohort(programme, capacity=3)
    make.learner_in(cohort)
    data = csv_bytes(*(f"p{n}@nhs.test,P {n},RJ1,," for n in range(3)))

    [problem] = problems_of(data, cohort)
    assert problem.row is None
    assert problem.message == "The cohort has 2 places left, but the file has 3 learners"


# --- importing ---------------------------------------------------------------------------------


def test_a_file_with_one_bad_row_imports_nothing(cohort, trust, admin, outbox):
    rows = [f"p{n}@nhs.test,Person {n},RJ1,," for n in range(29)] + ["p29@nhs.test,Person,XXX,,"]
    users_before = count(User)

    with pytest.raises(ImportRefused) as refused:
        importing.run(csv_bytes(*rows), cohort, actor=admin)

    assert refused.value.extra["errors"] == {
        "row 31": ["organisation_ods: No organisation has the ODS code XXX"]
    }
    assert "1 row has problems, so nobody was imported" in refused.value.message
    db.session.rollback()
    assert count(User) == users_before
    assert count(Enrolment) == 0
    assert fresh(Cohort, cohort.id).places_taken == 0
    assert outbox == []


def test_importing_creates_the_missing_accounts_and_enrols_everyone(
    cohort, trust, other_trust, admin, make, outbox
):
    existing = make.user(email="priya.shah@nhs.test", name="Priya Shah", organisation=other_trust)
    data = csv_bytes(
        "priya.shah@nhs.test,Dr Priya Shah,RJ1,,",
        "liam.evans@nhs.test,Liam Evans,RRK,NMC 12A3456E,ESR-77",
    )

    result = importing.run(data, cohort, actor=admin)
    db.session.commit()

    assert result.counts() == {"created": 1, "existing_users": 1, "enrolled": 2}
    assert outbox == []  # invitations wait for the caller's commit
    liam = db.session.scalar(db.select(User).where(User.email == "liam.evans@nhs.test"))
    assert (liam.name, liam.organisation_id, liam.password_hash) == (
        "Liam Evans",
        other_trust.id,
        None,
    )
    assert (liam.professional_registration, liam.staff_number) == ("NMC 12A3456E", "ESR-77")
    assert existing.name == "Priya Shah"  # an import never renames an existing account
    sponsors = {e.user_id: e.sponsor_organisation_id for e in result.enrolments}
    assert sponsors == {existing.id: trust.id, liam.id: other_trust.id}
    assert fresh(Cohort, cohort.id).places_taken == 2
    assert all(h.reason == "Enrolled by CSV import" for e in result.enrolments for h in e.history)

    assert importing.send_invitations(result.created) == 0
    assert outbox == []  # queued, and sent once the caller commits
    db.session.commit()
    assert [m["To"] for m in outbox] == ["liam.evans@nhs.test"]
