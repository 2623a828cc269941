"""Service-wide pages: the start page, statements, health, readiness and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST

from academy.core import health, metrics
from academy.core.navigation import navigation_items
from academy.extensions import limiter

bp = Blueprint("core", __name__)


@bp.app_context_processor
def layout_helpers():
    return {"navigation_items": navigation_items}


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Process is up. Touches no database: it is also the ceiling benchmarks compare pages with."""
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Ready for traffic: the database, Redis (when configured) and storage answer. 503 names
    the check that failed, and nothing else (the reason is in the log)."""
    ready, checks = health.readiness()
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
@limiter.exempt
def metrics_exposition():
    """Prometheus metrics, for a METRICS_TOKEN bearer or, with no token set, a local address."""
    if not metrics.may_scrape():
        return Response("Forbidden\n", status=403, mimetype="text/plain")
    return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    return render_template("core/index.html")


@bp.get("/accessibility")
def accessibility():
    return render_template("core/accessibility.html")


@bp.get("/privacy")
def privacy():
    return render_template("core/privacy.html")
