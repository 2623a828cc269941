"""/api/v1 tokens, the caller (`/me`), users and their role assignments."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, jsonify, request
from flask_smorest import Blueprint
from werkzeug.exceptions import TooManyRequests

from academy.auth import mfa, policy, services, throttle
from academy.auth.api_auth import api_user, public
from academy.auth.models import ApiToken, RoleAssignment, User
from academy.auth.schemas import (
    AdminUserSchema,
    MarksSharingSchema,
    MeSchema,
    RoleGrantSchema,
    RoleSchema,
    SignOutEverywhereResultSchema,
    SignOutEverywhereSchema,
    TokenInfoSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserListArgs,
    UserSchema,
    UserUpdateSchema,
)
from academy.core import clock
from academy.core.api import ID, documented_errors, requires, stale_version
from academy.core.errors import Conflict
from academy.core.pagination import PAGINATION_HEADERS, paginate
from academy.core.policy import is_admin
from academy.extensions import db, limiter

blp = Blueprint("auth_api", __name__, description="Tokens, the caller, users and roles")

USER_OUTPUT = (
    "Admins receive every field below; the user themself also gets their current `roles`; "
    "sponsors and tutors receive only id, email, name, organisation_id, "
    "professional_registration, staff_number and active."
)


MFA_NOT_SET_UP = (
    "Your role requires two-factor authentication, which is not set up for your account yet. "
    "Sign in on the website to set it up, then ask for a token with a code as `otp`."
)
MFA_CODE_NEEDED = (
    "This account uses two-factor authentication: send the code your authenticator app shows "
    "now (or a recovery code) as `otp`."
)
MFA_CODE_WRONG = "The `otp` code is not right, or it has been used already."


def _login_rate_limit() -> str:
    # The same budget as the HTML sign-in form, read per request so operators can tune it.
    return current_app.config["LOGIN_RATE_LIMIT"]


# --- tokens ------------------------------------------------------------------------------------


@blp.post("/auth/tokens")
@public  # directly under the route, so the function Flask registers carries the flag
@limiter.limit(
    _login_rate_limit, error_message="Too many sign-in attempts. Wait a minute and try again."
)
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@documented_errors(blp, 400, 401, 403, 429)
@blp.doc(security=[])
def create_token(data):
    """Exchange an email address and password for a bearer token (no token needed).

    The secret is in the answer only once; store it. Wrong credentials answer 401 whether or not
    the email address has an account. Accounts with two-factor authentication also send `otp`;
    after repeated failures, attempts are refused for a while (429 with Retry-After)."""
    email, address = data["email"], request.remote_addr
    wait = throttle.retry_after(email, address)
    if wait:
        throttle.note_refusal(email, address, wait, channel="api")
        db.session.commit()
        raise TooManyRequests(description=throttle.message(wait), retry_after=wait)
    user = services.authenticate(email, data["password"], channel="api", complete=False)
    if user is None:
        throttle.record_failure(email, address)
        db.session.commit()  # keep the audit and the count of the failed attempt
        abort(401, description="The email address or password is not right.")
    second_factor = None
    if mfa.must_enrol(user):
        db.session.commit()
        abort(403, description=MFA_NOT_SET_UP)
    if mfa.is_enrolled(user):
        if not data["otp"]:
            db.session.commit()
            abort(401, description=MFA_CODE_NEEDED)
        second_factor = mfa.check_code(user, data["otp"], channel="api")
        if second_factor is None:
            throttle.record_failure(email, address)
            db.session.commit()
            abort(401, description=MFA_CODE_WRONG)
    services.record_login(user, channel="api", second_factor=second_factor)
    throttle.clear(email)
    token, secret = services.issue_token(
        user, label=data["label"], scopes=data["scopes"], days=data["days"]
    )
    db.session.commit()
    return {"id": token.id, "token": secret, "expires_at": token.expires_at, "scopes": token.scopes}


@blp.get("/auth/tokens")
@blp.response(200, TokenInfoSchema(many=True))
@documented_errors(blp, 401)
def list_tokens():
    """Your tokens that still work, newest first: labels, scopes and when each was last used.
    Secrets are never stored, so they cannot be listed."""
    return services.live_tokens(api_user())


@blp.delete(f"/auth/tokens/<{ID}:token_id>")
@blp.response(204)
@documented_errors(blp, 401, 404)
def revoke_token(token_id):
    """Revoke one of your tokens (admins may revoke anyone's). Others' tokens answer 404."""
    caller = api_user()
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != caller.id and not is_admin(caller)):
        abort(404)
    services.revoke_token(token, actor=caller)
    db.session.commit()
    return None


# --- the caller --------------------------------------------------------------------------------


@blp.post("/me/sign-out-everywhere")
@blp.arguments(SignOutEverywhereSchema)
@blp.response(200, SignOutEverywhereResultSchema)
@documented_errors(blp, 401, 403)
def sign_out_everywhere(data):
    """End every browser session you have (a lost or shared device), and with `revoke_tokens`
    every API token too, this one included."""
    caller = api_user()
    revoked = services.sign_out_everywhere(
        caller, actor=caller, revoke_tokens=data["revoke_tokens"]
    )
    db.session.commit()
    return {"tokens_revoked": revoked}


@blp.get("/me")
@blp.response(200, MeSchema)
@documented_errors(blp, 401)
def me():
    """The caller, with the role assignments they hold today."""
    return api_user()


@blp.get("/me/marks-sharing")
@blp.response(200, MarksSharingSchema)
@documented_errors(blp, 401)
def get_marks_sharing():
    """Whether the caller's sponsors may see their marks and feedback."""
    return api_user()


@blp.put("/me/marks-sharing")
@blp.arguments(MarksSharingSchema)
@blp.response(200, MarksSharingSchema)
@documented_errors(blp, 400, 401, 422)
def put_marks_sharing(data):
    """Opt in to (or out of) sharing marks and feedback with your sponsors. Only you can change
    it; it applies at once and is audited."""
    user = api_user()
    services.set_marks_consent(user, data["shares_marks_with_sponsor"], actor=user)
    db.session.commit()
    return user


# --- users -------------------------------------------------------------------------------------


def _user_schema(target: User | None = None, *, many: bool = False):
    caller = api_user()
    if is_admin(caller):
        return AdminUserSchema(many=many)
    if target is not None and target.id == caller.id:
        return MeSchema()
    return UserSchema(many=many)


def _dump_user(user: User, status: int = 200):
    """The user as the caller may see it. A ready Response, so the documented (widest) schema
    does not dump it again."""
    response = jsonify(_user_schema(user).dump(user))
    response.status_code = status
    return response


def _visible_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not policy.can_view_user(api_user(), user):
        abort(404)
    return user


admins_only = requires(policy.can_manage_users, "Only academy admins can change users and roles.")


def _holding_role_today(role: str):
    today = clock.today()
    return User.roles.any(
        sa.and_(
            RoleAssignment.role == role,
            RoleAssignment.ended_at.is_(None),
            RoleAssignment.valid_from <= today,
            sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
        )
    )


def _filtered(stmt: sa.Select, args: dict) -> sa.Select:
    if args.get("q"):
        needle = args["q"].strip().lower()
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(User.name).contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True),
            )
        )
    if args.get("organisation_id") is not None:
        stmt = stmt.where(User.organisation_id == args["organisation_id"])
    if args.get("role"):
        stmt = stmt.where(_holding_role_today(args["role"]))
    return stmt


