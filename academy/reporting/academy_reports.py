"""The academy's own reports, for admins, and each tutor's caseload.

Four reports answer the questions an academy is asked about itself: how many learners complete
and pass (by cohort and by module), whether feedback comes back within the cohort's working-day
target, who holds credentials by the region, sector and nation of their employer, and how often
work is late or extended. Each is a list of `Table`s whose cells read the same on the page, in
the CSV export and (as raw numbers) in the API, so the three cannot disagree.

Every report and the caseload reads a fixed number of queries whatever the academy's size:
grouped counts where SQL can count, and one row per piece of work where working days have to be
counted in Python (bank holidays differ by nation, so no database can do it).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload, lazyload

from academy.assessment.models import Assignment, Extension, Submission
from academy.auth.models import RoleAssignment, User
from academy.catalogue.models import Module, Programme
from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
from academy.core import calendar, clock
from academy.core.errors import DomainError
from academy.credentials.models import KINDS, Credential, status_clause
from academy.extensions import db
from academy.marking.models import Mark, ModuleResult
from academy.organisations.models import NATIONS, REGIONS, SECTORS, Organisation

#: Shown where a rate or median has nothing to be worked out from.
NO_VALUE = "–"

# --- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A share, kept as its two counts: the page and CSV print a percentage, the API a fraction."""

    count: int
    out_of: int

    @property
    def ratio(self) -> float | None:
        return self.count / self.out_of if self.out_of else None

    def __str__(self) -> str:
        if not self.out_of:
            return NO_VALUE
        per_cent = Decimal(self.count * 100) / Decimal(self.out_of)
        return f"{per_cent.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: text, count, rate or days: how the value prints, and whether it is right-aligned.
    kind: str = "count"

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


def cell_text(value) -> str:
    """A cell as the page and the CSV show it."""
    if value is None:
        return NO_VALUE
    if isinstance(value, float):
        # Medians: whole days, or a half day between two middle values.
        return f"{value:g}"
    return str(value)


def cell_value(value):
    """A cell as the API returns it: counts and days as numbers, rates as a fraction of 1."""
    if isinstance(value, Rate):
        return None if value.ratio is None else round(value.ratio, 4)
    return value


@dataclass
class Table:
    key: str
    caption: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return [column.label for column in self.columns]

    def text_rows(self) -> list[list[str]]:
        return [[cell_text(value) for value in row] for row in self.rows]

    def records(self) -> list[dict]:
        return [
            {column.key: cell_value(value) for column, value in zip(self.columns, row, strict=True)}
            for row in self.rows
        ]


@dataclass(frozen=True)
class ReportFilters:
    programme_id: int | None = None
    cohort_id: int | None = None
    #: Inclusive UK calendar dates; what they bound depends on the report (see `date_meaning`).
    date_from: date | None = None
    date_to: date | None = None
    #: Credentials report only: module, award or external.
    kind: str | None = None


#: Dates a filter may name: far wider than any cohort, and a day can always be added to them.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


