"""gunicorn's settings for Academy; gunicorn reads this file from the folder it starts in.

    gunicorn wsgi:app

Every value can be changed by environment variable (below) or on the command line, which wins:
- BIND (e.g. 0.0.0.0:8000), or PORT (binds 0.0.0.0:$PORT, as container platforms expect);
  neither: 127.0.0.1:8000.
- WEB_CONCURRENCY: worker processes; default (2 x CPU cores) + 1.
- GUNICORN_THREADS (4), GUNICORN_TIMEOUT (30 s), GUNICORN_GRACEFUL_TIMEOUT (30 s),
  GUNICORN_KEEPALIVE (5 s).
- PROMETHEUS_MULTIPROC_DIR: where workers keep their metrics (academy.core.metrics); emptied when
  gunicorn starts.
- FORWARDED_ALLOW_IPS: unset, gunicorn believes no X-Forwarded-* header itself; the app's
  PROXY_FIX_* settings decide (academy/config.py).
Access log lines are JSON on stdout; gunicorn's own messages go to stderr.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def default_workers() -> int:
    """(2 x cores) + 1: enough to keep every core busy while others wait on the database."""
    return _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)


def default_bind() -> str:
    if os.environ.get("BIND"):
        return os.environ["BIND"]
    if os.environ.get("PORT"):
        return f"0.0.0.0:{os.environ['PORT']}"
    return "127.0.0.1:8000"


bind = [default_bind()]
workers = default_workers()
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# The app is built in each worker, after the fork: no database connections or threads are
# shared between processes, and a restart (HUP) loads new code.
preload_app = False
# The heartbeat file workers touch every few seconds: on a RAM disk, a slow or full disk cannot
# make gunicorn think they hung.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - a RAM disk
# Proxy headers are trusted through PROXY_FIX_* in the app alone, so there is one setting to
# get right; gunicorn's own (X-Forwarded-Proto from 127.0.0.1) would bypass it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
accesslog = "-"
errorlog = "-"


class JsonAccessLogger(Logger):
    """One JSON object per request on the access log; values are escaped, where gunicorn's
    access_log_format would paste a user agent's quotes into the line."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            json.dumps(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "logger": "gunicorn.access",
                    "remote_addr": atoms["h"],
                    "method": atoms["m"],
                    "path": atoms["U"],
                    "status": atoms["s"],
                    "bytes": atoms["B"],
                    "duration_ms": atoms["M"],
                    "user_agent": atoms["a"],
                    "request_id": atoms.get("{x-request-id}o"),
                }
            )
        )


logger_class = JsonAccessLogger


def on_starting(server):
    """Metrics files left by an earlier run would be added to this one's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    """A dead worker's gauges must not be added up with the live ones."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
