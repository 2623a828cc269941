"""Signing in and out, password links, and one's own account page."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from academy.auth import mfa, services, throttle
from academy.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    MarksSharingForm,
    NewPasswordForm,
    SignInForm,
)
from academy.auth.models import RoleAssignment
from academy.core import clock, security
from academy.core.errors import DomainError
from academy.core.forms import show_domain_error
from academy.extensions import db, limiter

bp = Blueprint("auth", __name__)

SIGN_IN_FAILED = "The email address or password is not right"


def login_rate_limit() -> str:
    # Read per request so operators (and tests) can change it without restarting.
    return current_app.config["LOGIN_RATE_LIMIT"]


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None, so `?next=` cannot send people away."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as a slash (`/\evil.example`) and drop tabs and newlines.
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# --- signing in and out --------------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    next_url = safe_next_url(request.args.get("next"))
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(next_url or url_for("auth.account"))
    form = SignInForm()
    if form.validate_on_submit():
        email, address = form.email.data, request.remote_addr
        wait = throttle.retry_after(email, address)
        if wait:
            # Refused before the password is looked at, in the same words for every address.
            throttle.note_refusal(email, address, wait, channel="web")
            db.session.commit()
            form.form_errors.append(throttle.message(wait))
            page = render_template("auth/login.html", form=form, next_url=next_url)
            return page, 429, {"Retry-After": str(wait)}
        user = services.authenticate(email, form.password.data, complete=False)
        if user is None:
            throttle.record_failure(email, address)
            db.session.commit()  # keeps the audit and the count of the failure
            # One message for an unknown email, a wrong password or a deactivated account.
            form.password.errors = [SIGN_IN_FAILED]
        elif mfa.is_enrolled(user) or mfa.must_enrol(user):
            db.session.commit()
            from academy.auth.mfa_views import begin_second_step

            return begin_second_step(user, next_url)
        else:
            services.record_login(user, channel="web")
            throttle.clear(email)
            db.session.commit()
            security.start_session(user)
            return redirect(next_url or url_for("auth.account"))
    return render_template("auth/login.html", form=form, next_url=next_url)


@bp.route("/sign-out", methods=["GET", "POST"])
def logout():
    # GET only offers a button: signing out changes state, so it needs a POST with a CSRF token.
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return render_template("auth/sign_out.html")
    if current_user.is_authenticated:
        services.record_logout(current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out", "success")
    return redirect(url_for("auth.login"))


# --- forgotten passwords and invitations ---------------------------------------------------------


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        # The same page whether or not the account exists, so it reveals nothing.
        return render_template("auth/forgot_password_sent.html", email=form.email.data.strip())
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _password_from_link(token, "reset", "auth/reset_password.html")


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    return _password_from_link(token, "invite", "auth/set_password.html")


def _password_from_link(token: str, purpose: str, template: str):
    try:
        user = services.user_for_password_token(token, purpose)
    except DomainError as error:
        body = render_template("auth/link_not_valid.html", message=error.message, purpose=purpose)
        return _without_referrer(make_response(body, 400))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.complete_password_token(token, purpose, form.password.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(
                "Your password has been set. Sign in with your email address and new password."
                if purpose == "invite"
                else "Your password has been reset. Sign in with your new password.",
                "success",
            )
            return redirect(url_for("auth.login"))
    return _without_referrer(make_response(render_template(template, form=form, user=user)))


def _without_referrer(response):
    # The token is in this page's address; never pass it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- your account --------------------------------------------------------------------------------


def role_status(assignment: RoleAssignment, today: date) -> str:
    if assignment.is_current(today):
        return "current"
    if assignment.ended_at is None and assignment.valid_from > today:
        return "future"
    return "ended"


@bp.get("/account")
@login_required
def account():
    user = current_user._get_current_object()
    today = clock.today()
    roles = [(assignment, role_status(assignment, today)) for assignment in user.roles]
    # Current roles first, then those still to start, then history; newest first within each.
    order = {"current": 0, "future": 1, "ended": 2}
    roles.sort(key=lambda pair: (order[pair[1]], -pair[0].valid_from.toordinal(), -pair[0].id))
    from academy.cohorts.policy import is_enrolled

    return render_template(
        "auth/account.html", user=user, roles=roles, is_learner=is_enrolled(user)
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(login_rate_limit, methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user._get_current_object(), form.current_password.data, form.password.data
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            # The new password ended every other session; this one, just re-authenticated, stays.
            security.keep_this_session(current_user._get_current_object())
            flash(
                "Your password has been changed and you have been signed out on other devices",
                "success",
            )
            return redirect(url_for("auth.account"))
    return render_template("auth/change_password.html", form=form)


def _sponsoring_organisations(user) -> list:
    from academy.cohorts.models import Enrolment
    from academy.organisations.models import Organisation

    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.id.in_(
                    sa.select(Enrolment.sponsor_organisation_id).where(Enrolment.user_id == user.id)
                )
            )
            .order_by(Organisation.name)
        )
    )


@bp.route("/account/sharing", methods=["GET", "POST"])
@login_required
def marks_sharing():
    """The learner's own choice to show their marks and feedback to their sponsors. Takes
    effect at once, and is audited."""
    user = current_user._get_current_object()
    form = MarksSharingForm()
    if request.method == "GET":
        form.share.data = "yes" if user.shares_marks_with_sponsor else "no"
    if form.validate_on_submit():
        services.set_marks_consent(user, form.share.data == "yes", actor=user)
        db.session.commit()
        flash(
            "Your sponsors can now see your marks and feedback"
            if user.shares_marks_with_sponsor
            else "Your sponsors now see only whether you passed and your credits",
            "success",
        )
        return redirect(url_for("auth.account"))
    return render_template(
        "auth/marks_sharing.html", form=form, sponsors=_sponsoring_organisations(user)
    ), (422 if form.errors else 200)
