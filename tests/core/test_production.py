"""Running it for real: what production refuses, which proxy headers are believed, and the
gunicorn settings (read by gunicorn itself in the last test)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import request, url_for

from academy import create_app
from academy.config import PROJECT_ROOT, ConfigurationError
from tests.signing import TEST_SIGNING_KEY

pytestmark = pytest.mark.no_db

PRODUCTION = {
    "ACADEMY_ENV": "production",
    "SECRET_KEY": "s" * 64,
    "ACADEMY_SIGNING_KEY": TEST_SIGNING_KEY,
    "DATABASE_URL": "postgresql+psycopg://academy:hunter2@db.internal/academy",
    "ACADEMY_BASE_URL": "https://academy.example.nhs.uk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    # The limiter is one object shared by every app a test makes; the session's app must keep
    # a store it can reset between tests.
    "RATELIMIT_STORAGE_URI": "memory://",
}


@pytest.fixture
def production(monkeypatch):
    """Set a complete production environment; tests then break one part of it."""
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_a_complete_production_environment_starts(production):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["LOG_FORMAT"] == "json"


@pytest.mark.parametrize(
    "url", ["sqlite:////var/lib/academy/academy.db", "sqlite://", "mysql://u@h/academy"]
)
def test_production_refuses_a_database_other_than_postgresql(production, url):
    production.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigurationError, match="DATABASE_URL to be a PostgreSQL database"):
        create_app()


def test_production_takes_the_postgres_urls_hosting_platforms_print(production):
    production.setenv("DATABASE_URL", "postgres://u:p@db.example/academy")
    assert create_app().config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize("base_url", ["http://academy.example.nhs.uk", None])
def test_production_refuses_a_base_url_that_is_not_https(production, base_url):
    if base_url is None:
        production.delenv("ACADEMY_BASE_URL")  # the default is a laptop's http address
    else:
        production.setenv("ACADEMY_BASE_URL", base_url)
    with pytest.raises(ConfigurationError, match="ACADEMY_BASE_URL to be the site's public https"):
        create_app()


@pytest.mark.parametrize("redis_url", [None, ""])
def test_production_refuses_to_start_without_redis(production, redis_url):
    if redis_url is None:
        production.delenv("REDIS_URL")
    else:
        production.setenv("REDIS_URL", redis_url)
    with pytest.raises(ConfigurationError, match="needs REDIS_URL"):
        create_app()


def test_refusals_name_the_setting_but_never_echo_its_secret(production):
    production.setenv("DATABASE_URL", "sqlite:////srv/secret-path-hunter2.db")
    with pytest.raises(ConfigurationError) as refused:
        create_app()
    assert "hunter2" not in str(refused.value)


def test_development_still_runs_on_sqlite_over_http_without_redis(monkeypatch):
    for name in ("DATABASE_URL", "ACADEMY_BASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"ACADEMY_ENV": "development"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:")
    assert app.config["LOG_FORMAT"] == "text"


# --- trusted proxy headers -------------------------------------------------------------------


def probe_app(tmp_path, **overrides):
    """An app with a page that shows what it believes about the request."""
    app = create_app(
        {
            "ACADEMY_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-to-use",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.db'}",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "RATELIMIT_STORAGE_URI": "memory://",
            **overrides,
        }
    )

    @app.get("/probe")
    def probe():
        return {
            "remote_addr": request.remote_addr,
            "index": url_for("core.index", _external=True),
        }

    return app


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "academy.example.nhs.uk",
}


def test_proxy_headers_are_ignored_unless_configured(tmp_path):
    seen = probe_app(tmp_path).test_client().get("/probe", headers=FORWARDED).get_json()
    assert seen == {"remote_addr": "127.0.0.1", "index": "http://localhost/"}


def test_configured_proxy_headers_give_the_client_address_and_https_links(tmp_path):
    app = probe_app(tmp_path, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=1)
    seen = app.test_client().get("/probe", headers=FORWARDED).get_json()
    assert seen == {"remote_addr": "203.0.113.9", "index": "https://academy.example.nhs.uk/"}


def test_only_as_many_forwarded_addresses_as_proxies_are_believed(tmp_path):
    """A client can prepend its own X-Forwarded-For; with one proxy only the address that proxy
    appended (the last) counts."""
    app = probe_app(tmp_path, PROXY_FIX_X_FOR=1)
    seen = (
        app.test_client()
        .get("/probe", headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"})
        .get_json()
    )
    assert seen["remote_addr"] == "198.51.100.7"
    assert seen["index"].startswith("http://")  # X-Forwarded-Proto not trusted: not configured


def test_proxy_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PROXY_FIX_X_FOR", "2")
    monkeypatch.setenv("PROXY_FIX_X_PROTO", "1")
    app = probe_app(tmp_path)
    assert (app.config["PROXY_FIX_X_FOR"], app.config["PROXY_FIX_X_PROTO"]) == (2, 1)
    assert app.config["PROXY_FIX_X_HOST"] == app.config["PROXY_FIX_X_PREFIX"] == 0
    monkeypatch.setenv("PROXY_FIX_X_FOR", "yes")
    with pytest.raises(ConfigurationError, match="PROXY_FIX_X_FOR must be a whole number"):
        probe_app(tmp_path)


# --- gunicorn ---------------------------------------------------------------------------------

GUNICORN_CONF = PROJECT_ROOT / "gunicorn.conf.py"


def load_gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", GUNICORN_CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_workers_come_from_the_cores_unless_web_concurrency_says(monkeypatch):
    for name in ("WEB_CONCURRENCY", "BIND", "PORT", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    conf = load_gunicorn_conf()
    assert conf.workers == 2 * os.cpu_count() + 1
    assert conf.bind == ["127.0.0.1:8000"]
    assert conf.threads == 4 and conf.timeout == 30 and conf.preload_app is False
    ram_disk = Path("/dev/shm")  # noqa: S108 - where gunicorn's heartbeat files belong
    assert conf.worker_tmp_dir == (str(ram_disk) if ram_disk.is_dir() else None)
    assert conf.accesslog == "-"

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "8080")
    conf = load_gunicorn_conf()
    assert conf.workers == 3 and conf.bind == ["0.0.0.0:8080"]
    monkeypatch.setenv("BIND", "unix:/run/academy.sock")
    assert load_gunicorn_conf().bind == ["unix:/run/academy.sock"]


def test_gunicorn_access_log_lines_are_json(capsys):
    from gunicorn.config import Config

    conf = load_gunicorn_conf()
    config = Config()
    config.set("accesslog", "-")
    logger = conf.JsonAccessLogger(config)
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "abc123")], sent=42)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/healthz",
        "PATH_INFO": "/healthz",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.5",
        "HTTP_USER_AGENT": 'probe "quoted" agent',
    }
    from datetime import timedelta

    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["path"] == "/healthz" and line["status"] == "200"
    assert line["request_id"] == "abc123" and line["user_agent"] == 'probe "quoted" agent'
    assert line["duration_ms"] == 12


def test_gunicorn_clears_old_metrics_at_start_and_drops_dead_workers(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = load_gunicorn_conf()
    (tmp_path / "histogram_99.db").write_bytes(b"from the last run")
    conf.on_starting(server=None)
    assert list(tmp_path.iterdir()) == []
    # A live gauge of a worker that has died would otherwise be summed with the live ones.
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "gauge_livesum_4243.db").write_bytes(b"")
    conf.child_exit(server=None, worker=SimpleNamespace(pid=4242))
    assert [path.name for path in tmp_path.iterdir()] == ["gauge_livesum_4243.db"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_runs_the_app_with_this_configuration(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "ACADEMY_ENV": "development",
        "ACADEMY_INSTANCE_DIR": str(tmp_path / "instance"),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
    }
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                request_ = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "gunicorn-1"}
                )
                with urllib.request.urlopen(request_, timeout=1) as response:  # noqa: S310
                    assert response.headers["X-Request-ID"] == "gunicorn-1"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    access = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert {"path": "/healthz", "request_id": "gunicorn-1"}.items() <= access[-1].items()
    assert "Booting worker" in err.decode()
