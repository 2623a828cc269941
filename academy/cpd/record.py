"""A learner's CPD record: the activities they logged themselves and their Academy study, by
CPD year, with totals, as the pages, the CSV export and the API read it.

Academy study is worked out, never stored. Each module the learner has taken is a line: one
with a module result, or one their cohort runs, while they hold a place in it, that has
started. Its notional hours are 10 per credit (the UK credit framework: one credit is ten
notional hours of learning) and its outcome comes from module results, which are built from
released marks only, so a mark still being marked never shows as a pass. Marks never appear.

CPD years run from 1 April to 31 March, like appraisal and revalidation years; an activity
counts in the year it started. Everything is read in a fixed number of queries whatever the
size of the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from academy.auth.models import User
from academy.catalogue.models import Module
from academy.cohorts.models import HOLDS_A_PLACE, Cohort, Enrolment, ModuleDelivery
from academy.core import clock, spreadsheets
from academy.core.calendar import uk_date
from academy.cpd.models import CPD_ACTIVITY_TYPES, CpdEntry
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking.models import ModuleResult

#: The UK credit framework: one credit stands for ten notional hours of learning.
HOURS_PER_CREDIT = 10
OUTCOMES = {"passed": "Passed", "in_progress": "In progress", "not_passed": "Not passed"}
ACADEMY, SELF_LOGGED = "Academy", "Self-logged"


@dataclass(frozen=True, order=True)
class CpdYear:
    """The CPD year that starts on 1 April of `start`."""

    start: int

    #: Years a link or a query may name: every year an entry can fall in (its dates are from
    #: 1900 on, so from the year starting in April 1899), and every day of them a date Python
    #: and the databases can hold.
    EARLIEST = 1899
    LATEST = 9998

    @classmethod
    def of(cls, day: date) -> CpdYear:
        return cls(day.year if (day.month, day.day) >= (4, 1) else day.year - 1)

    @classmethod
    def parse(cls, text: str | None) -> CpdYear | None:
        """`2026` (1 April 2026 to 31 March 2027), or None for `all` or nothing. Anything else
        raises ValueError."""
        text = (text or "").strip().lower()
        if text in ("", "all"):
            return None
        if not (text.isascii() and text.isdigit() and len(text) == 4):
            raise ValueError(f"not a CPD year: {text!r}")
        year = int(text)
        if not cls.EARLIEST <= year <= cls.LATEST:
            raise ValueError(f"CPD year out of range: {year}")
        return cls(year)

    @property
    def first_day(self) -> date:
        return date(self.start, 4, 1)

    @property
    def last_day(self) -> date:
        return date(self.start + 1, 3, 31)

    @property
    def label(self) -> str:
        """`2026 to 2027`"""
        return f"{self.start} to {self.start + 1}"

    @property
    def long_label(self) -> str:
        """`1 April 2026 to 31 March 2027`"""
        return f"1 April {self.start} to 31 March {self.start + 1}"

    def __contains__(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class AcademyLine:
    """A module taken in the academy, as CPD."""

    module_id: int
    module_code: str
    module_title: str
    cohort_id: int
    cohort_name: str
    starts_on: date
    ends_on: date
    credits: int
    #: A key of OUTCOMES.
    outcome: str
    #: The live module credential issued for it, if any.
    credential: Credential | None = None

    @property
    def title(self) -> str:
        return f"{self.module_code} {self.module_title}"

    @property
    def hours(self) -> Decimal:
        return Decimal(self.credits * HOURS_PER_CREDIT)

    @property
    def outcome_label(self) -> str:
        return OUTCOMES[self.outcome]


@dataclass(frozen=True)
class Hours:
    self_logged: Decimal = Decimal(0)
    academy: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.self_logged + self.academy

    @classmethod
    def of(cls, entries: Iterable[CpdEntry], lines: Iterable[AcademyLine]) -> Hours:
        return cls(
            sum((entry.hours for entry in entries), Decimal(0)),
            sum((line.hours for line in lines), Decimal(0)),
        )


@dataclass(frozen=True)
class CpdRecord:
    owner: User
    #: The year chosen, or None for all years.
    period: CpdYear | None
    current_year: CpdYear
    #: In the period, latest first.
    entries: list[CpdEntry]
    academy: list[AcademyLine]
    in_period: Hours
    this_year: Hours
    all_time: Hours
    #: Years to choose from: those with any activity, and the current one; latest first.
    years: list[CpdYear] = field(default_factory=list)


def uk_today() -> date:
    return uk_date(clock.now())


def _outcome(results: list[ModuleResult]) -> str:
    if not results:
        return "in_progress"
    # The result that counts: a pass over a fail, else the later attempt (a resit under way).
    best = max(results, key=lambda r: (r.passed, r.attempt))
    if best.passed:
        return "passed"
    return "not_passed" if best.status == "complete" else "in_progress"


def academy_study(user_id: int, today: date) -> list[AcademyLine]:
    """The learner's Academy study lines, latest first."""
    results: dict[tuple[int, int], list[ModuleResult]] = {}
    mine = sa.select(ModuleResult).where(ModuleResult.user_id == user_id)
    for result in db.session.scalars(mine):
        results.setdefault((result.cohort_id, result.module_id), []).append(result)
    holding = {
        cohort_id
        for cohort_id, status in db.session.execute(
            sa.select(Enrolment.cohort_id, Enrolment.status).where(Enrolment.user_id == user_id)
        )
        if status in HOLDS_A_PLACE
    }
    cohort_ids = holding | {cohort_id for cohort_id, _ in results}
    taken: dict[tuple[int, int], dict] = {}
    for delivery, cohort_name in db.session.execute(
        sa.select(ModuleDelivery, Cohort.name)
        .join(Cohort, Cohort.id == ModuleDelivery.cohort_id)
        .where(ModuleDelivery.cohort_id.in_(cohort_ids or {-1}))
    ):
        key = (delivery.cohort_id, delivery.module_id)
        started = delivery.cohort_id in holding and delivery.starts_on <= today
        if key in results or started:
            taken[key] = {"module": delivery.module, "cohort_name": cohort_name,
                          "starts_on": delivery.starts_on, "ends_on": delivery.ends_on}  # fmt: skip
    if missing := [key for key in results if key not in taken]:
        # A result for a module its cohort no longer runs: the cohort's dates stand in.
        modules = {m.id: m for m in db.session.scalars(
            sa.select(Module).where(Module.id.in_({module_id for _, module_id in missing}))
        )}  # fmt: skip
        cohorts = {c.id: c for c in db.session.scalars(
            sa.select(Cohort).where(Cohort.id.in_({cohort_id for cohort_id, _ in missing}))
        )}  # fmt: skip
        for cohort_id, module_id in missing:
            cohort = cohorts[cohort_id]
            taken[(cohort_id, module_id)] = {"module": modules[module_id],
                                             "cohort_name": cohort.name,
                                             "starts_on": cohort.starts_on,
                                             "ends_on": cohort.ends_on}  # fmt: skip
    credentials: dict[tuple[int | None, int | None], Credential] = {}
    for credential in db.session.scalars(
        sa.select(Credential)
        .where(
            Credential.user_id == user_id,
            Credential.kind == "module",
            Credential.revoked_at.is_(None),
        )
        .order_by(Credential.issued_at, Credential.id)
    ):
        # The latest wins; one issued in another cohort still proves the module was passed.
        credentials[(credential.cohort_id, credential.module_id)] = credential
        credentials[(None, credential.module_id)] = credential
    lines = [
        AcademyLine(
            module_id=module_id,
            module_code=found["module"].code,
            module_title=found["module"].title,
            cohort_id=cohort_id,
            cohort_name=found["cohort_name"],
            starts_on=found["starts_on"],
            ends_on=found["ends_on"],
            credits=found["module"].credits,
            outcome=_outcome(results.get((cohort_id, module_id), [])),
            credential=credentials.get((cohort_id, module_id))
            or credentials.get((None, module_id)),
        )
        for (cohort_id, module_id), found in taken.items()
    ]
    lines.sort(key=lambda line: (line.starts_on, line.module_code, line.cohort_id), reverse=True)
    return lines


