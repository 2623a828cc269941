"""The second sign-in step, and setting up, renewing and turning off two-factor authentication.

After a correct password, an enrolled user (or one whose role requires a second factor) is not
signed in: the session holds only who passed the password step and when, for PENDING_SECONDS,
and lets them reach nothing but the code page (or, if they must enrol first, the set-up page).
The session proper starts only once the second factor is good.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from academy.auth import mfa, services, throttle
from academy.auth.forms import SecondFactorForm
from academy.auth.models import User
from academy.auth.views import login_rate_limit
from academy.core import clock, security
from academy.extensions import db, limiter

bp = Blueprint("mfa", __name__)

#: Who passed the password step, when, and where they were going: nothing else before sign-in.
PENDING = "mfa_pending"
PENDING_SECONDS = 5 * 60
#: The secret being enrolled, encrypted (the session cookie is signed, not secret).
ENROLMENT = "mfa_enrolment"
#: Reachable while a sign-in waits for its second factor.
PENDING_ENDPOINTS = {"static", "mfa.verify", "mfa.set_up", "auth.login", "auth.logout"}
TIMED_OUT = "You took too long to enter your code. Sign in again."


# --- the pending sign-in -------------------------------------------------------------------------


def begin_second_step(user: User, next_url: str | None):
    """After a correct password: remember only who and when, and ask for the second factor (or,
    if their role needs one they have not set up, for setting it up)."""
    session.clear()  # nothing from before sign-in carries over (fixation)
    session[PENDING] = {
        "user_id": user.id,
        "at": int(clock.now().timestamp()),
        "next": next_url,
    }
    return redirect(url_for("mfa.set_up" if mfa.must_enrol(user) else "mfa.verify"))


def _pending() -> dict | None:
    data = session.get(PENDING)
    if not isinstance(data, dict):
        return None
    age = int(clock.now().timestamp()) - int(data.get("at", 0))
    if not 0 <= age <= PENDING_SECONDS:
        session.pop(PENDING, None)
        session.pop(ENROLMENT, None)
        return None
    return data


def _pending_user() -> User | None:
    data = _pending()
    user = db.session.get(User, data.get("user_id")) if data else None
    return user if user is not None and user.active else None


def _timed_out():
    session.pop(PENDING, None)
    session.pop(ENROLMENT, None)
    flash(TIMED_OUT, "info")
    return redirect(url_for("auth.login"))


def _finish_sign_in(user: User, second_factor: str) -> str:
    """Record the complete sign-in, commit, and start the session; where to go next."""
    next_url = (_pending() or {}).get("next")
    services.record_login(user, channel="web", second_factor=second_factor)
    throttle.clear(user.email)
    db.session.commit()
    security.start_session(user)
    return next_url or url_for("auth.account")


@bp.before_app_request
def _confine_pending_sign_in():
    """A sign-in waiting for its second factor reaches only the pages that complete it."""
    if PENDING not in session or request.endpoint in PENDING_ENDPOINTS:
        return None
    if request.path.startswith("/api/"):
        return None  # the API never reads the session
    user = _pending_user()
    if user is None:
        return _timed_out()
    return redirect(url_for("mfa.set_up" if mfa.must_enrol(user) else "mfa.verify"))


# --- checking a code through the throttle --------------------------------------------------------


def _code_accepted(user: User, form: SecondFactorForm):
    """Check the form's code, counting a wrong one against the throttle; the factor used, or
    None with the form's error set (and committed, so the failure stays counted). A locked
    account or address is refused without looking at the code; then `form.retry_after` is set."""
    address = request.remote_addr
    form.retry_after = throttle.retry_after(user.email, address)
    if form.retry_after:
        throttle.note_refusal(user.email, address, form.retry_after, channel="web")
        db.session.commit()
        form.form_errors.append(throttle.message(form.retry_after))
        return None
    factor = mfa.check_code(user, form.code.data)
    if factor is None:
        throttle.record_failure(user.email, address)
        db.session.commit()
        form.code.errors = [mfa.WRONG_CODE]
    return factor


def _render(template: str, form: SecondFactorForm, **context):
    wait = form.retry_after
    response = make_response(render_template(template, form=form, **context), 429 if wait else 200)
    if wait:
        response.headers["Retry-After"] = str(wait)
    # Set-up pages show the secret: no browser or cache on the way may keep them.
    response.headers["Cache-Control"] = "no-store"
    return response


def _recovery_codes_page(codes: list[str], next_url: str):
    """The only time the codes are shown: on this response, never in a redirect or flash."""
    page = render_template("auth/mfa_recovery_codes.html", codes=codes, next_url=next_url)
    return page, 200, {"Cache-Control": "no-store"}


# --- the second step of signing in ---------------------------------------------------------------


@bp.route("/sign-in/verify", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def verify():
    user = _pending_user()
    if user is None:
        return _timed_out()
    if not mfa.is_enrolled(user):
        return redirect(url_for("mfa.set_up"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        factor = _code_accepted(user, form)
        if factor is not None:
            next_url = _finish_sign_in(user, factor)
            if factor == "recovery":
                left = mfa.unused_recovery_codes(user)
                flash(
                    f"You signed in with a recovery code; it cannot be used again. You have "
                    f"{left} left. Make new ones from your account if you are running low.",
                    "info",
                )
            return redirect(next_url)
    return _render("auth/mfa_verify.html", form)


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def set_up():
    """Enrolment the user's role requires before they may sign in at all."""
    user = _pending_user()
    if user is None:
        return _timed_out()
    if mfa.is_enrolled(user):
        return redirect(url_for("mfa.verify"))
    form = SecondFactorForm(accept_recovery=False)
    secret = _enrolment_secret(user)
    if form.validate_on_submit() and (codes := _enrol(user, secret, form)) is not None:
        return _recovery_codes_page(codes, _finish_sign_in(user, "totp"))
    return _render("auth/mfa_set_up.html", form, **_enrolment_context(user, secret), forced=True)


