"""Two app nodes, as behind a load balancer: two gunicorn servers on loopback ports over one
database, one Redis and one storage folder, with an RQ worker process beside them. Whatever a
person does through one node, the other sees: their session (the second sign-in step included),
the login rate limit's count, an uploaded file, the effect of a job the first node queued, and a
credential's revocation on the public page and the status list.

The database is a real one of its own (PostgreSQL with TEST_DATABASE_URL, else a SQLite file
both servers open), migrated by `flask db upgrade` as an operator would; Redis is the local one,
in a database of its own (TEST_MULTINODE_REDIS_URL, default redis://127.0.0.1:6379/12), emptied
before and after. Without Redis the test fails rather than skips: sharing through it is the point.
"""

from __future__ import annotations

import email
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
import sqlalchemy as sa
from redis import Redis

from academy import create_app
from academy.credentials import statuslist
from academy.extensions import db
from academy.notifications.models import OutboxMessage
from tests.factories import PASSWORD, TOTP_SECRET, Factories
from tests.signing import TEST_SIGNING_KEY

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("TEST_MULTINODE_REDIS_URL", "redis://127.0.0.1:6379/12")
#: The one public address both nodes sit behind: emailed links and credential URLs use it.
PUBLIC_URL = "http://academy.multinode.test"
LOGIN_RATE_LIMIT = 10
SECRET_KEY = "multi-node-secret-key-shared-by-every-node-0123456789"
#: App settings (by prefix) not to take from the environment pytest runs in.
INHERITED_SETTINGS = (
    "ACADEMY_", "RATELIMIT_", "STORAGE_", "S3_", "MAIL_", "LOGIN_", "MFA_", "PROXY_FIX_",
    "SESSION_", "PROMETHEUS_", "CLAMD_", "ANTIVIRUS_", "METRICS_",
)  # fmt: skip
#: How long a node may take to start answering /readyz.
START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen
    log: Path

    def path(self, path: str) -> str:
        return self.url + path

    def ready(self) -> bool:
        try:
            return requests.get(self.path("/readyz"), timeout=2).status_code == 200
        except requests.RequestException:
            return False


@dataclass
class Cluster:
    a: Node
    b: Node
    env: dict[str, str]
    seed_app: object
    tmp: Path
    ids: dict

    def worker_burst(self) -> subprocess.CompletedProcess:
        """`flask academy worker --burst`, as a worker container runs it (without --burst)."""
        return subprocess.run(
            [str(BIN / "flask"), "academy", "worker", "--burst"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def query(self, statement):
        """Read the shared database afresh, as a third party would."""
        with self.seed_app.app_context():
            try:
                return db.session.execute(statement).all()
            finally:
                db.session.remove()


def _start(name: str, env: dict[str, str], tmp: Path) -> Node:
    port = _free_port()
    log = tmp / f"node-{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [
                str(BIN / "gunicorn"),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "2",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Node(name, f"http://127.0.0.1:{port}", process, log)


def _stop(node: Node) -> None:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=5)


def _seed(app) -> dict:
    """Who and what the journeys need, committed before the servers start."""
    make = Factories(app)
    with app.app_context():
        cohort = make.cohort()
        tutor = make.user("tutor", scope=cohort)
        admin = make.user("admin")
        make.mfa(tutor)
        make.mfa(admin)
        learner = make.learner_in(cohort)
        forgetful = make.learner_in(cohort)
        assignment = make.assignment(cohort, allowed_types=["txt"])
        # In a cohort of its own: the open assignment above keeps this one's module unfinished.
        credential = make.credential(actor=admin)
        ids = {
            "tutor": tutor.email,
            "admin": admin.email,
            "learner": learner.email,
            "forgetful": forgetful.email,
            "assignment": assignment.id,
            "credential": credential.id,
            "credential_uuid": credential.uuid,
            "revocation_status": next(
                entry
                for entry in credential.document["credentialStatus"]
                if entry["statusPurpose"] == "revocation"
            ),
        }
        db.session.remove()
    from academy.core import jobs

    jobs.discard_ready()  # the seeding's emails are not the journeys' business
    return ids


@pytest.fixture(scope="module")
def cluster(module_databases, tmp_path_factory) -> Iterator[Cluster]:
    gunicorn = BIN / "gunicorn"
    # gunicorn is a dependency of the app: missing, the install is broken, which must fail.
    assert gunicorn.exists(), f"{gunicorn} is not installed: run `make install`"
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()  # fails, rather than skips, without Redis

    tmp = tmp_path_factory.mktemp("nodes")
    database_url = module_databases.make("multinode")
    env = {
        # Nothing of the developer's own settings: these nodes are configured by the test alone.
        **{k: v for k, v in os.environ.items() if not k.startswith(INHERITED_SETTINGS)},
        "FLASK_APP": "wsgi",
        "ACADEMY_ENV": "development",
        "ACADEMY_INSTANCE_DIR": str(tmp / "instance"),
        "ACADEMY_BASE_URL": PUBLIC_URL,
        "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "STORAGE_DIR": str(tmp / "storage"),
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp / "mail"),
        "SESSION_COOKIE_SECURE": "0",
        "LOGIN_RATE_LIMIT": f"{LOGIN_RATE_LIMIT} per minute",
        # A fixed window could roll over mid-test and reset the count it checks.
        "RATELIMIT_STRATEGY": "moving-window",
        "LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "1",
    }
    migrated = subprocess.run(
        [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    seed_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": SECRET_KEY,  # the authenticator secrets are encrypted with it
            "ACADEMY_BASE_URL": PUBLIC_URL,
            "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
            "ACADEMY_KEY_FILE": str(tmp / "issuer-keys.json"),
            "STORAGE_DIR": env["STORAGE_DIR"],
            "MAIL_BACKEND": "memory",
            # The limiter is one object shared by every app in this process: keep the suite's.
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,
        }
    )
    ids = _seed(seed_app)

    nodes: list[Node] = []
    try:
        nodes = [_start("a", env, tmp), _start("b", env, tmp)]
        deadline = time.monotonic() + START_SECONDS
        waiting = list(nodes)
        while waiting:
            waiting = [node for node in waiting if not node.ready()]
            for node in waiting:
                if node.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"node {node.name} did not become ready:\n{node.log.read_text()}")
            if waiting:
                time.sleep(0.1)
        yield Cluster(nodes[0], nodes[1], env, seed_app, tmp, ids)
    finally:
        for node in nodes:
            _stop(node)
        redis.flushdb()
        redis.close()
        with seed_app.app_context():
            db.engine.dispose()