def build_record(owner: User, period: CpdYear | None = None, *, today: date | None = None):
    """`owner`'s CPD record, for the CPD year `period` (None: all years)."""
    today = today or uk_today()
    current = CpdYear.of(today)
    entries = list(
        db.session.scalars(
            sa.select(CpdEntry)
            .where(CpdEntry.user_id == owner.id)
            .order_by(CpdEntry.started_on.desc(), CpdEntry.id.desc())
        )
    )
    lines = academy_study(owner.id, today)

    def within(year: CpdYear | None, day: date) -> bool:
        return year is None or day in year

    chosen_entries = [e for e in entries if within(period, e.started_on)]
    chosen_lines = [line for line in lines if within(period, line.starts_on)]
    years = {current} | {CpdYear.of(e.started_on) for e in entries}
    years |= {CpdYear.of(line.starts_on) for line in lines}
    return CpdRecord(
        owner=owner,
        period=period,
        current_year=current,
        entries=chosen_entries,
        academy=chosen_lines,
        in_period=Hours.of(chosen_entries, chosen_lines),
        this_year=Hours.of(
            [e for e in entries if e.started_on in current],
            [line for line in lines if line.starts_on in current],
        ),
        all_time=Hours.of(entries, lines),
        years=sorted(years, reverse=True),
    )


# --- one table of both kinds, for the export and the printable record --------------------------


@dataclass(frozen=True)
class RecordLine:
    source: str
    title: str
    activity: str
    provider: str
    started_on: date
    ended_on: date | None
    hours: Decimal
    outcome: str
    credential: Credential | None
    reflection: str


def record_lines(record: CpdRecord, academy_name: str) -> list[RecordLine]:
    """Every activity in the record's period, oldest first, as an appraiser reads a log."""
    lines = [
        RecordLine(ACADEMY, line.title, CPD_ACTIVITY_TYPES["course"], academy_name,
                   line.starts_on, line.ends_on, line.hours, line.outcome_label,
                   line.credential, "")
        for line in record.academy
    ] + [
        RecordLine(SELF_LOGGED, entry.title, entry.activity_label, entry.provider,
                   entry.started_on, entry.ended_on, entry.hours, "", None, entry.reflection)
        for entry in record.entries
    ]  # fmt: skip
    lines.sort(key=lambda line: (line.started_on, line.source, line.title))
    return lines


CSV_HEADER = ["Source", "Title", "Activity type", "Provider", "Start date", "End date", "Hours",
              "Outcome", "Credential", "Reflection"]  # fmt: skip


def hours_text(value: Decimal) -> str:
    """`12`, `1.5`: hours without a trailing `.0`."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def csv_lines(lines: list[RecordLine], credential_url) -> Iterator[str]:
    """The record as CSV, a line at a time, safe to open in a spreadsheet program."""
    return spreadsheets.csv_lines(
        CSV_HEADER,
        (
            [
                row.source,
                row.title,
                row.activity,
                row.provider,
                row.started_on,
                row.ended_on,
                hours_text(row.hours),
                row.outcome,
                credential_url(row.credential) if row.credential else None,
                row.reflection,
            ]
            for row in lines
        ),
    )
