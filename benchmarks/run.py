"""The performance benchmark: scale data on PostgreSQL, a load run against gunicorn on loopback,
and the bulk operations (CSV import, credential issuance, trust export). Prints a table.

    .venv/bin/python benchmarks/run.py            # the issue's full scale (about 30-40 minutes)
    .venv/bin/python benchmarks/run.py --quick    # a small scale, a few minutes
    make bench                                    # the same as the first

It creates the database (`academy_bench` on 127.0.0.1:5432 by default) if missing, migrates it,
generates the data (`flask academy generate`, idempotent per seed, so a rerun reuses it), starts
gunicorn (2 workers) on 127.0.0.1, signs in a learner, a tutor, a sponsor and an admin, and drives
each page with 16 concurrent connections, `GET /healthz` first as the framework's own ceiling.

The load driver is a closed loop of threads, each with one keep-alive `http.client` connection:
every thread sends its next request as soon as the last one is answered, and each latency is
timed around one request. Locust was not used because on this 2-core machine its gevent runner
and stats machinery take a core of their own from the server being measured; the stdlib driver
is lighter and has nothing to install. Traffic goes only to 127.0.0.1, and every loop is bounded
in time.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/academy_bench"
#: The issue's scale, and a small one that runs in a few minutes.
FULL = {
    "organisations": 220,
    "learners": 20_000,
    "cohorts": 200,
    "submissions": 500_000,
    "credentials": 2_000,
}
QUICK = {
    "organisations": 40,
    "learners": 2_000,
    "cohorts": 20,
    "submissions": 50_000,
    "credentials": 200,
}
#: The issue's targets, checked in the table.
MIN_SHARE_OF_CEILING = 0.30
MAX_P95_MS = 100
#: Sent on every request: Flask-Login's session protection ties a session to the user agent.
USER_AGENT = "academy-benchmark"
BENCH_SECRET = "benchmark-only-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway database


# --- the environment ---------------------------------------------------------------------------


def environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        ACADEMY_ENV="development",
        SECRET_KEY=BENCH_SECRET,
        ACADEMY_KEY_FILE=str(ROOT / "instance" / "bench-issuer-keys.json"),
        STORAGE_DIR=str(ROOT / "instance" / "bench-storage"),
        MAIL_BACKEND="file",
        MAIL_FILE_DIR=str(ROOT / "instance" / "bench-mail"),
        # The benchmark signs its users in once each; keep its own sign-ins from counting as an
        # attack, and measure pages rather than the rate limiter.
        LOGIN_RATE_LIMIT="1000 per minute",
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    return env


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not found:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name}")


def flask(env: dict, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own venv, fixed arguments
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def machine() -> dict[str, str]:
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


# --- the server --------------------------------------------------------------------------------


class Server:
    def __init__(self, env: dict, port: int, workers: int):
        self.port = port
        self.process = subprocess.Popen(  # noqa: S603 - our own venv, fixed arguments
            [
                str(BIN / "gunicorn"),
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        sys.exit("gunicorn did not start")

    def worker_rss_mib(self) -> float:
        """Resident memory of the gunicorn workers (the master's children), added up."""
        total = 0
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- signing in --------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def sign_in(port: int, email: str, password: str, totp_secret: str | None = None) -> str:
    """Sign in through the real pages (password, then the authenticator code for staff) and
    return the Cookie header the session lives in."""
    import pyotp
    import requests

    base = f"http://127.0.0.1:{port}"
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        page = session.get(f"{base}/sign-in")
        response = session.post(
            f"{base}/sign-in",
            data={"csrf_token": _csrf(page.text), "email": email, "password": password},
            allow_redirects=True,
        )
        if "/sign-in/verify" in response.url:
            if totp_secret is None:
                raise RuntimeError(f"{email} needs a second factor")
            code = pyotp.TOTP(totp_secret).now()
            response = session.post(
                response.url, data={"csrf_token": _csrf(response.text), "code": code}
            )
        if "/sign-in" in response.url:
            raise RuntimeError(f"could not sign in as {email} (ended at {response.url})")
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


# --- the load driver ---------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    path: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def load(
    port: int,
    name: str,
    paths: list[str],
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    warmup: float,
) -> Result:
    """A closed loop: `connections` threads, each with one keep-alive connection, sending the
    next request as soon as the last is answered; the first `warmup` seconds are not counted."""
    result = Result(name, paths[0])
    lock = threading.Lock()
    start = time.monotonic()
    counting_from = start + warmup
    stop_at = counting_from + seconds

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies, statuses, n = [], {}, offset
        while True:
            path = paths[n % len(paths)]
            n += 1
            sent = time.monotonic()
            if sent >= stop_at:
                break
            try:
                connection.request("GET", path, headers={"User-Agent": USER_AGENT, **headers})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            done = time.monotonic()
            if sent >= counting_from and done <= stop_at + 60:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()
        with lock:
            result.latencies.extend(latencies)
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = max(seconds, time.monotonic() - counting_from)
    result.requests = len(result.latencies)
    result.errors = sum(c for s, c in result.statuses.items() if s != 200)
    return result