# --- a browser --------------------------------------------------------------------------------


def csrf_token(page: str, prefix: str = "") -> str | None:
    found = re.search(rf'name="{re.escape(prefix)}csrf_token"[^>]*value="([^"]+)"', page)
    return found.group(1) if found else None


class Browser:
    """One person's browser: one cookie jar, whichever node the load balancer picks."""

    def __init__(self):
        self.session = requests.Session()

    def get(self, node: Node, path: str, **kwargs) -> requests.Response:
        return self.session.get(node.path(path), allow_redirects=False, timeout=10, **kwargs)

    def form(
        self, node: Node, path: str, data: dict, *, page: str | None = None, prefix: str = "",
        **kwargs,
    ):  # fmt: skip
        """Post a form to `node`, with the CSRF token of the page it is on (`page`, default
        `path`), fetched from the same node; `prefix` is the form's, when its page has several."""
        shown = self.get(node, page or path)
        assert shown.status_code == 200, (page or path, shown.status_code)
        token = csrf_token(shown.text, prefix)
        assert token, f"no CSRF token on {page or path}"
        return self.session.post(
            node.path(path),
            data={f"{prefix}csrf_token": token, **{prefix + k: v for k, v in data.items()}},
            allow_redirects=False,
            timeout=10,
            **kwargs,
        )