def _enrol(user: User, secret: str, form: SecondFactorForm) -> list[str] | None:
    """Enrol with the form's code; the new recovery codes, or None with the form's error set."""
    codes = mfa.enrol(user, secret, form.code.data)
    if codes is None:
        form.code.errors = [mfa.WRONG_CODE]
    return codes


def _enrolment_secret(user: User) -> str:
    """The secret this user is enrolling, kept across page loads so the QR code they scanned
    stays the one their code is checked against."""
    held = session.get(ENROLMENT)
    if isinstance(held, dict) and held.get("user_id") == user.id:
        secret = mfa.decrypt_secret(held.get("secret", ""))
        if secret:
            return secret
    secret = mfa.new_secret()
    session[ENROLMENT] = {"user_id": user.id, "secret": mfa.encrypt_secret(secret)}
    return secret


def _enrolment_context(user: User, secret: str) -> dict:
    return {
        "qr_code": mfa.qr_code_data_uri(mfa.provisioning_uri(user, secret)),
        "secret": mfa.spaced(secret),
        "user": user,
    }


# --- managing one's own second factor ------------------------------------------------------------


@bp.route("/account/mfa", methods=["GET", "POST"])
@login_required
def manage():
    user = current_user._get_current_object()
    if mfa.is_enrolled(user):
        return render_template(
            "auth/mfa_manage.html",
            user=user,
            recovery_left=mfa.unused_recovery_codes(user),
            required=mfa.required_for(user),
        )
    form = SecondFactorForm(accept_recovery=False)
    secret = _enrolment_secret(user)
    if form.validate_on_submit() and (codes := _enrol(user, secret, form)) is not None:
        db.session.commit()
        session.pop(ENROLMENT, None)
        return _recovery_codes_page(codes, url_for("mfa.manage"))
    return _render("auth/mfa_set_up.html", form, **_enrolment_context(user, secret), forced=False)


@bp.route("/account/mfa/recovery-codes", methods=["GET", "POST"])
@login_required
@limiter.limit(login_rate_limit, methods=["POST"])
def regenerate():
    user = current_user._get_current_object()
    if not mfa.is_enrolled(user):
        return redirect(url_for("mfa.manage"))
    form = SecondFactorForm()
    if form.validate_on_submit() and _code_accepted(user, form):
        codes = mfa.regenerate_recovery_codes(user)
        db.session.commit()
        return _recovery_codes_page(codes, url_for("mfa.manage"))
    return _render("auth/mfa_confirm.html", form, action="regenerate")


@bp.route("/account/mfa/turn-off", methods=["GET", "POST"])
@login_required
@limiter.limit(login_rate_limit, methods=["POST"])
def disable():
    user = current_user._get_current_object()
    if not mfa.is_enrolled(user):
        return redirect(url_for("mfa.manage"))
    if mfa.required_for(user):
        abort(403, description="Your role requires two-factor authentication, so it stays on.")
    form = SecondFactorForm()
    if form.validate_on_submit() and _code_accepted(user, form):
        mfa.disable(user)
        db.session.commit()
        flash("Two-factor authentication is off. You sign in with your password alone.", "success")
        return redirect(url_for("auth.account"))
    return _render("auth/mfa_confirm.html", form, action="disable")