def check_filters(filters: ReportFilters) -> None:
    """Refuse filters no report can use (impossible date ranges, unknown kinds), naming the
    field to fix."""
    for name, day in (("date_from", filters.date_from), ("date_to", filters.date_to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise DomainError(
                f"Enter a date from {EARLIEST.year} to {LATEST.year}, like 2027-01-31", field=name
            )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise DomainError(
            "The end date must be the same as or after the start date", field="date_to"
        )
    if filters.kind is not None and filters.kind not in KINDS:
        raise DomainError(f"Kind must be one of: {', '.join(KINDS)}", field="kind")


@dataclass
class AcademyReport:
    key: str
    title: str
    generated_at: datetime
    filters: ReportFilters
    tables: list[Table]

    def table(self, key: str) -> Table | None:
        return next((table for table in self.tables if table.key == key), None)


@dataclass(frozen=True)
class ReportSpec:
    key: str
    title: str
    #: What the report shows and how its rates are worked out, in a sentence or two.
    description: str
    build: Callable[[ReportFilters, datetime], list[Table]]
    #: Which filters make sense: programme and cohort, a date range, the credential kind.
    by_cohort: bool
    #: What the date range bounds, as a label's ending ("Cohorts starting"), or None.
    date_meaning: str | None
    by_kind: bool = False


# --- shared reading ---------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    """The first instant of a UK calendar day."""
    return datetime.combine(day, time.min, tzinfo=calendar.UK_TIME)


def _in_days(column, filters: ReportFilters) -> list:
    """Clauses keeping instants in `column` on the filter's UK days, both ends included."""
    clauses = []
    if filters.date_from is not None:
        clauses.append(column >= _day_start(filters.date_from))
    if filters.date_to is not None:
        clauses.append(column < _day_start(filters.date_to + timedelta(days=1)))
    return clauses


def _cohorts(filters: ReportFilters, *, by_start: bool = False) -> list[Cohort]:
    """The cohorts a report covers, with their programme and the modules they run (two
    queries: the cohorts, then every delivery with its module)."""
    stmt = (
        sa.select(Cohort)
        .join(Cohort.programme)
        .options(contains_eager(Cohort.programme).lazyload(Programme.modules))
    )
    if filters.programme_id is not None:
        stmt = stmt.where(Cohort.programme_id == filters.programme_id)
    if filters.cohort_id is not None:
        stmt = stmt.where(Cohort.id == filters.cohort_id)
    if by_start and filters.date_from is not None:
        stmt = stmt.where(Cohort.starts_on >= filters.date_from)
    if by_start and filters.date_to is not None:
        stmt = stmt.where(Cohort.starts_on <= filters.date_to)
    stmt = stmt.order_by(Programme.title, Cohort.starts_on, Cohort.name, Cohort.id)
    return list(db.session.scalars(stmt).unique())


def _modules(cohorts: list[Cohort]) -> list[Module]:
    """The modules the cohorts run, by code (no query: the deliveries are loaded)."""
    found = {d.module.id: d.module for cohort in cohorts for d in cohort.deliveries}
    return sorted(found.values(), key=lambda module: (module.code, module.id))


def _cohort_cells(cohort: Cohort) -> list[str]:
    return [cohort.programme.title, cohort.name]


def _module_cells(module: Module) -> list[str]:
    return [module.code, module.title]


COHORT_COLUMNS = [Column("programme", "Programme", "text"), Column("cohort", "Cohort", "text")]
MODULE_COLUMNS = [Column("module", "Module", "text"), Column("title", "Title", "text")]


class _FeedbackCalendar:
    """`marking.services.feedback_due` for many submissions at once: the same working-day
    arithmetic, remembered per (day, target, nation) since most work comes in on a few days."""

    def __init__(self):
        self._due: dict[tuple[date, int, str], date] = {}

    def due(self, submitted_at: datetime, cohort: Cohort) -> date:
        key = (calendar.uk_date(submitted_at), cohort.feedback_working_days, cohort.nation)
        if key not in self._due:
            self._due[key] = calendar.add_working_days(*key)
        return self._due[key]


# --- a. completion and pass rates -------------------------------------------------------------


def _enrolment_counts(cohort_ids: set[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if not cohort_ids:
        return counts
    rows = db.session.execute(
        sa.select(Enrolment.cohort_id, Enrolment.status, sa.func.count(Enrolment.id))
        .where(Enrolment.cohort_id.in_(cohort_ids))
        .group_by(Enrolment.cohort_id, Enrolment.status)
    )
    for cohort_id, status, count in rows:
        counts[cohort_id][status] = count
    return counts


@dataclass
class _Outcomes:
    """Module outcomes of learners, one per learner and module in a cohort (their best)."""

    complete: int = 0
    passed_first: int = 0
    passed: int = 0

    def add(self, other: _Outcomes) -> None:
        self.complete += other.complete
        self.passed_first += other.passed_first
        self.passed += other.passed

    def cells(self) -> list:
        return [
            self.complete,
            self.passed_first,
            Rate(self.passed_first, self.complete),
            self.passed,
            Rate(self.passed, self.complete),
        ]


def _outcomes(cohort_ids: set[int]) -> dict[tuple[int, int], _Outcomes]:
    """(cohort, module) → learners with a complete result, who passed at the first attempt,
    and who passed at all (first attempt or resit): one grouped query."""
    if not cohort_ids:
        return {}

    def flag(condition):
        return sa.func.max(sa.case((condition, 1), else_=0))

    per_learner = (
        sa.select(
            ModuleResult.cohort_id,
            ModuleResult.module_id,
            flag(ModuleResult.status == "complete").label("complete"),
            flag(sa.and_(ModuleResult.attempt == 1, ModuleResult.passed.is_(True))).label(
                "passed_first"
            ),
            flag(ModuleResult.passed.is_(True)).label("passed"),
        )
        .where(ModuleResult.cohort_id.in_(cohort_ids))
        .group_by(ModuleResult.cohort_id, ModuleResult.module_id, ModuleResult.user_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            per_learner.c.cohort_id,
            per_learner.c.module_id,
            sa.func.sum(per_learner.c.complete),
            sa.func.sum(per_learner.c.passed_first),
            sa.func.sum(per_learner.c.passed),
        ).group_by(per_learner.c.cohort_id, per_learner.c.module_id)
    )
    return {
        (cohort_id, module_id): _Outcomes(int(complete), int(first), int(passed))
        for cohort_id, module_id, complete, first, passed in rows
    }


OUTCOME_COLUMNS = [
    Column("results_complete", "Module results complete"),
    Column("passed_first_attempt", "Passed at first attempt"),
    Column("first_attempt_pass_rate", "First-attempt pass rate", "rate"),
    Column("passed_after_resit", "Passed, resits included"),
    Column("pass_rate_after_resit", "Pass rate after resit", "rate"),
]


def completion_tables(filters: ReportFilters, now: datetime) -> list[Table]:
    cohorts = _cohorts(filters, by_start=True)
    cohort_ids = {cohort.id for cohort in cohorts}
    enrolments = _enrolment_counts(cohort_ids)
    outcomes = _outcomes(cohort_ids)

    by_cohort = Table(
        "cohorts",
        "By cohort",
        [
            *COHORT_COLUMNS,
            Column("enrolments", "Enrolments"),
            Column("completed", "Completed"),
            Column("withdrawn", "Withdrawn"),
            Column("completion_rate", "Completion rate", "rate"),
            *OUTCOME_COLUMNS,
        ],
    )
    by_module: dict[int, _Outcomes] = defaultdict(_Outcomes)
    cohorts_running: dict[int, int] = defaultdict(int)
    for cohort in cohorts:
        statuses = enrolments.get(cohort.id, {})
        total = sum(statuses.values())
        completed = statuses.get("completed", 0)
        in_cohort = _Outcomes()
        for delivery in cohort.deliveries:
            found = outcomes.get((cohort.id, delivery.module_id), _Outcomes())
            in_cohort.add(found)
            by_module[delivery.module_id].add(found)
            cohorts_running[delivery.module_id] += 1
        by_cohort.rows.append(
            [
                *_cohort_cells(cohort),
                total,
                completed,
                statuses.get("withdrawn", 0),
                Rate(completed, total),
                *in_cohort.cells(),
            ]
        )
    modules = Table(
        "modules",
        "By module",
        [*MODULE_COLUMNS, Column("cohorts", "Cohorts running it"), *OUTCOME_COLUMNS],
    )
    for module in _modules(cohorts):
        modules.rows.append(
            [*_module_cells(module), cohorts_running[module.id], *by_module[module.id].cells()]
        )
    return [by_cohort, modules]


# --- b. feedback turnaround -------------------------------------------------------------------


@dataclass
class _Turnaround:
    released: int = 0
    on_time: int = 0
    #: Working days from submission to release, one per released mark.
    days: list[int] = field(default_factory=list)
    #: Work whose feedback date has passed with no mark released.
    overdue: int = 0

    def cells(self) -> list:
        return [
            self.released,
            self.on_time,
            self.released - self.on_time,
            Rate(self.on_time, self.released),
            float(statistics.median(self.days)) if self.days else None,
            self.overdue,
        ]


TURNAROUND_COLUMNS = [
    Column("released", "Marks released"),
    Column("within_target", "Released within target"),
    Column("late", "Released late"),
    Column("compliance", "Compliance", "rate"),
    Column("median_working_days", "Median working days", "days"),
    Column("overdue", "Overdue, not yet released"),
]


def turnaround_tables(filters: ReportFilters, now: datetime) -> list[Table]:
    cohorts = _cohorts(filters)
    by_id = {cohort.id: cohort for cohort in cohorts}
    by_cohort: dict[int, _Turnaround] = defaultdict(_Turnaround)
    by_module: dict[int, _Turnaround] = defaultdict(_Turnaround)
    today = calendar.uk_date(now)
    if by_id:
        rows = db.session.execute(
            sa.select(
                ModuleDelivery.cohort_id,
                ModuleDelivery.module_id,
                Submission.submitted_at,
                Mark.status,
                Mark.released_at,
            )
            .select_from(Submission)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
            .outerjoin(Mark, Mark.submission_id == Submission.id)
            .where(
                Submission.status == "submitted",
                Submission.submitted_at.is_not(None),
                ModuleDelivery.cohort_id.in_(by_id),
                *_in_days(Submission.submitted_at, filters),
            )
        )
        feedback = _FeedbackCalendar()
        for cohort_id, module_id, submitted_at, status, released_at in rows:
            cohort = by_id[cohort_id]
            due = feedback.due(submitted_at, cohort)
            if status == "released":
                if released_at is None:  # released before release times were kept: untimed
                    continue
                released_on = calendar.uk_date(released_at)
                taken = calendar.working_days_between(
                    calendar.uk_date(submitted_at), released_on, cohort.nation
                )
            for tally in (by_cohort[cohort_id], by_module[module_id]):
                if status == "released":
                    tally.released += 1
                    tally.on_time += released_on <= due
                    tally.days.append(taken)
                elif today > due:
                    tally.overdue += 1
    cohort_table = Table(
        "cohorts",
        "By cohort",
        [
            *COHORT_COLUMNS,
            Column("target_working_days", "Target (working days)"),
            *TURNAROUND_COLUMNS,
        ],
    )
    for cohort in cohorts:
        cohort_table.rows.append(
            [*_cohort_cells(cohort), cohort.feedback_working_days, *by_cohort[cohort.id].cells()]
        )
    module_table = Table("modules", "By module", [*MODULE_COLUMNS, *TURNAROUND_COLUMNS])
    for module in _modules(cohorts):
        module_table.rows.append([*_module_cells(module), *by_module[module.id].cells()])
    return [cohort_table, module_table]


# --- c. credentials by region, sector and nation ----------------------------------------------

CREDENTIAL_COLUMNS = [
    Column("held", "Held (valid)"),
    Column("issued_this_year", "Issued this year"),
    Column("revoked", "Revoked"),
    Column("expired", "Expired"),
    Column("suspended", "Suspended"),
]
NO_EMPLOYER = "No employer recorded"


def _group_rows(
    counts: dict[str | None, list[int]], labels: dict[str, str], extra: Iterable[tuple]
) -> list[list]:
    """A row for every known group (zero or not), then any other groups that have counts."""
    rows = [[label, *counts.get(key, [0] * 5)] for key, label in labels.items()]
    for key, label in extra:
        if key in counts:
            rows.append([label, *counts[key]])
    return rows


def credential_tables(filters: ReportFilters, now: datetime) -> list[Table]:
    def count(condition):
        return sa.func.sum(sa.case((condition, 1), else_=0))

    year_starts = _day_start(date(calendar.uk_date(now).year, 1, 1))
    issued_this_year = sa.or_(
        sa.and_(
            Credential.kind != "external",
            Credential.issued_at >= year_starts,
            Credential.issued_at <= now,
        ),
        sa.and_(
            Credential.kind == "external",
            Credential.issued_on >= year_starts.date(),
            Credential.issued_on <= calendar.uk_date(now),
        ),
    )
    stmt = (
        sa.select(
            Organisation.region,
            Organisation.sector,
            Organisation.nation,
            count(status_clause("valid", now)),
            count(issued_this_year),
            count(status_clause("revoked", now)),
            count(status_clause("expired", now)),
            count(status_clause("suspended", now)),
        )
        .select_from(Credential)
        .join(User, User.id == Credential.user_id)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .group_by(Organisation.region, Organisation.sector, Organisation.nation)
    )
    if filters.kind in KINDS:
        stmt = stmt.where(Credential.kind == filters.kind)
    by_region: dict[str | None, list[int]] = {}
    by_sector: dict[str | None, list[int]] = {}
    by_nation: dict[str | None, list[int]] = {}

    def add(groups, key, counts):
        held = groups.setdefault(key, [0] * len(counts))
        for index, value in enumerate(counts):
            held[index] += int(value or 0)

    for region, sector, nation, *counts in db.session.execute(stmt):
        if nation is None:
            region_key = None
        elif region:
            region_key = region
        elif nation == "england":
            region_key = "england_unrecorded"
        else:
            region_key = nation
        add(by_region, region_key, counts)
        add(by_sector, sector, counts)
        add(by_nation, nation, counts)

    other_nations = {key: label for key, label in NATIONS.items() if key != "england"}
    region_table = Table(
        "regions",
        "By NHS England region (nation outside England)",
        [Column("region", "Region or nation", "text"), *CREDENTIAL_COLUMNS],
        _group_rows(
            by_region,
            {**REGIONS, **other_nations},
            [("england_unrecorded", "England, region not recorded"), (None, NO_EMPLOYER)],
        ),
    )
    sector_table = Table(
        "sectors",
        "By sector",
        [Column("sector", "Sector", "text"), *CREDENTIAL_COLUMNS],
        _group_rows(by_sector, SECTORS, [(None, NO_EMPLOYER)]),
    )
    nation_table = Table(
        "nations",
        "By nation",
        [Column("nation", "Nation", "text"), *CREDENTIAL_COLUMNS],
        _group_rows(by_nation, NATIONS, [(None, NO_EMPLOYER)]),
    )
    return [region_table, sector_table, nation_table]


# --- d. extensions and late work --------------------------------------------------------------


@dataclass
class _Lateness:
    submissions: int = 0
    late: int = 0
    requests: int = 0
    approved: int = 0
    refused: int = 0

    def add(self, **counts) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + int(value or 0))

    def cells(self) -> list:
        return [
            self.submissions,
            self.late,
            Rate(self.late, self.submissions),
            self.requests,
            self.approved,
            self.refused,
        ]


LATENESS_COLUMNS = [
    Column("submissions", "Submissions"),
    Column("late", "Late submissions"),
    Column("late_rate", "Late rate", "rate"),
    Column("extension_requests", "Extension requests"),
    Column("approved", "Approved"),
    Column("refused", "Refused"),
]


def lateness_tables(filters: ReportFilters, now: datetime) -> list[Table]:
    cohorts = _cohorts(filters)
    cohort_ids = {cohort.id for cohort in cohorts}
    by_cohort: dict[int, _Lateness] = defaultdict(_Lateness)
    by_module: dict[int, _Lateness] = defaultdict(_Lateness)
    if cohort_ids:
        in_scope = [
            ModuleDelivery.cohort_id.in_(cohort_ids),
            *_in_days(Assignment.due_at, filters),
        ]
        submissions = db.session.execute(
            sa.select(
                ModuleDelivery.cohort_id,
                ModuleDelivery.module_id,
                sa.func.count(Submission.id),
                sa.func.sum(sa.case((Submission.late_working_days > 0, 1), else_=0)),
            )
            .select_from(Submission)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
            .where(Submission.status == "submitted", *in_scope)
            .group_by(ModuleDelivery.cohort_id, ModuleDelivery.module_id)
        )
        for cohort_id, module_id, handed_in, late in submissions:
            for tally in (by_cohort[cohort_id], by_module[module_id]):
                tally.add(submissions=handed_in, late=late)
        extensions = db.session.execute(
            sa.select(
                ModuleDelivery.cohort_id,
                ModuleDelivery.module_id,
                sa.func.count(Extension.id),
                sa.func.sum(sa.case((Extension.status == "approved", 1), else_=0)),
                sa.func.sum(sa.case((Extension.status == "declined", 1), else_=0)),
            )
            .select_from(Extension)
            .join(Assignment, Assignment.id == Extension.assignment_id)
            .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
            .where(*in_scope)
            .group_by(ModuleDelivery.cohort_id, ModuleDelivery.module_id)
        )
        for cohort_id, module_id, requests, approved, refused in extensions:
            for tally in (by_cohort[cohort_id], by_module[module_id]):
                tally.add(requests=requests, approved=approved, refused=refused)
    cohort_table = Table("cohorts", "By cohort", [*COHORT_COLUMNS, *LATENESS_COLUMNS])
    for cohort in cohorts:
        cohort_table.rows.append([*_cohort_cells(cohort), *by_cohort[cohort.id].cells()])
    module_table = Table("modules", "By module", [*MODULE_COLUMNS, *LATENESS_COLUMNS])
    for module in _modules(cohorts):
        module_table.rows.append([*_module_cells(module), *by_module[module.id].cells()])
    return [cohort_table, module_table]


# --- the catalogue of reports -----------------------------------------------------------------

REPORTS: dict[str, ReportSpec] = {
    spec.key: spec
    for spec in (
        ReportSpec(
            "completion",
            "Completion and pass rates",
            "Enrolments completed and withdrawn in each cohort, and module results: a learner "
            "counts once per module, passed at the first attempt or after a resit. Completion "
            "rate is completed enrolments out of all enrolments; pass rates are out of the "
            "learners with a complete module result.",
            completion_tables,
            by_cohort=True,
            date_meaning="Cohorts starting",
        ),
        ReportSpec(
            "feedback-turnaround",
            "Feedback turnaround",
            "Marks released within the cohort’s feedback target: its working days after "
            "submission, counted on the cohort nation’s calendar. Compliance is marks released "
            "within the target out of all marks released; overdue work has passed its feedback "
            "date with no mark released yet.",
            turnaround_tables,
            by_cohort=True,
            date_meaning="Work submitted",
        ),
        ReportSpec(
            "credentials",
            "Credentials by region, sector and nation",
            "Credentials grouped by the region, sector and nation of the holder’s current "
            "employer. Held counts credentials valid today; issued this year counts those "
            "issued (or, for credentials from elsewhere, awarded) since 1 January.",
            credential_tables,
            by_cohort=False,
            date_meaning=None,
            by_kind=True,
        ),
        ReportSpec(
            "extensions",
            "Extensions and late work",
            "Work handed in and how much of it was late (one working day or more after the "
            "learner’s own deadline), and extension requests with their decisions. Requests "
            "include those still waiting and those withdrawn.",
            lateness_tables,
            by_cohort=True,
            date_meaning="Assignments due",
        ),
    )
}


def build_report(key: str, filters: ReportFilters, *, now: datetime | None = None) -> AcademyReport:
    """The report called `key` for `filters`; raises DomainError for filters it cannot use."""
    check_filters(filters)
    spec = REPORTS[key]
    now = now or clock.now()
    return AcademyReport(spec.key, spec.title, now, filters, spec.build(filters, now))


# --- tutors' caseloads ------------------------------------------------------------------------


@dataclass
class CohortLoad:
    cohort: Cohort
    #: Active enrolments.
    learners: int = 0
    #: Handed-in work without a released mark (unmarked, or marked and not yet released).
    outstanding: int = 0
    #: Outstanding work whose feedback date has passed.
    overdue: int = 0


@dataclass
class AssignmentLoad:
    assignment_id: int
    title: str
    module_code: str
    cohort: Cohort
    outstanding: int = 0
    overdue: int = 0
    #: The earliest feedback date of its outstanding work.
    next_due: date | None = None


@dataclass
class Caseload:
    tutor: User
    cohorts: list[CohortLoad]
    #: Assignments with outstanding work, the earliest feedback date first.
    assignments: list[AssignmentLoad]

    @property
    def learners(self) -> int:
        return sum(load.learners for load in self.cohorts)

    @property
    def outstanding(self) -> int:
        return sum(load.outstanding for load in self.cohorts)

    @property
    def overdue(self) -> int:
        return sum(load.overdue for load in self.cohorts)


def current_tutor_cohorts(today: date) -> list[tuple[User, Cohort]]:
    """Every current tutor role with its cohort, in one query."""
    rows = db.session.execute(
        sa.select(User, Cohort)
        .select_from(RoleAssignment)
        .join(User, User.id == RoleAssignment.user_id)
        .join(Cohort, Cohort.id == RoleAssignment.cohort_id)
        .options(
            lazyload(User.roles),
            lazyload(Cohort.deliveries),
            joinedload(Cohort.programme).lazyload(Programme.modules),
        )
        .where(
            RoleAssignment.role == "tutor",
            RoleAssignment.ended_at.is_(None),
            RoleAssignment.valid_from <= today,
            sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            User.active.is_(True),
        )
        .order_by(User.name, User.id, Cohort.starts_on, Cohort.name, Cohort.id)
    ).all()
    seen, pairs = set(), []
    for user, cohort in rows:
        if (user.id, cohort.id) not in seen:  # two overlapping roles for one cohort count once
            seen.add((user.id, cohort.id))
            pairs.append((user, cohort))
    return pairs


def tutors(pairs: list[tuple[User, Cohort]]) -> list[User]:
    found = {}
    for user, _ in pairs:
        found.setdefault(user.id, user)
    return list(found.values())


def caseloads(pairs: list[tuple[User, Cohort]], *, now: datetime | None = None) -> list[Caseload]:
    """Each tutor's cohorts, learners, and marking outstanding and overdue, for the (tutor,
    cohort) pairs given: two queries whatever their number."""
    now = now or clock.now()
    today = calendar.uk_date(now)
    cohorts = {cohort.id: cohort for _, cohort in pairs}
    learners: dict[int, int] = {}
    work: list[tuple] = []
    if cohorts:
        learners = dict(
            db.session.execute(
                sa.select(Enrolment.cohort_id, sa.func.count(Enrolment.id))
                .where(Enrolment.cohort_id.in_(cohorts), Enrolment.status == "active")
                .group_by(Enrolment.cohort_id)
            ).all()
        )
        work = db.session.execute(
            sa.select(
                ModuleDelivery.cohort_id,
                Assignment.id,
                Assignment.title,
                Module.code,
                Submission.submitted_at,
            )
            .select_from(Submission)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(ModuleDelivery, ModuleDelivery.id == Assignment.delivery_id)
            .join(Module, Module.id == ModuleDelivery.module_id)
            .outerjoin(Mark, Mark.submission_id == Submission.id)
            .where(
                Submission.status == "submitted",
                Submission.submitted_at.is_not(None),
                ModuleDelivery.cohort_id.in_(cohorts),
                sa.or_(Mark.id.is_(None), Mark.status != "released"),
            )
            .order_by(Assignment.due_at, Assignment.id)
        ).all()

    feedback = _FeedbackCalendar()
    by_cohort: dict[int, list[tuple[int, str, str, date]]] = defaultdict(list)
    for cohort_id, assignment_id, title, code, submitted_at in work:
        due = feedback.due(submitted_at, cohorts[cohort_id])
        by_cohort[cohort_id].append((assignment_id, title, code, due))

    loads: dict[int, Caseload] = {}
    for tutor, cohort in pairs:
        caseload = loads.setdefault(tutor.id, Caseload(tutor, [], []))
        cohort_load = CohortLoad(cohort, learners=learners.get(cohort.id, 0))
        per_assignment: dict[int, AssignmentLoad] = {}
        for assignment_id, title, code, due in by_cohort.get(cohort.id, []):
            item = per_assignment.setdefault(
                assignment_id, AssignmentLoad(assignment_id, title, code, cohort)
            )
            late = today > due
            cohort_load.outstanding += 1
            cohort_load.overdue += late
            item.outstanding += 1
            item.overdue += late
            item.next_due = due if item.next_due is None else min(item.next_due, due)
        caseload.cohorts.append(cohort_load)
        caseload.assignments.extend(per_assignment.values())
    for caseload in loads.values():
        caseload.assignments.sort(key=lambda item: (item.next_due, item.assignment_id))
    return list(loads.values())
