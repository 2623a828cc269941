"""Enrolling a whole intake from a trust's spreadsheet, saved as CSV.

The file must be:
- UTF-8 text (with or without the byte-order mark Excel's "CSV UTF-8" adds), at most 2 MB and
  5,000 learners;
- headed by a line naming exactly these five columns, in this order or any other, in any letter
  case: `email,name,organisation_ods,professional_registration,staff_number`.

`email`, `name` and `organisation_ods` (the sponsoring organisation's ODS code; a new account is
employed there too) are needed on every row; `professional_registration` and `staff_number` may be
left empty. Blank lines are skipped.

Every row is checked before anything is written, and a file with any problem imports nothing.
Problems are reported by row and column; rows are numbered as a spreadsheet shows them, so the
header is row 1 and the first learner row 2. A learner who already has an account (matched by
email address, in any letter case) is enrolled with it, even if the file spells their name
differently; anyone else gets a new account and, once the import is committed, an invitation to
set a password.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from academy.auth import services as auth_services
from academy.auth.models import User
from academy.cohorts import services
from academy.cohorts.models import Cohort, Enrolment
from academy.core.errors import DomainError
from academy.core.storage import FileTooLarge
from academy.extensions import db
from academy.organisations.models import Organisation

log = logging.getLogger(__name__)

COLUMNS = ("email", "name", "organisation_ods", "professional_registration", "staff_number")
REQUIRED = {
    "email": "Enter the learner's email address",
    "name": "Enter the learner's full name",
    "organisation_ods": "Enter the ODS code of the sponsoring organisation",
}
MAX_LENGTHS = {
    "email": 254,
    "name": 200,
    "organisation_ods": 10,
    "professional_registration": 32,
    "staff_number": 32,
}
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5_000
ROW_NUMBERING = "Rows are numbered as in a spreadsheet: the header is row 1."
SAVE_AS_CSV = 'In Excel, use "Save as" and choose "CSV UTF-8 (Comma delimited)".'
#: Pages and reports cite this so people see which rows the numbers mean.
FILE_KEY = "file"


@dataclass(frozen=True)
class Problem:
    row: int | None  # None: the whole file
    column: str | None
    message: str

    @property
    def key(self) -> str:
        return FILE_KEY if self.row is None else f"row {self.row}"

    @property
    def text(self) -> str:
        return f"{self.column}: {self.message}" if self.column else self.message


class ImportRefused(DomainError):
    """The file, or some of its rows, cannot be imported. Nothing was written."""

    status = 422

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message, extra={"errors": problems_by_key(problems)})
        self.problems = problems


def problems_by_key(problems: list[Problem]) -> dict[str, list[str]]:
    """`{"row 3": ["email: ...", ...], "file": [...]}`, as the API reports them."""
    keyed: dict[str, list[str]] = {}
    for problem in problems:
        keyed.setdefault(problem.key, []).append(problem.text)
    return keyed


def _refuse_file(message: str) -> ImportRefused:
    return ImportRefused(message, [Problem(None, None, message)])


# --- reading the file --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int
    values: dict[str, str] | None  # None: the row has the wrong number of values
    width: int


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise FileTooLarge(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it into smaller "
            f"files of at most {MAX_ROWS:,} learners each.",
            field=FILE_KEY,
        )
    if not data.strip():
        raise _refuse_file("The file is empty. " + _header_help())
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _refuse_file(f"The file is saved as UTF-16 text, not UTF-8. {SAVE_AS_CSV}")
    if b"\x00" in data:
        raise _refuse_file(f"This is not a CSV file: it contains binary data. {SAVE_AS_CSV}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse_file(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). {SAVE_AS_CSV}"
        ) from exc


def _header_help() -> str:
    return f"The first line must be the header: {','.join(COLUMNS)}"


def _read_header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if missing or unknown or repeated:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing)}")
        if unknown:
            details.append(f"not expected {', '.join(repr(n) for n in unknown)}")
        if repeated:
            details.append(f"repeated {', '.join(repeated)}")
        raise _refuse_file(f"The header line is not right ({'; '.join(details)}). {_header_help()}")
    return names


def parse(data: bytes) -> list[Line]:
    """The learner rows of a CSV file, or ImportRefused (FileTooLarge past the size limit) when
    the file as a whole cannot be read."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        # csv.Error carries no position; the reader's line count is as near as it knows.
        raise _refuse_file(
            f"This is not a readable CSV file (near line {reader.line_num}: {exc}). {SAVE_AS_CSV}"
        ) from exc
    header_at = next((i for i, cells in enumerate(records) if any(c.strip() for c in cells)), None)
    if header_at is None:
        raise _refuse_file("The file is empty. " + _header_help())
    header = _read_header(records[header_at])
    lines = []
    for index in range(header_at + 1, len(records)):
        cells = records[index]
        if not any(cell.strip() for cell in cells):
            continue
        number = index + 1
        if len(cells) != len(header):
            lines.append(Line(number, None, len(cells)))
        else:
            lines.append(Line(number, dict(zip(header, cells, strict=True)), len(cells)))
    if not lines:
        raise _refuse_file("The file has a header but no learners.")
    if len(lines) > MAX_ROWS:
        raise _refuse_file(
            f"The file has {len(lines):,} learners; at most {MAX_ROWS:,} can be imported at once. "
            "Split it into smaller files."
        )
    return lines


