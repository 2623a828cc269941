"""Gates for the HTML pages: who may open a whole section, and who may use one page of it.

The predicates are the domain policy modules' (`can_manage_users(user)`, ...); these helpers only
turn their answers into the same responses everywhere: anonymous visitors are sent to sign in,
signed-in people who may not are refused with 403.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort
from flask_login import current_user

from academy.extensions import login_manager


def guard(bp: Blueprint, allowed: Callable[..., bool] | None = None) -> None:
    """Gate every page of `bp`: sign-in first, then `allowed(current_user)` (when given) or 403."""

    @bp.before_request
    def require_access():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if allowed is not None and not allowed(current_user):
            abort(403)
        return None


def require(allowed: Callable[..., bool], *args) -> None:
    """403 unless `allowed(current_user, *args)`: a page's own check, after its section's gate."""
    if not allowed(current_user, *args):
        abort(403)