def _redirect_path(response: requests.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return urlsplit(response.headers["Location"]).path


def sign_in(browser: Browser, node: Node, email: str, password: str = PASSWORD) -> str:
    """The first step; the path it leads to."""
    return _redirect_path(browser.form(node, "/sign-in", {"email": email, "password": password}))


def totp_now() -> str:
    return pyotp.TOTP(TOTP_SECRET).now()


# --- the journeys -----------------------------------------------------------------------------


def test_a_session_begun_on_one_node_is_good_on_the_other_second_step_included(cluster):
    a, b = cluster.a, cluster.b
    tutor = Browser()
    # The password on A; the second step's page and code on B, as a load balancer may send them.
    assert sign_in(tutor, a, cluster.ids["tutor"]) == "/sign-in/verify"
    assert tutor.session.cookies.get("session")
    verified = tutor.form(b, "/sign-in/verify", {"code": totp_now()})
    assert _redirect_path(verified) == "/account"
    for node in (a, b):
        account = tutor.get(node, "/account")
        assert account.status_code == 200, node.name
        assert cluster.ids["tutor"] in account.text
    # A browser without the cookie is sent to sign in by either.
    assert _redirect_path(Browser().get(b, "/account")) == "/sign-in"


def test_a_file_uploaded_through_one_node_downloads_byte_identical_from_the_other(cluster):
    a, b = cluster.a, cluster.b
    learner = Browser()
    assert sign_in(learner, a, cluster.ids["learner"]) == "/account"
    content = "\n".join(secrets.token_hex(32) for _ in range(300)).encode() + "\n£ é 🏥\n".encode()
    assignment = f"/assignments/{cluster.ids['assignment']}"
    uploaded = learner.form(
        a, f"{assignment}/files", {}, page=assignment, files={"file": ("notes.txt", content)}
    )
    assert _redirect_path(uploaded) == assignment
    page = learner.get(b, assignment)
    link = re.search(r'href="(/submissions/\d+/files/\d+)"', page.text)
    assert link, "node B does not list the file"
    downloaded = learner.get(b, link.group(1))
    assert downloaded.status_code == 200
    assert downloaded.content == content


def test_a_job_queued_by_one_node_is_run_by_the_worker_and_seen_from_the_other(cluster):
    a, b = cluster.a, cluster.b
    email_address = cluster.ids["forgetful"]
    asked = Browser().form(a, "/forgot-password", {"email": email_address})
    assert asked.status_code == 200
    outbox = sa.select(OutboxMessage.status).where(
        OutboxMessage.recipient == email_address, OutboxMessage.template == "password_reset"
    )
    # Queued on Redis for a worker; the web node did not send it itself.
    assert cluster.query(outbox) == [("pending",)]

    worked = cluster.worker_burst()
    assert worked.returncode == 0, worked.stderr[-2000:]
    assert cluster.query(outbox) == [("sent",)]
    [sent] = [
        path for path in (cluster.tmp / "mail").glob("*.eml") if email_address in path.read_text()
    ]
    message = email.message_from_bytes(sent.read_bytes(), policy=default_policy)
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(re.escape(PUBLIC_URL) + r"(/reset-password/\S+)", body)
    assert link, body

    # The emailed link works on the other node, and the new password on the first.
    new_password = "Quartz-harbour-ambulance-1987"
    person = Browser()
    reset = person.form(b, link.group(1), {"password": new_password, "confirm": new_password})
    assert _redirect_path(reset) == "/sign-in", reset.text[:2000]
    assert sign_in(Browser(), a, email_address, new_password) == "/account"


def test_a_credential_revoked_through_one_node_is_revoked_on_the_others_public_pages(cluster):
    a, b = cluster.a, cluster.b
    uuid, status = cluster.ids["credential_uuid"], cluster.ids["revocation_status"]
    status_path = urlsplit(status["statusListCredential"]).path
    index = int(status["statusListIndex"])

    def revoked_on_b() -> tuple[str, bool]:
        page = Browser().get(b, f"/credentials/{uuid}")
        verdict = re.search(r'data-verdict="([a-z_]+)"', page.text).group(1)
        listed = Browser().get(b, status_path).json()
        bits = statuslist.decode(listed["credentialSubject"]["encodedList"])
        return verdict, statuslist.bit_is_set(bits, index)

    # B has drawn (and cached) the status list before the change.
    assert revoked_on_b() == ("valid", False)

    admin = Browser()
    assert sign_in(admin, a, cluster.ids["admin"]) == "/sign-in/verify"
    assert _redirect_path(admin.form(a, "/sign-in/verify", {"code": totp_now()})) == "/account"
    detail = f"/admin/credentials/{cluster.ids['credential']}"
    revoked = admin.form(
        a, f"{detail}/revoke", {"reason": "Awarded in error"}, page=detail, prefix="revoke-"
    )
    assert _redirect_path(revoked) == detail

    assert revoked_on_b() == ("revoked", True)


def test_the_login_rate_limit_is_counted_across_nodes(cluster):
    a, b = cluster.a, cluster.b
    redis = Redis.from_url(REDIS_URL)
    # Start the count from nothing, whatever the journeys above spent of it.
    counts = list(redis.scan_iter("*LIMITER*"))
    assert counts, "the nodes keep no rate-limit counts in Redis"
    redis.delete(*counts)
    redis.close()
    browser = Browser()
    shown = browser.get(a, "/sign-in")
    token = csrf_token(shown.text)

    def attempt(node: Node, n: int) -> int:
        return browser.session.post(
            node.path("/sign-in"),
            data={"csrf_token": token, "email": f"nobody{n}@nhs.test", "password": "wrong"},
            allow_redirects=False,
            timeout=10,
        ).status_code

    # Half the budget on each node: neither alone reaches the limit.
    statuses = [attempt((a, b)[n % 2], n) for n in range(LOGIN_RATE_LIMIT)]
    assert statuses == [200] * LOGIN_RATE_LIMIT
    # Together they have: both refuse the next attempt.
    assert attempt(a, LOGIN_RATE_LIMIT) == 429
    assert attempt(b, LOGIN_RATE_LIMIT + 1) == 429
