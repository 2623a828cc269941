"""A national academy's worth of data, written fast, for benchmarks and for trying pages at size.

`generate(Scale(...))` fills the database with organisations (trust sizes skewed: a few with
thousands of staff, most with a few dozen), learners, tutors, sponsors, cohorts of varied size,
assignments, submissions (mostly on time, some late, some missing), marks around 60 (released
for older work, in the marking queue for recent work), module results and signed credentials for
a sample of the passes.

Rows are written in bulk: PostgreSQL gets `COPY ... FROM STDIN` and other databases Core
`executemany` in batches, with ids handed out up front so children point at their parents
without a round trip per row. Per-row services are not used, so nothing here writes audit rows
or emails per row: one `scale.generate` audit event (chained like every other) says who ran it.

Every key is derived from the seed (`learner-<seed>-<n>@scale.test`, ODS codes `S<seed>O<n>`),
and everything is written in the caller's one transaction: a second run with the same seed finds
its organisation and writes nothing, and a failed run leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import time
import uuid as uuid_module
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app

from academy.assessment.models import Assignment, Submission, SubmissionReceipt
from academy.audit import services as audit
from academy.auth import mfa
from academy.auth.models import RoleAssignment, User
from academy.auth.passwords import hash_password
from academy.catalogue.models import Module, Programme, ProgrammeModule
from academy.cohorts.models import Cohort, Enrolment, EnrolmentStatusChange, ModuleDelivery
from academy.core import clock
from academy.credentials import document as documents
from academy.credentials import keys, proof
from academy.credentials.models import STATUS_LIST_SIZE, Credential, StatusList
from academy.credentials.services import _add_months, status_entries
from academy.extensions import db
from academy.marking import arithmetic
from academy.marking.models import Mark, ModuleResult
from academy.organisations.models import REGIONS, Organisation

#: Every generated account signs in with this password (staff also need a TOTP code).
PASSWORD = "scale-data-password-2026"  # noqa: S105 (made-up accounts on a test database)
EMAIL_DOMAIN = "scale.test"
BATCH = 5_000
#: The gradebook benchmark's cohort: learners x assignments, as the issue asks.
GRADEBOOK_LEARNERS = 2_000
GRADEBOOK_ASSIGNMENTS = 50
#: The two trusts the dashboard and export benchmarks read.
LARGE_TRUST_STAFF = 5_000
MEDIUM_TRUST_STAFF = 500

FIRST_NAMES = (  # noqa: SIM905 - easier to read and extend as words
    "Aisha Amelia Arjun Ben Bethan Chloe Daniel Deepa Eilidh Emeka Fatima George Grace "
    "Hannah Harry Imran Isla James Jia Kofi Laura Liam Maria Mohammed Niamh Oliver Olu Priya "
    "Rhys Rosa Ruth Sam Sarah Sean Sofia Tom Una Wei Yusuf Zara"
).split()
LAST_NAMES = (  # noqa: SIM905 - easier to read and extend as words
    "Adeyemi Ahmed Bailey Brown Campbell Chen Clarke Davies Edwards Evans Green Hall Hughes "
    "Jones Kaur Khan Lewis Martin Morgan Murphy Nguyen Okafor O'Brien Patel Price Roberts "
    "Robinson Shah Singh Smith Taylor Thomas Turner Walker Ward Watson White Williams Wilson "
    "Wright"
).split()
MODULES = (
    ("Foundations of health informatics", "informatics", 36),
    ("Leading digital change", "change_management", None),
    ("Clinical safety of health IT", "clinical_safety", 36),
    ("Data and analytics for improvement", "data_analytics", None),
    ("Leadership in digital health", "leadership", None),
    ("Digital transformation strategy", "digital_transformation", None),
    ("Interoperability and standards", "informatics", None),
    ("Evaluating digital services", "data_analytics", None),
)


@dataclass
class Scale:
    organisations: int = 220
    learners: int = 20_000
    cohorts: int = 200
    submissions: int = 500_000
    #: Tutors; by default one for every two cohorts.
    tutors: int | None = None
    #: How many of the passes get a signed credential (signing is the slow part).
    credentials: int = 2_000
    seed: int = 1

    def __post_init__(self):
        if self.tutors is None:
            self.tutors = max(2, self.cohorts // 2)
        if min(self.organisations, self.learners, self.cohorts, self.tutors) < 1:
            raise ValueError("organisations, learners, cohorts and tutors must be at least 1")
        if self.submissions < 0 or self.credentials < 0:
            raise ValueError("submissions and credentials cannot be negative")


@dataclass
class Summary:
    seed: int
    created: bool
    counts: Counter = field(default_factory=Counter)
    timings: list[tuple[str, float]] = field(default_factory=list)
    #: Who and what the benchmarks use: emails, ids.
    handles: dict = field(default_factory=dict)


def email(kind: str, seed: int, n: int | None = None) -> str:
    return f"{kind}-{seed}{'' if n is None else f'-{n}'}@{EMAIL_DOMAIN}"


def ods_code(seed: int, n: int) -> str:
    return f"S{seed}O{n}"


def totp_secret(seed: int) -> str:
    """The authenticator secret every generated admin and tutor is enrolled with, so a
    benchmark can sign them in (pyotp.TOTP(secret).now())."""
    return base64.b32encode(hashlib.sha256(f"academy-scale-{seed}".encode()).digest()[:20]).decode()


# --- writing rows in bulk ----------------------------------------------------------------------


class Writer:
    """Bulk rows into tables: COPY on PostgreSQL, batched executemany elsewhere. Fills in every
    column's Python default (COPY knows none of them), so NOT NULL columns are never left out."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.counts: Counter = Counter()
        self._next_id: dict[str, int] = {}

    def ids(self, table: sa.Table, count: int) -> list[int]:
        if count == 0:
            return []
        if self.postgres:
            # Taken from the table's own sequence, so the app's later inserts never collide.
            return list(
                self.connection.scalars(
                    sa.text(
                        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                        "FROM generate_series(1, :count)"
                    ),
                    {"table": f'"{table.name}"', "count": count},
                )
            )
        start = self._next_id.get(table.name)
        if start is None:
            start = (self.connection.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
        self._next_id[table.name] = start + count
        return list(range(start, start + count))

    @staticmethod
    def _defaults(table: sa.Table, present: Iterable[str]) -> dict[str, object]:
        values = {}
        for column in table.columns:
            if column.name in present or column.default is None:
                continue
            default = column.default
            values[column.name] = default.arg if default.is_scalar else default.arg(None)
        return values

    def insert(self, table: sa.Table, rows: list[dict]) -> None:
        if not rows:
            return
        defaults = self._defaults(table, rows[0].keys())
        names = list(rows[0].keys()) + list(defaults)
        self.counts[table.name] += len(rows)
        if self.postgres:
            self._copy(table, names, rows, defaults)
            return
        for start in range(0, len(rows), BATCH):
            self.connection.execute(
                table.insert(), [{**defaults, **row} for row in rows[start : start + BATCH]]
            )

    def _copy(self, table: sa.Table, names: list[str], rows: list[dict], defaults: dict) -> None:
        from psycopg.types.json import Json

        json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        wrap = [name in json_columns for name in names]
        driver = self.connection.connection.driver_connection
        columns = ", ".join(f'"{name}"' for name in names)
        with (
            driver.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
        ):
            for row in rows:
                values = [row[name] if name in row else defaults[name] for name in names]
                copy.write_row(
                    [
                        Json(v) if w and v is not None else v
                        for v, w in zip(values, wrap, strict=True)
                    ]
                )


# --- the plan ----------------------------------------------------------------------------------


def _staff_sizes(scale: Scale) -> list[int]:
    """Learners employed by each organisation: one 5,000-staff trust, one 500-staff trust, a few
    more big ones, then a long tail (Zipf-like), scaled down with the learner count."""
    total, count = scale.learners, scale.organisations
    fixed = [
        min(LARGE_TRUST_STAFF, max(1, total // 4)),
        min(MEDIUM_TRUST_STAFF, max(1, total // 40)),
        *(max(1, int(total * share)) for share in (0.04, 0.035, 0.03, 0.028)),
    ][:count]
    while sum(fixed) > total and len(fixed) > 1:
        fixed.pop()
    rest = count - len(fixed)
    remaining = total - sum(fixed)
    if rest == 0 or remaining < rest:
        fixed[0] += remaining
        return fixed + [0] * rest
    weights = [1 / (rank + 1) for rank in range(rest)]
    scale_by = (remaining - rest) / sum(weights)
    tail = [1 + int(w * scale_by) for w in weights]
    tail[0] += remaining - sum(tail)
    return fixed + tail


def _cohort_sizes(scale: Scale, rng: random.Random) -> list[int]:
    first = min(GRADEBOOK_LEARNERS, max(1, scale.learners // 10))
    if scale.cohorts == 1:
        return [scale.learners]
    remaining = scale.learners - first
    weights = [rng.lognormvariate(0, 0.8) for _ in range(scale.cohorts - 1)]
    sizes = [int(w / sum(weights) * remaining) for w in weights]
    for n in range(remaining - sum(sizes)):
        sizes[n % len(sizes)] += 1
    return [first, *sizes]


@dataclass
class PlannedCohort:
    index: int
    programme: Programme
    name: str
    starts_on: date
    ends_on: date
    modules: list[Module]
    learners: list[int] = field(default_factory=list)  # learner numbers
    #: (delivery index, opens, due, cutoff) per assignment.
    assignments: list[tuple[int, datetime, datetime, datetime]] = field(default_factory=list)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _windows(cohort: PlannedCohort) -> list[tuple[date, date]]:
    days = (cohort.ends_on - cohort.starts_on).days
    step = days // len(cohort.modules)
    return [
        (
            cohort.starts_on + timedelta(days=n * step),
            cohort.starts_on + timedelta(days=(n + 1) * step - 1),
        )
        for n in range(len(cohort.modules))
    ]


def _plan_assignments(cohort: PlannedCohort, count: int) -> None:
    windows = _windows(cohort)
    per_delivery = [
        count // len(windows) + (1 if n < count % len(windows) else 0) for n in range(len(windows))
    ]
    cohort.assignments = []
    for delivery, (start, end) in enumerate(windows):
        n_here = per_delivery[delivery]
        span = max(1, (end - start).days - 14)
        for k in range(n_here):
            due = _noon(start + timedelta(days=14 + span * (k + 1) // (n_here + 1)))
            cohort.assignments.append(
                (delivery, due - timedelta(days=21), due, due + timedelta(days=7))
            )


def _opportunities(cohorts: list[PlannedCohort], now: datetime) -> int:
    return sum(len(c.learners) * sum(1 for a in c.assignments if a[2] < now) for c in cohorts)


# --- generating --------------------------------------------------------------------------------


class Generator:
    def __init__(self, scale: Scale, echo: Callable[[str], None]):
        self.scale = scale
        self.seed = scale.seed
        self.rng = random.Random(scale.seed)
        self.echo = echo
        self.now = clock.now().replace(microsecond=0)
        self.today = self.now.date()
        self.summary = Summary(seed=scale.seed, created=True)
        self.writer = Writer(db.session.connection())
        self._submission_ids: list[int] = []
        self._started = time.perf_counter()

    def _phase(self, name: str) -> None:
        elapsed = time.perf_counter() - self._started
        self.summary.timings.append((name, elapsed))
        self.echo(f"  {name}: {elapsed:.1f}s")
        self._started = time.perf_counter()

    def run(self) -> Summary:
        self.catalogue()
        self.organisations()
        self.people()
        self._phase("organisations, catalogue, people")
        self.cohorts()
        self._phase("cohorts, deliveries, assignments, enrolments")
        self.work()
        self._phase("submissions, receipts, marks, results")
        self.credentials()
        self._phase(f"signed credentials ({self.writer.counts['credential']})")
        self.summary.counts.update(self.writer.counts)
        audit.record(
            "scale.generate",
            object_type="scale",
            object_id=self.seed,
            after={"seed": self.seed, "rows": dict(self.summary.counts)},
        )
        return self.summary

    # catalogue: a handful of rows, through the ORM like any other

    def catalogue(self) -> None:
        seed = self.seed
        self.modules = []
        for n, (title, topic, valid_months) in enumerate(MODULES):
            module = Module(
                code=f"S{seed}M{n + 1}",
                title=title,
                topic=topic,
                credits=15,
                level=7,
                learning_outcomes=[f"Explain {title.lower()}", f"Apply {title.lower()} at work"],
                summary=f"{title}: a module of the scale data.",
                credential_valid_months=valid_months,
            )
            db.session.add(module)
            self.modules.append(module)
        self.certificate = Programme(
            code=f"S{seed}PGCERT",
            title="PG Certificate in Digital Health Leadership (scale data)",
            award_title="Postgraduate Certificate in Digital Health Leadership",
            credits_required=60,
            award_type="Certificate",
        )
        self.diploma = Programme(
            code=f"S{seed}PGDIP",
            title="PG Diploma in Digital Health Leadership (scale data)",
            award_title="Postgraduate Diploma in Digital Health Leadership",
            credits_required=120,
            award_type="Diploma",
        )
        for programme, modules in (
            (self.certificate, self.modules[:4]),
            (self.diploma, self.modules),
        ):
            for position, module in enumerate(modules):
                programme.modules.append(
                    ProgrammeModule(module=module, is_core=position < 2, position=position)
                )
            db.session.add(programme)
        db.session.flush()
        self.summary.counts.update(module=len(self.modules), programme=2)

    def organisations(self) -> None:
        rng, seed = self.rng, self.seed
        sizes = _staff_sizes(self.scale)
        ids = self.writer.ids(Organisation.__table__, len(sizes))
        regions = list(REGIONS)
        rows = []
        for n, org_id in enumerate(ids):
            nation = (
                "england"
                if n < 6 or rng.random() < 0.85
                else rng.choice(["scotland", "wales", "northern_ireland"])
            )
            sector = (
                "acute"
                if n < 6
                else rng.choices(
                    ["acute", "mental_health", "community", "ambulance", "icb", "primary_care"],
                    weights=[40, 15, 15, 5, 15, 10],
                )[0]
            )
            rows.append(
                {
                    "id": org_id,
                    "ods_code": ods_code(seed, n),
                    "name": f"Scale {'Large ' if n == 0 else 'Medium ' if n == 1 else ''}Trust {n}",
                    "sector": sector,
                    "nation": nation,
                    "region": rng.choice(regions) if nation == "england" else None,
                    "credential_target": max(5, sizes[n] // 100),
                }
            )
        self.writer.insert(Organisation.__table__, rows)
        self.org_ids = ids
        # Learner n works at employer_of[n]: the sizes above, shuffled so cohorts mix trusts.
        self.employer_of = [org for org, size in zip(ids, sizes, strict=True) for _ in range(size)]
        rng.shuffle(self.employer_of)
        self.summary.handles.update(
            large_trust_id=ids[0], medium_trust_id=ids[min(1, len(ids) - 1)], staff_sizes=sizes[:2]
        )

    def people(self) -> None:
        rng, seed, scale = self.rng, self.seed, self.scale
        password_hash = hash_password(PASSWORD)
        staff_secret = mfa.encrypt_secret(totp_secret(seed))
        users = []

        def person(address, *, organisation_id=None, staff=False, number=None):
            registration = f"GMC{rng.randint(1_000_000, 9_999_999)}" if rng.random() < 0.3 else None
            users.append(
                {
                    "email": address,
                    "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "password_hash": password_hash,
                    "professional_registration": registration,
                    "staff_number": number,
                    "organisation_id": organisation_id,
                    "totp_secret": staff_secret if staff else None,
                    "totp_enabled_at": self.now if staff else None,
                }
            )

        for n in range(scale.learners):
            person(
                email("learner", seed, n),
                organisation_id=self.employer_of[n],
                number=f"{seed:05d}{n:07d}",
            )
        for n in range(scale.tutors):
            person(email("tutor", seed, n), staff=True)
        for n, org_id in enumerate(self.org_ids):
            person(email("sponsor", seed, n), organisation_id=org_id)
        person(email("admin", seed), staff=True)
        ids = self.writer.ids(User.__table__, len(users))
        for user_id, row in zip(ids, users, strict=True):
            row["id"] = user_id
        self.writer.insert(User.__table__, users)
        self.learner_ids = ids[: scale.learners]
        self.tutor_ids = ids[scale.learners : scale.learners + scale.tutors]
        self.sponsor_ids = ids[scale.learners + scale.tutors : -1]
        self.admin_id = ids[-1]
        self.learner_email = {
            user_id: row["email"] for user_id, row in zip(ids, users, strict=True)
        }

        since = date(2020, 1, 1)
        roles = [
            {"user_id": user_id, "role": "sponsor", "organisation_id": org_id, "valid_from": since}
            for user_id, org_id in zip(self.sponsor_ids, self.org_ids, strict=True)
        ]
        roles.append(
            {
                "user_id": self.admin_id,
                "role": "admin",
                "organisation_id": None,
                "valid_from": since,
            }
        )
        self.writer.insert(RoleAssignment.__table__, roles)
        self.summary.handles.update(
            admin=email("admin", seed),
            tutor=email("tutor", seed, 0),
            learner=None,
            large_trust_sponsor=email("sponsor", seed, 0),
            medium_trust_sponsor=email("sponsor", seed, min(1, len(self.org_ids) - 1)),
            password=PASSWORD,
            totp_secret=totp_secret(seed),
        )

    def cohorts(self) -> None:
        rng, scale, now = self.rng, self.scale, self.now
        sizes = _cohort_sizes(scale, rng)
        learners = list(range(scale.learners))
        rng.shuffle(learners)
        planned = []
        start = 0
        for n, size in enumerate(sizes):
            if n == 0:
                programme, modules = self.diploma, self.modules[:5]
                # Most of its 50 assignments are marked and released; a few are in the queue.
                starts_on = self.today - timedelta(days=600)
                ends_on = starts_on + timedelta(days=700)
            else:
                diploma = rng.random() < 0.4
                programme = self.diploma if diploma else self.certificate
                modules = self.modules if diploma else self.modules[:4]
                starts_on = self.today - timedelta(days=rng.randint(60, 1000))
                ends_on = starts_on + timedelta(days=700 if diploma else 364)
            cohort = PlannedCohort(
                n, programme, f"Scale {self.seed} intake {n}", starts_on, ends_on, modules
            )
            cohort.learners = learners[start : start + size]
            start += size
            planned.append(cohort)

        # The gradebook cohort has its fixed 50 assignments; the others get as many each as the
        # submission target needs (about nine in ten past assignments are handed in).
        _plan_assignments(planned[0], GRADEBOOK_ASSIGNMENTS)
        others = planned[1:]
        target = max(0, scale.submissions - int(_opportunities(planned[:1], now) * 0.93))
        per_cohort = len(others[0].modules) if others else 0
        for count in range(4, 121):
            for cohort in others:
                _plan_assignments(cohort, max(len(cohort.modules), count))
            per_cohort = count
            # Withdrawn learners hand nothing in, so leave room for them.
            if _opportunities(others, now) * 0.85 >= target:
                break
        self.summary.handles["assignments_per_cohort"] = per_cohort
        self._write_cohorts(planned)

    def _write_cohorts(self, planned: list[PlannedCohort]) -> None:
        rng, writer, now = self.rng, self.writer, self.now
        cohort_ids = writer.ids(Cohort.__table__, len(planned))
        cohort_rows, delivery_rows, assignment_rows = [], [], []
        enrolment_rows, change_rows, role_rows = [], [], []
        self.plan = []
        for cohort, cohort_id in zip(planned, cohort_ids, strict=True):
            ended = cohort.ends_on < self.today
            statuses = []
            for _ in cohort.learners:
                roll = rng.random()
                if ended:
                    statuses.append("completed" if roll < 0.88 else "withdrawn")
                else:
                    statuses.append(
                        "active" if roll < 0.93 else "deferred" if roll < 0.96 else "withdrawn"
                    )
            holding = sum(1 for s in statuses if s != "withdrawn")
            cohort_rows.append(
                {
                    "id": cohort_id,
                    "programme_id": cohort.programme.id,
                    "name": cohort.name,
                    "starts_on": cohort.starts_on,
                    "ends_on": cohort.ends_on,
                    "capacity": max(1, len(cohort.learners) + rng.randint(0, 20)),
                    "places_taken": holding,
                    "nation": "england",
                }
            )
            delivery_ids = writer.ids(ModuleDelivery.__table__, len(cohort.modules))
            for module, delivery_id, (start, end) in zip(
                cohort.modules, delivery_ids, _windows(cohort), strict=True
            ):
                delivery_rows.append(
                    {
                        "id": delivery_id,
                        "cohort_id": cohort_id,
                        "module_id": module.id,
                        "starts_on": start,
                        "ends_on": end,
                    }
                )
            assignment_ids = writer.ids(Assignment.__table__, len(cohort.assignments))
            counts = Counter(a[0] for a in cohort.assignments)
            given = Counter()
            assignments = []
            for assignment_id, (delivery, opens, due, cutoff) in zip(
                assignment_ids, cohort.assignments, strict=True
            ):
                given[delivery] += 1
                share = 100 // counts[delivery]
                weight = share + (100 - share * counts[delivery] if given[delivery] == 1 else 0)
                assignment_rows.append(
                    {
                        "id": assignment_id,
                        "delivery_id": delivery_ids[delivery],
                        "title": f"{cohort.modules[delivery].title}: assignment {given[delivery]}",
                        "brief": "Write a 2,000-word reflective essay on a change in your trust.",
                        "opens_at": opens,
                        "due_at": due,
                        "cutoff_at": cutoff,
                        "weight": weight,
                        "allowed_types": ["pdf", "docx"],
                        "anonymous": given[delivery] % 4 == 0,
                    }
                )
                assignments.append(
                    SimpleNamespace(
                        id=assignment_id,
                        delivery=delivery,
                        opens=opens,
                        due=due,
                        cutoff=cutoff,
                        weight=weight,
                        max_mark=100,
                    )
                )
            enrolment_ids = writer.ids(Enrolment.__table__, len(cohort.learners))
            members = []
            for enrolment_id, learner, status in zip(
                enrolment_ids, cohort.learners, statuses, strict=True
            ):
                user_id = self.learner_ids[learner]
                enrolled_at = _noon(cohort.starts_on) - timedelta(days=rng.randint(7, 60))
                enrolment_rows.append(
                    {
                        "id": enrolment_id,
                        "user_id": user_id,
                        "cohort_id": cohort_id,
                        "sponsor_organisation_id": self.employer_of[learner],
                        "status": status,
                        "enrolled_at": enrolled_at,
                    }
                )
                change_rows.append(
                    {
                        "enrolment_id": enrolment_id,
                        "from_status": None,
                        "to_status": "active",
                        "reason": "Enrolled (scale data)",
                        "changed_at": enrolled_at,
                    }
                )
                if status != "active":
                    change_rows.append(
                        {
                            "enrolment_id": enrolment_id,
                            "from_status": "active",
                            "to_status": status,
                            "reason": "Scale data",
                            "changed_at": min(now, _noon(cohort.ends_on)),
                        }
                    )
                role_rows.append(
                    {
                        "user_id": user_id,
                        "role": "learner",
                        "organisation_id": None,
                        "valid_from": enrolled_at.date(),
                    }
                )
                members.append((user_id, status))
            tutors = [self.tutor_ids[cohort.index % len(self.tutor_ids)]]
            if cohort.index % 3 == 0 and len(self.tutor_ids) > 1:
                tutors.append(self.tutor_ids[(cohort.index + 1) % len(self.tutor_ids)])
            for tutor_id in tutors:
                role_rows.append(
                    {
                        "user_id": tutor_id,
                        "role": "tutor",
                        "organisation_id": None,
                        "cohort_id": cohort_id,
                        "valid_from": cohort.starts_on,
                    }
                )
            self.plan.append(
                SimpleNamespace(
                    id=cohort_id,
                    cohort=cohort,
                    delivery_ids=delivery_ids,
                    assignments=assignments,
                    members=members,
                    tutor_id=tutors[0],
                )
            )
        for row in role_rows:
            row.setdefault("cohort_id", None)
        # The share of due work handed in that meets the submission target (at most 95%).
        opportunities = sum(
            sum(1 for _, status in p.members if status != "withdrawn")
            * sum(1 for a in p.assignments if a.due < now)
            for p in self.plan
        )
        self.hand_in_rate = (
            min(0.95, self.scale.submissions / opportunities) if opportunities else 0
        )
        writer.insert(Cohort.__table__, cohort_rows)
        writer.insert(ModuleDelivery.__table__, delivery_rows)
        writer.insert(Assignment.__table__, assignment_rows)
        writer.insert(Enrolment.__table__, enrolment_rows)
        writer.insert(EnrolmentStatusChange.__table__, change_rows)
        writer.insert(RoleAssignment.__table__, role_rows)

        first = self.plan[0]
        active = [user_id for user_id, status in first.members if status == "active"]
        current = [a for a in first.assignments if a.opens <= now < a.due]
        past = [a for a in first.assignments if a.due < now]
        self.summary.handles.update(
            gradebook_cohort_id=first.id,
            gradebook_learners=len(first.members),
            gradebook_assignments=len(first.assignments),
            learner=self.learner_email[active[0]] if active else None,
            learner_assignment_id=(current or past or first.assignments)[0].id,
            tutor=email("tutor", self.seed, self.tutor_ids.index(first.tutor_id)),
        )

    def work(self) -> None:
        """Submissions, receipts and marks, cohort by cohort, written whenever a batch fills."""
        rng, now, writer = self.rng, self.now, self.writer
        submissions, receipts, marks, results = [], [], [], []
        self.passes = []

        def flush(force=False):
            if force or len(submissions) >= 20_000:
                writer.insert(Submission.__table__, submissions)
                writer.insert(SubmissionReceipt.__table__, receipts)
                writer.insert(Mark.__table__, marks)
                for rows in (submissions, receipts, marks):
                    rows.clear()

        for planned in self.plan:
            policy = arithmetic.PenaltyPolicy()
            modules = planned.cohort.modules
            for user_id, status in planned.members:
                if status == "withdrawn":
                    continue
                # Released final marks by delivery, for the module results.
                released: dict[int, list[tuple[SimpleNamespace, Decimal]]] = {}
                for assignment in planned.assignments:
                    roll = rng.random()
                    if assignment.due < now:
                        if roll >= self.hand_in_rate:
                            continue
                        draft = roll < self.hand_in_rate * 0.03
                    elif assignment.opens <= now:
                        if roll >= 0.3:
                            continue
                        draft = roll < 0.25
                    else:
                        continue
                    late = 0 if draft or rng.random() < 0.85 else rng.randint(1, 6)
                    submitted_at = (
                        None
                        if draft
                        else min(
                            now,
                            assignment.due - timedelta(hours=rng.randint(1, 72))
                            if not late
                            else assignment.due + timedelta(days=late),
                        )
                    )
                    late = late if submitted_at and submitted_at > assignment.due else 0
                    submission_id = self._next_submission_id()
                    submissions.append(
                        {
                            "id": submission_id,
                            "assignment_id": assignment.id,
                            "user_id": user_id,
                            "status": "draft" if draft else "submitted",
                            "submitted_at": submitted_at,
                            "late_working_days": None if draft else late,
                        }
                    )
                    if draft:
                        continue
                    digest = hashlib.sha256(f"{self.seed}:{submission_id}".encode()).hexdigest()
                    receipts.append(
                        {
                            "submission_id": submission_id,
                            "submitted_at": submitted_at,
                            "sha256": digest,
                            "files": [
                                {
                                    "name": "essay.pdf",
                                    "sha256": digest,
                                    "size": 200_000 + submission_id % 50_000,
                                }
                            ],
                            "late_working_days": late,
                        }
                    )
                    mark = self._mark(assignment, submission_id, late, planned.tutor_id, policy)
                    if mark is not None:
                        marks.append(mark)
                        if mark["status"] == "released":
                            released.setdefault(assignment.delivery, []).append(
                                (assignment, mark["final_mark"])
                            )
                for delivery, items in released.items():
                    results.append(self._result(planned, delivery, user_id, items, modules))
                flush()
        flush(force=True)
        writer.insert(ModuleResult.__table__, results)

    def _next_submission_id(self) -> int:
        if not self._submission_ids:
            self._submission_ids = self.writer.ids(Submission.__table__, 50_000)[::-1]
        return self._submission_ids.pop()

    def _mark(self, assignment, submission_id, late, tutor_id, policy) -> dict | None:
        rng, now = self.rng, self.now
        if assignment.due >= now:
            return None
        released = assignment.cutoff < now - timedelta(days=28)
        roll = rng.random()
        if not released and roll < 0.4:
            return None  # still in the marking queue
        raw = Decimal(max(0, min(100, round(rng.gauss(60, 12)))))
        penalty = arithmetic.late_penalty(
            raw, max_mark=100, late_days=late, policy=policy, pass_mark=50
        )
        status = "released" if released else "marked" if roll < 0.85 else "draft"
        return {
            "submission_id": submission_id,
            "status": status,
            "marker_id": tutor_id,
            "raw_mark": raw,
            "feedback": "Clear structure and good use of local evidence; link the change model "
            "more closely to your trust's situation.",
            "penalty": penalty,
            "final_mark": arithmetic.rounded(raw - penalty),
            "released_at": assignment.cutoff + timedelta(days=21) if released else None,
            "released_by_id": tutor_id if released else None,
        }

    def _result(self, planned, delivery, user_id, items, modules) -> dict:
        module = modules[delivery]
        in_delivery = [a for a in planned.assignments if a.delivery == delivery]
        percentage = arithmetic.weighted_percentage(
            arithmetic.Weighted(mark, a.max_mark, a.weight) for a, mark in items
        )
        complete = len(items) == len(in_delivery)
        outcome = arithmetic.module_outcome(
            percentage, pass_mark=module.pass_mark, credits=module.credits, resit=False
        )
        passed = outcome.passed and complete
        if passed:
            latest = max(a.cutoff for a in in_delivery) + timedelta(days=21)
            self.passes.append((user_id, module, planned.id, module.credits, latest))
        return {
            "user_id": user_id,
            "module_id": module.id,
            "cohort_id": planned.id,
            "attempt": 1,
            "mark": outcome.mark,
            "passed": passed,
            "credits": outcome.credits if passed else 0,
            "capped": False,
            "status": "complete" if complete else "incomplete",
        }

    def credentials(self) -> None:
        """Signed module credentials for a sample of the passes, exactly as the issue service
        would sign them (document, status list entries, Data Integrity proof)."""
        rng = self.rng
        sample = self.passes
        if len(sample) > self.scale.credentials:
            sample = rng.sample(sample, self.scale.credentials)
        if not sample:
            return
        key = keys.signing_key()
        keys.register(key)
        issuer_name = current_app.config["ACADEMY_ISSUER_NAME"]
        lists = {}
        for purpose in ("revocation", "suspension"):
            made = [
                StatusList(purpose=purpose)
                for _ in range(math.ceil(len(sample) / STATUS_LIST_SIZE))
            ]
            db.session.add_all(made)
            lists[purpose] = made
        db.session.flush()
        rows = []
        for n, (user_id, module, cohort_id, credits, issued_at) in enumerate(sample):
            issued_at = min(issued_at, self.now)
            holder = SimpleNamespace(email=self.learner_email[user_id])
            expires_at = (
                _add_months(issued_at, module.credential_valid_months)
                if module.credential_valid_months
                else None
            )
            revocation = lists["revocation"][n // STATUS_LIST_SIZE]
            suspension = lists["suspension"][n // STATUS_LIST_SIZE]
            credential = SimpleNamespace(
                uuid=str(uuid_module.UUID(int=rng.getrandbits(128), version=4)),
                kind="module",
                user=holder,
                module=module,
                title=f"{module.code} {module.title}",
                issuer_name=issuer_name,
                credits_earned=credits,
                issued_at=issued_at,
                expires_at=expires_at,
                revocation_list_id=revocation.id,
                revocation_index=n % STATUS_LIST_SIZE,
                suspension_list_id=suspension.id,
                suspension_index=n % STATUS_LIST_SIZE,
            )
            unsigned = documents.build(credential, status_entries(credential))
            signed = proof.sign(unsigned, key.private_key, key.verification_method, issued_at)
            rows.append(
                {
                    "uuid": credential.uuid,
                    "user_id": user_id,
                    "kind": "module",
                    "title": credential.title,
                    "issuer_name": issuer_name,
                    "module_id": module.id,
                    "programme_id": None,
                    "cohort_id": cohort_id,
                    "achievement_type": "Course",
                    "credits_earned": credits,
                    "credits_available": module.credits,
                    "issued_at": issued_at,
                    "expires_at": expires_at,
                    "issue_key": f"module:{user_id}:{module.id}",
                    "document": signed,
                    "revocation_list_id": revocation.id,
                    "revocation_index": credential.revocation_index,
                    "suspension_list_id": suspension.id,
                    "suspension_index": credential.suspension_index,
                }
            )
        for made in lists.values():
            for n, status_list in enumerate(made):
                status_list.next_index = min(STATUS_LIST_SIZE, len(sample) - n * STATUS_LIST_SIZE)
        db.session.flush()
        self.writer.insert(Credential.__table__, rows)
        self.summary.counts["status_list"] += sum(len(m) for m in lists.values())
        self.summary.handles["credential_uuid"] = rows[0]["uuid"]


def existing(seed: int) -> bool:
    return (
        db.session.scalar(
            sa.select(Organisation.id).where(Organisation.ods_code == ods_code(seed, 0))
        )
        is not None
    )


def generate(scale: Scale, *, echo: Callable[[str], None] = lambda line: None) -> Summary:
    """Write the scale data for `scale.seed` (flush only; the caller commits), or nothing if that
    seed's data is there already."""
    if existing(scale.seed):
        return Summary(seed=scale.seed, created=False)
    return Generator(scale, echo).run()
