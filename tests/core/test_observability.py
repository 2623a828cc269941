"""What an operator watches: readiness, request ids in logs (also from jobs), and metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import boto3
import pytest
from moto import mock_aws
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from academy import create_app
from academy.config import PROJECT_ROOT
from academy.core import jobs, logs
from academy.extensions import db
from academy.notifications import worker
from academy.notifications.mail import send_email

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
JOB_LOGGER = "tests.core.observability_job"


@jobs.job("tests.log_from_a_job")
def log_from_a_job(text: str) -> None:
    logging.getLogger(JOB_LOGGER).info("job says %s", text)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def job_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == JOB_LOGGER]


# --- readiness --------------------------------------------------------------------------------


def test_readyz_is_ok_when_the_database_and_storage_answer(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "skipped", "storage": "ok"},
    }


def test_readyz_pings_redis_when_it_is_configured(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["redis"] == "ok"


def test_readyz_is_503_when_redis_is_down_and_says_no_more(client, app, monkeypatch, caplog):
    port = closed_port()
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://:hunter2@127.0.0.1:{port}/0")
    response = client.get("/readyz", headers={"X-Request-ID": "probe-7"})
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed", "storage": "ok"},
    }
    body = response.get_data(as_text=True)
    assert str(port) not in body and "hunter2" not in body and "redis://" not in body
    # The reason goes to the log instead, under the request's id.
    [record] = [r for r in caplog.records if r.name == "academy.core.health"]
    assert "redis" in record.getMessage() and record.exc_info is not None
    assert record.request_id == "probe-7"


@pytest.mark.no_db
def test_readyz_is_503_when_the_database_is_unreachable(app, tmp_path):
    port = closed_port()
    unreachable = create_app(
        {
            **{key: app.config[key] for key in ("ACADEMY_ENV", "TESTING", "SECRET_KEY")},
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://academy:hunter2@127.0.0.1:{port}/x",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,
        }
    )
    response = unreachable.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "failed",
        "redis": "skipped",
        "storage": "ok",
    }
    body = response.get_data(as_text=True)
    assert "hunter2" not in body and str(port) not in body and "postgresql" not in body


def test_readyz_is_503_when_local_storage_cannot_be_written(client, app, monkeypatch, tmp_path):
    in_the_way = tmp_path / "a-file-not-a-folder"
    in_the_way.write_text("")
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(in_the_way))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == "failed"


def test_readyz_leaves_no_probe_file_behind(client, app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(tmp_path / "new" / "storage"))
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"
    assert list((tmp_path / "new" / "storage").iterdir()) == []


def test_readyz_checks_the_s3_bucket(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    with mock_aws():
        assert client.get("/readyz").get_json()["checks"]["storage"] == "failed"  # no bucket
        boto3.client("s3", region_name=app.config["S3_REGION"]).create_bucket(
            Bucket=app.config["S3_BUCKET"],
            CreateBucketConfiguration={"LocationConstraint": app.config["S3_REGION"]},
        )
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["storage"] == "ok"


# --- request ids and logs ---------------------------------------------------------------------


def test_a_request_id_from_the_caller_is_returned(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-2f9c.7_A-1"})
    assert response.headers["X-Request-ID"] == "lb-2f9c.7_A-1"


@pytest.mark.parametrize(
    "given",
    [None, "", "x" * 65, "has space", "tab\there", "../etc/passwd", '{"json":1}', "ü-nicode"],
)
def test_a_missing_or_implausible_request_id_is_replaced_with_a_new_one(client, given):
    headers = {} if given is None else {"X-Request-ID": given}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_log_records_made_during_a_request_carry_its_id(client, app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/readyz")
    [record] = [r for r in caplog.records if r.name == "academy.core.health"]
    assert record.request_id == response.headers["X-Request-ID"]
    logging.getLogger("tests.after").warning("outside any request")
    assert caplog.records[-1].request_id is None


def test_json_log_lines_parse_and_carry_the_request_id_and_exception():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    logger = logging.getLogger("tests.json_lines")
    logger.addHandler(handler)
    try:
        with logs.request_id_context("req-json-1"):
            logger.warning("quota at %d%%", 90)
            try:
                raise ValueError('bad "value"\nsecond line')
            except ValueError:
                logger.exception("it broke")
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "quota at 90%" and first["level"] == "WARNING"
    assert first["logger"] == "tests.json_lines" and first["request_id"] == "req-json-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["level"] == "ERROR" and 'ValueError: bad "value"' in second["exception"]
    assert "exception" not in first
    assert third["request_id"] is None


def test_text_log_lines_show_the_request_id():
    record = logging.LogRecord("academy.x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "r-9"
    assert "[r-9] hello" in logs.formatter("text").format(record)


def test_log_format_is_json_or_text():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.formatter("xml")


# --- request ids reach jobs -------------------------------------------------------------------


def test_an_in_process_job_logs_under_the_id_of_the_request_that_queued_it(ctx, caplog):
    caplog.set_level(logging.INFO, logger=JOB_LOGGER)
    with logs.request_id_context("req-queued-it"):
        jobs.enqueue("tests.log_from_a_job", "hello")
        db.session.commit()
    # Run later, from elsewhere (a CLI command's end, another request's hook).
    with logs.request_id_context("someone-else"):
        assert jobs.run_ready() == 1
    [record] = job_records(caplog)
    assert record.getMessage() == "job says hello"
    assert record.request_id == "req-queued-it"


def test_a_request_that_queues_a_job_passes_its_id_on(app, client, make, caplog):
    """Through HTTP: the job a request queues (here the email a password reset sends) logs
    under the id the caller sent."""
    caplog.set_level(logging.INFO)
    user = make.user("learner")
    original = jobs.JOBS["deliver_email"]

    def delivering(message_id):
        logging.getLogger(JOB_LOGGER).info("delivering %s", message_id)
        return original(message_id)

    jobs.JOBS["deliver_email"] = delivering
    try:
        response = client.post(
            "/forgot-password",
            data={"email": user.email},
            headers={"X-Request-ID": "reset-req-1"},
        )
    finally:
        jobs.JOBS["deliver_email"] = original
    assert response.status_code in (200, 302)
    [record] = job_records(caplog)
    assert record.request_id == "reset-req-1"


@pytest.fixture
def redis_queue(app, monkeypatch):
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as error:
        pytest.fail(f"This test needs Redis at {REDIS_URL} (set TEST_REDIS_URL): {error}")
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    yield Queue(jobs.QUEUE_NAME, connection=connection)
    connection.flushdb()
    connection.close()


@pytest.mark.no_db
def test_an_rq_job_logs_under_the_id_of_the_request_that_queued_it(app, redis_queue, caplog):
    caplog.set_level(logging.INFO, logger=JOB_LOGGER)
    with app.test_request_context(), logs.request_id_context("req-to-redis"):
        jobs.enqueue("tests.log_from_a_job", "from redis")
        db.session.commit()
        db.session.remove()
    [queued] = redis_queue.get_jobs()
    assert queued.args == ("tests.log_from_a_job", "from redis")  # the job itself is unchanged
    assert queued.meta == {"request_id": "req-to-redis"}

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert worker.build(app).work(burst=True) is True
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    [record] = job_records(caplog)
    assert record.getMessage() == "job says from redis"
    assert record.request_id == "req-to-redis"


# --- metrics ----------------------------------------------------------------------------------


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one sample in a text exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_show_request_latency_by_endpoint_and_emails_pending(client, make, app):
    user = make.user("learner")
    send_email(user.email, "Hello", "password_reset", user=user, link="https://academy.test/x")
    db.session.commit()
    jobs.discard_ready()  # not sent yet: as when the worker is behind
    client.get("/healthz")
    client.get("/no-such-page-4242")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    assert sample(
        text,
        "academy_http_request_duration_seconds_count",
        endpoint="core.healthz",
        method="GET",
        status="2xx",
    )
    # A raw path never becomes a label: unmatched requests share one series.
    assert "no-such-page-4242" not in text
    assert sample(text, "academy_http_request_duration_seconds_count", endpoint="unmatched")
    assert sample(text, "academy_outbox_messages", status="pending") == 1.0
    assert sample(text, "academy_outbox_messages", status="failed") == 0.0
    assert sample(text, "academy_job_queue_depth") == 0.0


def test_metrics_count_the_redis_queue_when_there_is_one(client, app, redis_queue):
    redis_queue.enqueue(jobs.perform, "tests.log_from_a_job", "waiting")
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "academy_job_queue_depth") == 1.0


@pytest.mark.parametrize(
    "address", ["203.0.113.5", "2001:db8::1", "8.8.8.8", "172.32.0.1", "::ffff:8.8.8.8"]
)
def test_metrics_are_refused_to_a_public_address_without_the_token(client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 403
    assert "academy_" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.20.0.4", "192.168.0.9", "::1", "fd00::5", "::ffff:10.0.0.7"],
)
def test_metrics_answer_loopback_and_private_addresses_when_no_token_is_set(client, address):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200


def test_with_a_token_set_metrics_need_it_from_everywhere(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me-please")
    local = {"REMOTE_ADDR": "127.0.0.1"}
    public = {"REMOTE_ADDR": "203.0.113.5"}
    assert client.get("/metrics", environ_base=local).status_code == 403
    wrong = {"Authorization": "Bearer scrape-me-not"}
    assert client.get("/metrics", environ_base=public, headers=wrong).status_code == 403
    right = {"Authorization": "Bearer scrape-me-please"}
    assert client.get("/metrics", environ_base=public, headers=right).status_code == 200


@pytest.mark.no_db
def test_multiprocess_mode_adds_up_what_every_worker_process_counted(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, two processes each answer a request and a third scrapes:
    it reports both (as gunicorn workers would)."""
    script = textwrap.dedent(
        f"""
        import sys
        from academy import create_app
        app = create_app({{
            "ACADEMY_ENV": "testing", "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///{tmp_path / "unused.db"}",
            "STORAGE_DIR": "{tmp_path / "storage"}", "RATELIMIT_STORAGE_URI": "memory://",
        }})
        client = app.test_client()
        if sys.argv[1] == "serve":
            client.get("/healthz")
        else:
            sys.stdout.write(client.get("/metrics").get_data(as_text=True))
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()

    def run(mode: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", script, mode],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    run("serve")
    run("serve")
    text = run("scrape")
    count = sample(
        text, "academy_http_request_duration_seconds_count", endpoint="core.healthz", status="2xx"
    )
    assert count == 2.0
