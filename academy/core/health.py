"""Readiness: can this node serve requests now? The database answers, Redis answers (when
configured) and file storage can be written. A load balancer sends traffic only to nodes that
say yes; `/healthz` only says the process is up.

Each check answers "ok", "failed" or "skipped" (not configured). The reason for a failure goes to
the log, never into the answer, which anyone may fetch: error texts name hosts and URLs.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from academy.extensions import db

log = logging.getLogger(__name__)

#: Seconds a dependency has to answer before the node counts as not ready.
TIMEOUT = 2


def check_database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
    finally:
        db.session.rollback()
    return "ok"


def check_redis() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "skipped"
    from redis import Redis

    connection = Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        connection.ping()
    finally:
        connection.close()
    return "ok"


def check_storage() -> str:
    config = current_app.config
    if config["STORAGE_BACKEND"] == "s3":
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=config["S3_ENDPOINT_URL"],
            region_name=config["S3_REGION"],
            config=Config(
                connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1}
            ),
        )
        client.head_bucket(Bucket=config["S3_BUCKET"])
        return "ok"
    # As the first upload would, make the folder; then prove a file can be written in it.
    root = Path(config["STORAGE_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=root, prefix=".readyz-")
    os.close(fd)
    os.unlink(probe)
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def readiness() -> tuple[bool, dict[str, str]]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception:
            log.warning("readiness: the %s check failed", name, exc_info=True)
            results[name] = "failed"
    return all(result != "failed" for result in results.values()), results
