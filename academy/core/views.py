"""Service-wide pages: the start page, statements and health."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

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