def timed_get(port: int, path: str, headers: dict[str, str], runs: int) -> tuple[float, int, int]:
    """Median seconds of `runs` sequential requests, the last status, and the body size."""
    times, status, size = [], 0, 0
    for _ in range(runs):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        started = time.monotonic()
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        size = len(response.read())
        times.append(time.monotonic() - started)
        status = response.status
        connection.close()
    return statistics.median(times), status, size


# --- the bulk operations, in-process against the same database ---------------------------------


def in_process_app(env: dict):
    """The app in this process, on the benchmark's database and settings."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import logging

    from academy import create_app

    app = create_app()
    # The import logs every account it makes; the figures are what matter here.
    logging.getLogger("academy").setLevel(logging.WARNING)
    return app


def bulk_operations(handles: dict, issue_count: int) -> dict:
    """CSV import of 10,000 learners and credential issuance through the real services, each in
    a transaction that is rolled back, so reruns measure the same thing on the same data."""
    import sqlalchemy as sa

    from academy.auth.models import User
    from academy.catalogue.models import Module
    from academy.cohorts import importing
    from academy.cohorts.models import Cohort
    from academy.credentials import services as credential_services
    from academy.credentials.models import Credential
    from academy.extensions import db
    from academy.marking.models import ModuleResult
    from academy.organisations.models import Organisation

    figures = {}
    admin = db.session.scalar(sa.select(User).where(User.email == handles["admin"]))
    template = db.session.get(Cohort, handles["gradebook_cohort_id"])
    codes = db.session.scalars(
        sa.select(Organisation.ods_code)
        .order_by(Organisation.id)
        .where(Organisation.ods_code.like("S%O%"))
        .limit(50)
    ).all()

    # 10,000 learners: two files, as the import takes at most 5,000 rows a file.
    cohort = Cohort(
        programme_id=template.programme_id,
        name=f"Import benchmark {time.time()}",
        starts_on=template.starts_on,
        ends_on=template.ends_on,
        capacity=10_000,
    )
    db.session.add(cohort)
    db.session.flush()
    files = []
    stamp = int(time.time())
    for part in range(2):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(importing.COLUMNS)
        for n in range(5_000):
            number = part * 5_000 + n
            writer.writerow(
                [
                    f"import-{stamp}-{number}@scale.test",
                    f"Imported Learner {number}",
                    codes[number % len(codes)],
                    "",
                    f"IMP{number:07d}",
                ]
            )
        files.append(buffer.getvalue().encode())
    started = time.perf_counter()
    imported = 0
    for data in files:
        imported += len(importing.run(data, cohort, actor=admin).enrolments)
    db.session.flush()
    figures["import_seconds"] = time.perf_counter() - started
    figures["import_learners"] = imported
    db.session.rollback()

    # Credentials through the real issue service, for passes that have none yet.
    passes = db.session.execute(
        sa.select(
            ModuleResult.user_id,
            ModuleResult.module_id,
            ModuleResult.cohort_id,
            ModuleResult.credits,
        )
        .where(
            ModuleResult.passed.is_(True),
            ~sa.exists().where(
                Credential.user_id == ModuleResult.user_id,
                Credential.module_id == ModuleResult.module_id,
            ),
        )
        .limit(issue_count)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(sa.select(User).where(User.id.in_({p.user_id for p in passes})))
    }
    modules = {m.id: m for m in db.session.scalars(sa.select(Module))}
    started = time.perf_counter()
    for user_id, module_id, cohort_id, credits in passes:
        credential_services.issue_module_credential(
            users[user_id],
            modules[module_id],
            cohort_id=cohort_id,
            credits=credits,
            actor=admin,
        )
    db.session.flush()
    seconds = time.perf_counter() - started
    figures["issued"] = len(passes)
    figures["issue_seconds"] = seconds
    figures["issue_per_second"] = len(passes) / seconds if seconds else 0
    db.session.rollback()
    return figures


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--quick", action="store_true", help="A small scale: a few minutes.")
    for name in FULL:
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, help="Measured seconds per page (30; quick 8).")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--soak", type=float, help="Seconds of mixed load watching memory (600; quick 0 = off)."
    )
    parser.add_argument("--issue", type=int, help="Credentials to issue (500; quick 100).")
    parser.add_argument("--json", type=Path, help="Also write the figures here as JSON.")
    args = parser.parse_args()

    scale = dict(QUICK if args.quick else FULL)
    for name in FULL:
        if getattr(args, name) is not None:
            scale[name] = getattr(args, name)
    seconds = args.seconds or (8 if args.quick else 30)
    soak = args.soak if args.soak is not None else (0 if args.quick else 600)
    issue_count = args.issue or (100 if args.quick else 500)

    env = environment(args.database_url)
    ensure_database(args.database_url)
    flask(env, "db", "upgrade")
    print(f"Scale: {scale} (seed {args.seed})")
    generate_args = [f"--{k}={v}" for k, v in scale.items()] + [f"--seed={args.seed}"]
    started = time.perf_counter()
    print(flask(env, "academy", "generate", *generate_args).rstrip())
    generate_seconds = time.perf_counter() - started
    app = in_process_app(env)
    with app.app_context():
        handles = handles_for(args.seed)

    import psycopg

    plain_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url) as connection:
        postgres_version = connection.execute("SHOW server_version").fetchone()[0]

    server = Server(env, args.port, args.workers)
    try:
        rows, single, exports, rss = measure(server, handles, args, seconds, soak)
    finally:
        server.stop()
    with app.app_context(), app.test_request_context():
        bulk = bulk_operations(handles, issue_count)
    report = {
        "scale": scale,
        "seed": args.seed,
        "machine": machine(),
        "postgresql": postgres_version,
        "generate_seconds": generate_seconds,
        "connections": args.connections,
        "workers": args.workers,
        "seconds": seconds,
        "pages": rows,
        "single": single,
        "exports": exports,
        "memory": rss,
        "bulk": bulk,
        "handles": {k: v for k, v in handles.items() if k != "password"},
    }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


def handles_for(seed: int) -> dict:
    """Who and what to measure, read back from the generated data (a rerun reuses it)."""
    import sqlalchemy as sa

    from academy.assessment.models import Assignment
    from academy.auth.models import RoleAssignment, User
    from academy.cohorts.models import Cohort, Enrolment, ModuleDelivery
    from academy.core import clock
    from academy.credentials.models import Credential
    from academy.extensions import db
    from academy.organisations.models import Organisation
    from academy.scale import generate as g

    session = db.session

    def organisation(n: int) -> int:
        return session.scalar(
            sa.select(Organisation.id).where(Organisation.ods_code == g.ods_code(seed, n))
        )

    cohort = session.scalar(sa.select(Cohort).where(Cohort.name == f"Scale {seed} intake 0"))
    learner = session.scalar(
        sa.select(User)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status == "active")
        .order_by(User.id)
        .limit(1)
    )
    now = clock.now()
    assignments = session.scalars(
        sa.select(Assignment)
        .join(ModuleDelivery)
        .where(ModuleDelivery.cohort_id == cohort.id)
        .order_by(Assignment.due_at)
    ).all()
    current = [a for a in assignments if a.opens_at <= now < a.due_at]
    current = current or [a for a in assignments if a.due_at < now]
    tutor = session.scalar(
        sa.select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == "tutor", RoleAssignment.cohort_id == cohort.id)
        .order_by(User.id)
        .limit(1)
    )
    uuids = session.scalars(
        sa.select(Credential.uuid)
        .join(User, User.id == Credential.user_id)
        .where(User.email.like(f"learner-{seed}-%"), Credential.kind == "module")
        .order_by(Credential.id)
        .limit(100)
    ).all()
    gradebook_learners = session.scalar(
        sa.select(sa.func.count()).where(Enrolment.cohort_id == cohort.id)
    )
    medium_staff = session.scalar(
        sa.select(sa.func.count()).where(Enrolment.sponsor_organisation_id == organisation(1))
    )
    session.rollback()
    return {
        "gradebook_size": f"{gradebook_learners:,} x {len(assignments)}",
        "medium_trust_staff": medium_staff,
        "admin": g.email("admin", seed),
        "tutor": tutor.email,
        "learner": learner.email,
        "sponsor": g.email("sponsor", seed, 1),
        "large_sponsor": g.email("sponsor", seed, 0),
        "medium_trust_id": organisation(1),
        "large_trust_id": organisation(0),
        "gradebook_cohort_id": cohort.id,
        "assignment_id": current[0].id,
        "credential_uuids": list(uuids),
        "password": g.PASSWORD,
        "totp_secret": g.totp_secret(seed),
    }


def measure(server: Server, handles: dict, args, seconds: float, soak: float):
    port, password, secret = server.port, handles["password"], handles["totp_secret"]
    learner = {"Cookie": sign_in(port, handles["learner"], password)}
    tutor = {"Cookie": sign_in(port, handles["tutor"], password, secret)}
    sponsor = {"Cookie": sign_in(port, handles["sponsor"], password)}
    large_sponsor = {"Cookie": sign_in(port, handles["large_sponsor"], password)}
    admin = {"Authorization": f"Bearer {api_token(port, handles, secret)}"}
    cohort, uuids = handles["gradebook_cohort_id"], handles["credential_uuids"]
    pages = [
        ("healthz (ceiling)", ["/healthz"], {}),
        ("learner home", ["/learning"], learner),
        ("assignment page", [f"/assignments/{handles['assignment_id']}"], learner),
        ("tutor marking queue", ["/marking"], tutor),
        (f"gradebook {handles['gradebook_size']}", [f"/marking/cohorts/{cohort}/gradebook"], tutor),
        (
            f"trust dashboard ({handles['medium_trust_staff']:,} staff)",
            [f"/organisations/{handles['medium_trust_id']}/dashboard"],
            sponsor,
        ),
        ("credential verification", [f"/credentials/{u}" for u in uuids] or ["/healthz"], {}),
        ("GET /api/v1/users", ["/api/v1/users"], admin),
    ]
    rows = []
    for name, paths, headers in pages:
        for path in paths[:1]:  # every page must answer 200 before it is measured
            _, status, _ = timed_get(port, path, headers, 1)
            if status != 200:
                sys.exit(f"{name}: {path} answered {status}")
        print(f"  measuring {name} ...", flush=True)
        result = load(
            port, name, paths, headers, connections=args.connections, seconds=seconds, warmup=2
        )
        rows.append(
            {
                "name": name,
                "path": paths[0],
                "requests": result.requests,
                "errors": result.errors,
                "rps": result.rps,
                "p50": result.percentile(50),
                "p95": result.percentile(95),
                "p99": result.percentile(99),
                "statuses": result.statuses,
            }
        )
    single = {}
    for label, path, headers in (
        ("gradebook", f"/marking/cohorts/{cohort}/gradebook", tutor),
        ("gradebook.csv", f"/marking/cohorts/{cohort}/gradebook.csv", tutor),
    ):
        single[label] = timed_get(port, path, headers, 3)
    exports = {}
    large = handles["large_trust_id"]
    for fmt in ("csv", "xlsx"):
        for export in ("progress", "staff-credentials"):
            path = f"/organisations/{large}/reports/{export}.{fmt}"
            exports[f"{export}.{fmt}"] = timed_get(port, path, large_sponsor, 3)
    rss = {"before_soak_mib": server.worker_rss_mib()}
    if soak:
        mixed = [p for _, paths, _ in pages[1:] for p in paths[:1]]
        samples = []
        deadline = time.monotonic() + soak
        while time.monotonic() < deadline:
            for _, paths, headers in pages[1:]:
                load(
                    port,
                    "soak",
                    paths[:1],
                    headers,
                    connections=args.connections,
                    seconds=min(5, max(0.5, deadline - time.monotonic())),
                    warmup=0,
                )
            samples.append(round(server.worker_rss_mib(), 1))
        rss.update(samples_mib=samples, after_soak_mib=server.worker_rss_mib(), pages=mixed)
    return rows, single, exports, rss


def api_token(port: int, handles: dict, secret: str) -> str:
    """An API token for the admin, made with the token API (password and authenticator code)."""
    import pyotp
    import requests

    response = requests.post(
        f"http://127.0.0.1:{port}/api/v1/auth/tokens",
        json={
            "email": handles["admin"],
            "password": handles["password"],
            "otp": pyotp.TOTP(secret).now(),
            "label": "benchmark",
            "scopes": ["read"],
        },
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"no API token: {response.status_code} {response.text[:300]}")
    return response.json()["token"]


def print_report(report: dict) -> None:
    pages = report["pages"]
    ceiling = pages[0]["rps"] or 1
    print()
    print(
        f"Scale {report['scale']}; {report['workers']} gunicorn workers, "
        f"{report['connections']} connections, {report['seconds']:.0f}s a page"
    )
    print(
        f"Machine: {report['machine']['cores']} cores, {report['machine']['memory']}, "
        f"PostgreSQL {report['postgresql']}"
    )
    header = f"{'page':<30} {'req/s':>8} {'x ceiling':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}  target"  # noqa: E501
    print(header)
    print("-" * len(header))
    for n, row in enumerate(pages):
        share = row["rps"] / ceiling
        ok = n == 0 or (share >= MIN_SHARE_OF_CEILING and row["p95"] < MAX_P95_MS)
        print(
            f"{row['name']:<30} {row['rps']:>8.1f} {share:>9.2f} {row['p50']:>8.1f} "
            f"{row['p95']:>8.1f} {row['p99']:>8.1f} {row['errors']:>6}  "
            f"{'' if n == 0 else 'met' if ok else 'MISSED'}"
        )
    print()
    for label, (seconds, status, size) in report["single"].items():
        print(
            f"{label} alone: {seconds * 1000:.0f} ms (HTTP {status}, {size:,} bytes); "
            f"target under 1 s: {'met' if seconds < 1 else 'MISSED'}"
        )
    for label, (seconds, status, size) in report["exports"].items():
        print(
            f"export {label} of the large trust: {seconds * 1000:.0f} ms "
            f"(HTTP {status}, {size:,} bytes)"
        )
    bulk = report["bulk"]
    print(
        f"CSV import of {bulk['import_learners']:,} learners: {bulk['import_seconds']:.1f}s "
        f"(target under 15 s: {'met' if bulk['import_seconds'] < 15 else 'MISSED'})"
    )
    print(
        f"credential issuance: {bulk['issued']} in {bulk['issue_seconds']:.1f}s = "
        f"{bulk['issue_per_second']:.1f}/s (target 100/s: "
        f"{'met' if bulk['issue_per_second'] >= 100 else 'MISSED'})"
    )
    memory = report["memory"]
    print(
        f"gunicorn workers' memory: {memory['before_soak_mib']:.0f} MiB"
        + (
            f", after the soak {memory['after_soak_mib']:.0f} MiB, samples {memory['samples_mib']}"
            if "samples_mib" in memory
            else " (no soak run)"
        )
    )
    print(f"data generated in {report['generate_seconds']:.0f}s")


if __name__ == "__main__":
    main()
