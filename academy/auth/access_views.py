"""One's own ways in: API tokens (made, scoped and revoked here) and "sign out everywhere"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user

from academy.auth import services
from academy.auth.forms import NewTokenForm, SignOutEverywhereForm
from academy.auth.models import ApiToken
from academy.core.forms import save_or_show
from academy.extensions import db

bp = Blueprint("account_access", __name__, url_prefix="/account")


def _token_page(form: NewTokenForm, *, secret: str | None = None, made: ApiToken | None = None):
    user = current_user._get_current_object()
    response = render_template(
        "auth/tokens.html",
        form=form,
        tokens=services.live_tokens(user),
        secret=secret,
        made=made,
        scope_labels=services.TOKEN_SCOPES,
    )
    status = 422 if form.errors else 200
    # A page that shows a secret must not be kept by the browser or any cache on the way.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
@login_required
def tokens():
    return _token_page(NewTokenForm())


@bp.post("/tokens")
@login_required
def new_token():
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _token_page(form)
    issued = save_or_show(
        form,
        lambda: services.issue_token(
            current_user._get_current_object(),
            label=form.label.data,
            days=int(form.days.data),
            scopes=["read", "write"] if form.write.data else ["read"],
        ),
    )
    if issued is None:
        return _token_page(form)
    token, secret = issued
    # Shown on this response only, never in a redirect's flash, which the session cookie carries.
    return _token_page(NewTokenForm(formdata=None), secret=secret, made=token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    services.revoke_token(token, actor=current_user._get_current_object())
    db.session.commit()
    flash(f"The token “{token.label}” has been revoked", "success")
    return redirect(url_for(".tokens"))


@bp.route("/sign-out-everywhere", methods=["GET", "POST"])
@login_required
def sign_out_everywhere():
    form = SignOutEverywhereForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        services.sign_out_everywhere(user, actor=user, revoke_tokens=form.revoke_tokens.data)
        db.session.commit()
        logout_user()
        session.clear()
        flash("You have been signed out on every device, this one included", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/sign_out_everywhere.html", form=form)
