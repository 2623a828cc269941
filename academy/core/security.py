"""Response headers that limit what a page may load, and the lifetime of staff sessions."""

from __future__ import annotations

import secrets

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from academy.core import clock

STAFF_ROLES = ("admin", "tutor", "sponsor", "examiner")

# Pages load only our own files; the one inline script allowed is the NHS.UK template's, by nonce.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON, files and downloads are data, never documents: nothing in them may load or run, nor may
# they be framed, even where a browser is persuaded to render one.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN = "last_seen"
SESSION_EPOCH = "epoch"
# Last-seen is only rewritten when it has moved this far, so most responses leave the cookie alone.
LAST_SEEN_STEP_SECONDS = 60


def csp_nonce() -> str:
    """This request's script nonce, made on first use so every template render shares it."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def start_session(user) -> None:
    """Sign `user` in on a fresh session, so nothing set before sign-in (fixation) carries over."""
    session.clear()
    login_user(user)
    moment = int(clock.now().timestamp())
    session[SIGNED_IN_AT] = moment
    session[LAST_SEEN] = moment
    session[SESSION_EPOCH] = user.session_epoch


def keep_this_session(user) -> None:
    """After the user moved their own session epoch on (a password change), carry the session
    they did it from into the new epoch, so only their other devices are signed out."""
    session[SESSION_EPOCH] = user.session_epoch


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"cspNonce": csp_nonce()})
    app.before_request(_end_session_from_old_epoch)
    app.before_request(_expire_staff_session)
    app.after_request(_security_headers)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_POLICY.format(nonce=csp_nonce()))
    else:
        headers.setdefault("Content-Security-Policy", DATA_POLICY)
    return response


def _end_session_from_old_epoch():
    """Sign out a session begun before the user's last "sign out everywhere" (or password reset,
    or erasure): the cookie is signed, not stored, so the epoch is how a server ends it."""
    if request.endpoint == "static" or request.path.startswith("/api/v1/"):
        return None
    if "_user_id" not in session or not current_user.is_authenticated:
        return None
    if session.get(SESSION_EPOCH, 0) == current_user.session_epoch:
        return None
    logout_user()
    session.clear()
    flash("You have been signed out on this device. Sign in again to carry on.", "info")
    return redirect(url_for("auth.login"))


def _expire_staff_session():
    """Sign staff out after STAFF_IDLE_MINUTES without a request or STAFF_SESSION_HOURS after
    sign-in, whichever comes first: their pages reach many learners' records. Learners keep the
    ordinary session lifetime."""
    # Signing in starts a fresh session anyway; the API authenticates by token, not session.
    if request.endpoint in ("static", "auth.login") or request.path.startswith("/api/v1/"):
        return None
    if "_user_id" not in session or not current_user.is_authenticated:
        return None
    now = int(clock.now().timestamp())
    signed_in_at = session.setdefault(SIGNED_IN_AT, now)
    last_seen = session.get(LAST_SEEN, now)
    if current_user.has_role(*STAFF_ROLES):
        idle_limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
        absolute_limit = current_app.config["STAFF_SESSION_HOURS"] * 3600
        if now - last_seen > idle_limit or now - signed_in_at > absolute_limit:
            logout_user()
            session.clear()
            flash("Your session has expired. Sign in again to carry on.", "info")
            back_to = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("auth.login", next=back_to))
    if now - last_seen >= LAST_SEEN_STEP_SECONDS or LAST_SEEN not in session:
        session[LAST_SEEN] = now
    return None
