"""Prometheus metrics at GET /metrics: request latency, job queue depth and emails waiting.

- `academy_http_request_duration_seconds{endpoint, method, status}`: a histogram labelled by
  the route's endpoint name (never the raw path, whose ids would make a series per object),
  the method and the status class (`2xx`...).
- `academy_job_queue_depth`: jobs waiting on the RQ queue with Redis; without it, jobs ready to
  run in this process.
- `academy_outbox_messages{status}`: emails pending, being sent and failed, counted when scraped.

Under gunicorn with several worker processes each holds its own counters; set
PROMETHEUS_MULTIPROC_DIR to an empty directory writable by the workers and prometheus_client
keeps them in files there and adds them up at each scrape (gunicorn.conf.py empties it at start
and marks dead workers).

Who may scrape: with METRICS_TOKEN set, whoever sends `Authorization: Bearer <token>`, from any
address; without it, only loopback and private addresses. Behind a load balancer every request
comes from its private address unless PROXY_FIX_X_FOR is set, so set one or the other there.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Flask, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

#: Anything else a client sends is counted as "other", so it cannot add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OUTBOX_STATUSES = ("pending", "sending", "failed")
#: Loopback and the private ranges (RFC 1918, IPv6 unique local). Not ipaddress's `is_private`,
#: which also counts the documentation and other reserved ranges.
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    )
)

REQUEST_SECONDS = Histogram(
    "academy_http_request_duration_seconds",
    "Time to answer a request, by route endpoint, method and status class.",
    ["endpoint", "method", "status"],
)


class _StateCollector:
    """Gauges read from the database and Redis when scraped, not kept per process."""

    def collect(self):
        depth = _queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "academy_job_queue_depth", "Background jobs waiting to run.", value=depth
            )
        counts = _outbox_counts()
        if counts is not None:
            emails = GaugeMetricFamily(
                "academy_outbox_messages", "Emails not yet sent, by status.", labels=["status"]
            )
            for status in OUTBOX_STATUSES:
                emails.add_metric([status], counts.get(status, 0))
            yield emails


_STATE = CollectorRegistry()
_STATE.register(_StateCollector())


def init_app(app: Flask) -> None:
    """Register before the other hooks, so the time covers them (and the in-process jobs run
    after the response is built, which the caller waits for too)."""
    app.before_request(_start_timer)
    app.after_request(_observe)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        REQUEST_SECONDS.labels(
            endpoint=request.endpoint or "unmatched",
            method=request.method if request.method in METHODS else "other",
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
    return response


def _queue_depth() -> int | None:
    from academy.core import jobs

    if not current_app.config.get("REDIS_URL"):
        return jobs.ready_count()
    from redis.exceptions import RedisError

    try:
        return jobs.queue().count
    except RedisError:
        log.warning("metrics: Redis did not answer; job queue depth left out", exc_info=True)
        return None


def _outbox_counts() -> dict[str, int] | None:
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    from academy.extensions import db
    from academy.notifications.models import OutboxMessage

    try:
        rows = db.session.execute(
            sa.select(OutboxMessage.status, sa.func.count())
            .where(OutboxMessage.status.in_(OUTBOX_STATUSES))
            .group_by(OutboxMessage.status)
        ).all()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("metrics: the database did not answer; outbox counts left out", exc_info=True)
        return None
    return {status: count for status, count in rows}


def may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in LOCAL_NETWORKS)


def exposition() -> bytes:
    """The text exposition of every metric: this process's (or, in multiprocess mode, every
    worker's, summed), then the gauges read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_STATE)