@blp.post("/users")
@admins_only
@blp.arguments(UserCreateSchema)
@blp.response(201, AdminUserSchema)
@documented_errors(blp, 400, 401, 403, 409)
def create_user(data):
    """Create an account (admins). Without a password the person is emailed an invitation to
    set one. An email address already in use, in any letter case, answers 409."""
    user = services.create_user(actor=api_user(), **data)
    db.session.commit()
    return _dump_user(user, 201)


@blp.get("/users")
@blp.arguments(UserListArgs, location="query")
@blp.response(200, AdminUserSchema(many=True), headers=PAGINATION_HEADERS, description=USER_OUTPUT)
@documented_errors(blp, 401, 403)
def list_users(args):
    """Users the caller may see: admins everyone, sponsors the staff of their organisations,
    tutors the learners of their cohorts. Learners get 403."""
    caller = api_user()
    if not policy.can_list_users(caller):
        abort(403)
    users, status, headers = paginate(_filtered(policy.visible_users(caller), args), args)
    return jsonify(_user_schema(many=True).dump(users)), status, headers


@blp.get(f"/users/<{ID}:user_id>")
@blp.response(200, AdminUserSchema, description=USER_OUTPUT)
@documented_errors(blp, 401, 404)
def get_user(user_id):
    """One user; 404 when outside the caller's scope."""
    return _dump_user(_visible_user_or_404(user_id))


@blp.patch(f"/users/<{ID}:user_id>")
@admins_only
@blp.arguments(UserUpdateSchema)
@blp.response(200, AdminUserSchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 403, 404)
def update_user(data, user_id):
    """Change a user (admins), sending the `version` read. A stale version answers 409 with the
    current state in `current`, and nothing is changed."""
    user = _visible_user_or_404(user_id)
    expected_version = data.pop("version")
    try:
        services.update_user(user, actor=api_user(), expected_version=expected_version, **data)
    except Conflict as error:
        if error.field == "version":
            error.extra["current"] = AdminUserSchema().dump(user)
        raise
    db.session.commit()
    return _dump_user(user)


# --- role assignments --------------------------------------------------------------------------


@blp.post(f"/users/<{ID}:user_id>/roles")
@admins_only
@blp.arguments(RoleGrantSchema)
@blp.response(201, RoleSchema)
@documented_errors(blp, 400, 401, 403, 404, 409)
def grant_role(data, user_id):
    """Grant a role (admins). Sponsors need `organisation_id`; a role the user already holds in
    the same scope for overlapping dates answers 409."""
    user = _visible_user_or_404(user_id)
    assignment = services.grant_role(user, actor=api_user(), **data)
    db.session.commit()
    return assignment


@blp.delete(f"/users/<{ID}:user_id>/roles/<{ID}:role_id>")
@admins_only
@blp.response(204)
@documented_errors(blp, 401, 403, 404, 409, 422)
def end_role(user_id, role_id):
    """End a role today (admins). The assignment stays, with its dates, as history."""
    user = _visible_user_or_404(user_id)
    assignment = db.session.get(RoleAssignment, role_id)
    if assignment is None or assignment.user_id != user.id:
        abort(404)
    services.end_role(assignment, actor=api_user())
    db.session.commit()
    return None