# --- checking the rows -------------------------------------------------------------------------


@dataclass
class PlannedRow:
    number: int
    email: str
    name: str
    organisation: Organisation
    professional_registration: str | None
    staff_number: str | None
    #: The existing account this row matched by email address, or None for a new one.
    user: User | None = None


@dataclass
class ImportCheck:
    rows: list[PlannedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def new_accounts(self) -> int:
        return sum(1 for row in self.rows if row.user is None)

    @property
    def existing_accounts(self) -> int:
        return sum(1 for row in self.rows if row.user is not None)


def _email_problem(value: str) -> str | None:
    try:
        # Syntax only: no DNS lookups; `.test` domains are allowed for demo and test data.
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        return f"{value} is not a valid email address: {error}"
    return None


def _check_values(line: Line, problems: list[Problem]) -> dict[str, str] | None:
    if line.values is None:
        problems.append(
            Problem(
                line.number,
                None,
                f"This row has {line.width} values; it needs {len(COLUMNS)}, one per column "
                "of the header (leave optional ones empty)",
            )
        )
        return None
    values = {name: value.strip() for name, value in line.values.items()}
    ok = True
    for column in COLUMNS:
        value = values[column]
        if column in REQUIRED and not value:
            problems.append(Problem(line.number, column, REQUIRED[column]))
            ok = False
        elif len(value) > MAX_LENGTHS[column]:
            problems.append(
                Problem(line.number, column, f"Must be {MAX_LENGTHS[column]} characters or fewer")
            )
            ok = False
    if values["email"] and ok and (message := _email_problem(values["email"])):
        problems.append(Problem(line.number, "email", message))
        ok = False
    return values if ok else None


def _users_by_email(emails: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    chunk = sorted(emails)
    for start in range(0, len(chunk), 500):
        for user in db.session.scalars(
            sa.select(User).where(User.email.in_(chunk[start : start + 500]))
        ):
            found[user.email] = user
    return found


def _organisations_by_ods(codes: set[str]) -> dict[str, Organisation]:
    if not codes:
        return {}
    return {
        o.ods_code: o
        for o in db.session.scalars(sa.select(Organisation).where(Organisation.ods_code.in_(codes)))
    }


def _enrolled_user_ids(cohort: Cohort) -> set[int]:
    return set(
        db.session.scalars(sa.select(Enrolment.user_id).where(Enrolment.cohort_id == cohort.id))
    )


def check_rows(lines: list[Line], cohort: Cohort) -> ImportCheck:
    """Every problem in every row, and the plan for the rows if there are none. Reads only."""
    result = ImportCheck()
    valid: list[tuple[int, dict[str, str]]] = []
    for line in lines:
        values = _check_values(line, result.problems)
        if values is not None:
            valid.append((line.number, values))

    emails = {auth_services.normalise_email(v["email"]) for _, v in valid}
    users = _users_by_email(emails)
    organisations = _organisations_by_ods({v["organisation_ods"].upper() for _, v in valid})
    enrolled = _enrolled_user_ids(cohort)
    first_seen: dict[str, int] = {}
    for number, values in valid:
        email = auth_services.normalise_email(values["email"])
        ods = values["organisation_ods"].upper()
        user = users.get(email)
        row_problems = []
        if email in first_seen:
            row_problems.append(
                Problem(number, "email", f"{email} is also on row {first_seen[email]}")
            )
        else:
            first_seen[email] = number
        if ods not in organisations:
            row_problems.append(
                Problem(number, "organisation_ods", f"No organisation has the ODS code {ods}")
            )
        if user is not None and user.id in enrolled:
            row_problems.append(
                Problem(number, "email", f"{email} is already enrolled in this cohort")
            )
        if user is not None and not user.active:
            row_problems.append(Problem(number, "email", f"The account for {email} is deactivated"))
        result.problems.extend(row_problems)
        if not row_problems:
            result.rows.append(
                PlannedRow(
                    number=number,
                    email=email,
                    name=values["name"],
                    organisation=organisations[ods],
                    professional_registration=values["professional_registration"] or None,
                    staff_number=values["staff_number"] or None,
                    user=user,
                )
            )
    learners = len(lines)
    places_left = cohort.capacity - cohort.places_taken
    if learners > places_left:
        result.problems.append(
            Problem(
                None,
                None,
                f"The cohort has {max(places_left, 0)} places left, but the file has "
                f"{learners} learners",
            )
        )
    result.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return result


def check(data: bytes, cohort: Cohort) -> ImportCheck:
    """Read and check a whole file without writing anything. ImportRefused if the file itself
    cannot be read; otherwise the rows, and any problems with them."""
    return check_rows(parse(data), cohort)


# --- importing ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: list[User]
    existing: list[User]
    enrolments: list[Enrolment]

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "existing_users": len(self.existing),
            "enrolled": len(self.enrolments),
        }


def run(data: bytes, cohort: Cohort, *, actor: User) -> ImportResult:
    """Check the file again and, if every row is right, create the missing accounts and enrol
    everyone, flushing only; the caller commits once, then calls `send_invitations`."""
    plan = check(data, cohort)
    if not plan.ok:
        rows = len({p.row for p in plan.problems if p.row is not None})
        summary = f"{rows} row{'s' if rows != 1 else ''} ha{'ve' if rows != 1 else 's'} problems"
        if any(p.row is None for p in plan.problems):
            summary = "The file has problems" if not rows else f"The file and {summary}"
        raise ImportRefused(f"{summary}, so nobody was imported. {ROW_NUMBERING}", plan.problems)
    created, existing, entries = [], [], []
    for row in plan.rows:
        user = row.user
        if user is None:
            user = auth_services.create_user(
                actor=actor,
                email=row.email,
                name=row.name,
                password=None,
                organisation_id=row.organisation.id,
                professional_registration=row.professional_registration,
                staff_number=row.staff_number,
                invite=False,
            )
            created.append(user)
        else:
            existing.append(user)
        entries.append((user, row.organisation))
    enrolments = services.enrol_many(entries, cohort, actor=actor, reason="Enrolled by CSV import")
    log.info(
        "%s learners imported into cohort %s by %s (%s new accounts)",
        len(enrolments),
        cohort.id,
        actor.id,
        len(created),
    )
    return ImportResult(created=created, existing=existing, enrolments=enrolments)


def send_invitations(users: list[User]) -> int:
    """Invite each new account to set a password. Call only after the import is committed, so no
    email points at an account that was rolled back. Returns how many could not be sent."""
    failed = 0
    for user in users:
        try:
            auth_services.send_invitation(user)
        except OSError:  # the mail server; the accounts stand and invitations can be resent
            log.exception("invitation to user %s could not be sent", user.id)
            failed += 1
    return failed
