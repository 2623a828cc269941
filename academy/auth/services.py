"""Every change to users, roles, passwords and tokens. Functions flush; the caller commits."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm.attributes import set_committed_value

from academy.audit import services as audit
from academy.auth.models import ROLES, ApiToken, RoleAssignment, User
from academy.auth.passwords import check_new_password, hash_password, needs_rehash, verify_password
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.core.urls import external_url
from academy.extensions import db
from academy.notifications.mail import send_email
from academy.organisations.models import Organisation

log = logging.getLogger(__name__)

USER_FIELDS = ("email", "name", "organisation_id", "professional_registration", "staff_number")
#: Which scope column each role must (or may) carry. Admin and learner roles are unscoped.
ROLE_SCOPES = {
    "sponsor": ("organisation_id", True),
    "tutor": ("cohort_id", False),
    "examiner": ("programme_id", False),
    "learner": (None, False),
    "admin": (None, False),
}
SCOPE_TABLES = {
    "organisation_id": "organisation",
    "cohort_id": "cohort",
    "programme_id": "programme",
}


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def snapshot(user: User) -> dict:
    data = {field: getattr(user, field) for field in USER_FIELDS}
    data["active"] = user.active
    return data


def _check_organisation(organisation_id: int | None, field: str = "organisation_id") -> None:
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        raise DomainError("Choose an organisation that exists", field=field)


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def create_user(
    *,
    actor: User | None,
    email: str,
    name: str,
    password: str | None = None,
    organisation_id: int | None = None,
    professional_registration: str | None = None,
    staff_number: str | None = None,
    invite: bool = True,
) -> User:
    """Create an account. With no password, the person is emailed an invitation to set one."""
    email = normalise_email(email)
    if user_by_email(email) is not None:
        raise Conflict("An account with this email address already exists", field="email")
    _check_organisation(organisation_id)
    if password is not None:
        check_new_password(password, email=email, name=name)
    user = User(
        email=email,
        name=name.strip(),
        organisation_id=organisation_id,
        professional_registration=_clean(professional_registration),
        staff_number=_clean(staff_number),
        password_hash=hash_password(password) if password else None,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", actor=actor, obj=user, after=snapshot(user))
    log.info("user %s created by %s", user.id, getattr(actor, "id", "system"))
    if password is None and invite:
        send_invitation(user)
    return user


def update_user(user: User, *, actor: User, expected_version: int | None = None, **fields) -> User:
    check_version(user, expected_version)
    before = snapshot(user)
    if "email" in fields and fields["email"] is not None:
        email = normalise_email(fields.pop("email"))
        if email != user.email:
            if user_by_email(email) is not None:
                raise Conflict("An account with this email address already exists", field="email")
            user.email = email
    if "organisation_id" in fields:
        _check_organisation(fields["organisation_id"])
    for field in ("name", "organisation_id", "professional_registration", "staff_number", "active"):
        if field in fields:
            setattr(user, field, _clean(fields[field]) if field != "active" else fields[field])
    if not user.name:
        raise DomainError("Enter a name", field="name")
    if actor.id == user.id and before["active"] and not user.active:
        raise DomainError("You cannot deactivate your own account", field="active")
    db.session.flush()
    old, new = audit.changes(before, snapshot(user))
    if new:
        audit.record("user.update", actor=actor, obj=user, before=old, after=new)
    return user


def check_version(obj, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != obj.version:
        raise Conflict(
            f"This record was changed by someone else (now version {obj.version}); "
            "reload it and try again",
            field="version",
        )


# --- signing in ---------------------------------------------------------------------------


def authenticate(
    email: str, password: str, *, channel: str = "web", complete: bool = True
) -> User | None:
    """The user for these credentials, or None. Both outcomes are audited; the answer to the
    caller never says whether the email exists. With `complete=False` a second factor is still
    to come, so the sign-in is recorded later, by `record_login`, once it has passed."""
    user = user_by_email(email or "")
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        audit.record(
            "auth.login_failed",
            actor=user,
            object_type="user",
            object_id=user.id if user else None,
            after={"email": normalise_email(email or "")[:254], "channel": channel},
        )
        return None
    if needs_rehash(user.password_hash):
        _write_without_new_version(user, password_hash=hash_password(password))
    if complete:
        record_login(user, channel=channel)
    return user


def record_login(user: User, *, channel: str, second_factor: str | None = None) -> None:
    """Note a complete sign-in: its time, and an audit saying which second factor was used."""
    _write_without_new_version(user, last_login_at=clock.now())
    after = {"channel": channel}
    if second_factor:
        after["second_factor"] = second_factor
    audit.record("auth.login", actor=user, obj=user, after=after)


def _write_without_new_version(user: User, **values) -> None:
    """Sign-in times and password hashes are not what an admin edits, so writing them must not
    bump `version` and make an admin's open edit page stale."""
    table = User.__table__
    db.session.execute(sa.update(table).where(table.c.id == user.id).values(**values))
    for name, value in values.items():
        set_committed_value(user, name, value)


def record_logout(user: User) -> None:
    audit.record("auth.logout", actor=user, obj=user)


def set_password(user: User, new_password: str, *, actor: User | None, reason: str) -> None:
    """Set a new password and end every session made with the old one: whoever knew it may be
    signed in somewhere (ASVS 3.3.3). The caller keeps its own session if it should."""
    check_new_password(new_password, email=user.email, name=user.name)
    _write_without_new_version(
        user, password_hash=hash_password(new_password), session_epoch=user.session_epoch + 1
    )
    audit.record("user.password_set", actor=actor, obj=user, after={"reason": reason})


def sign_out_everywhere(user: User, *, actor: User | None, revoke_tokens: bool = False) -> int:
    """End every browser session of `user` (theirs or an admin's action on a lost device), and
    with `revoke_tokens` their API tokens too. Returns how many tokens were revoked."""
    _write_without_new_version(user, session_epoch=user.session_epoch + 1)
    revoked = 0
    if revoke_tokens:
        for token in live_tokens(user):
            revoke_token(token, actor=actor)
            revoked += 1
    audit.record(
        "auth.sign_out_everywhere",
        actor=actor,
        obj=user,
        after={"tokens_revoked": revoked},
    )
    return revoked


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise DomainError("Your current password is not right", field="current_password")
    set_password(user, new_password, actor=user, reason="changed")


# --- password reset and invitation links ------------------------------------------------------

_PURPOSES = {"reset": "PASSWORD_RESET_HOURS", "invite": "INVITATION_DAYS"}


class _ClockSigner(TimestampSigner):
    """Stamps and ages links with `clock.now()`, not `time.time()`, so link expiry follows the
    academy's one clock (and tests can move it)."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"academy-{purpose}", signer=_ClockSigner
    )


def _password_fingerprint(user: User) -> str:
    # Binding the link to the current hash makes it single-use: setting a password changes it.
    return hashlib.sha256((user.password_hash or "unset").encode()).hexdigest()[:16]


def make_password_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.id, "p": _password_fingerprint(user)})


def _max_age(purpose: str) -> int:
    setting = _PURPOSES[purpose]
    amount = current_app.config[setting]
    return amount * (3600 if setting.endswith("HOURS") else 86400)


def user_for_password_token(token: str, purpose: str) -> User:
    """The user a reset or invitation link belongs to; DomainError if expired, used or forged."""
    try:
        data = _serializer(purpose).loads(token, max_age=_max_age(purpose))
    except SignatureExpired as exc:
        raise DomainError("This link has expired. Ask for a new one.") from exc
    except BadSignature as exc:
        raise DomainError("This link is not valid. Check you copied all of it.") from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("p") != _password_fingerprint(user):
        raise DomainError("This link has already been used or is no longer valid.")
    return user


def send_invitation(user: User) -> None:
    link = external_url("auth.set_password", token=make_password_token(user, "invite"))
    send_email(
        user.email,
        "You have been invited to the Digital Academy",
        "invitation",
        user=user,
        link=link,
        days=current_app.config["INVITATION_DAYS"],
    )
    audit.record("user.invited", actor=None, obj=user)


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; say nothing either way to the caller."""
    user = user_by_email(email or "")
    audit.record(
        "auth.reset_requested",
        object_type="user",
        object_id=user.id if user else None,
        after={"email": normalise_email(email or "")[:254]},
    )
    if user is None or not user.active:
        return
    link = external_url("auth.reset_password", token=make_password_token(user, "reset"))
    send_email(
        user.email,
        "Reset your Digital Academy password",
        "password_reset",
        user=user,
        link=link,
        hours=current_app.config["PASSWORD_RESET_HOURS"],
    )


def complete_password_token(token: str, purpose: str, new_password: str) -> User:
    user = user_for_password_token(token, purpose)
    set_password(user, new_password, actor=user, reason=purpose)
    return user


# --- roles -------------------------------------------------------------------------------------


def _scope_exists(column: str, value: int) -> bool:
    table = db.metadata.tables.get(SCOPE_TABLES[column])
    if table is None:
        return False
    return db.session.execute(sa.select(table.c.id).where(table.c.id == value)).first() is not None


def grant_role(
    user: User,
    role: str,
    *,
    actor: User,
    organisation_id: int | None = None,
    cohort_id: int | None = None,
    programme_id: int | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> RoleAssignment:
    if role not in ROLES:
        raise DomainError(f"Role must be one of: {', '.join(ROLES)}", field="role")
    scope = {
        "organisation_id": organisation_id,
        "cohort_id": cohort_id,
        "programme_id": programme_id,
    }
    allowed, required = ROLE_SCOPES[role]
    for column, value in scope.items():
        if value is None:
            continue
        if column != allowed:
            raise DomainError(f"A {role} role cannot be scoped by {column}", field=column)
        if not _scope_exists(column, value):
            raise DomainError(f"No {SCOPE_TABLES[column]} has id {value}", field=column)
    if required and scope[allowed] is None:
        raise DomainError(f"A {role} role needs {allowed}", field=allowed)
    valid_from = valid_from or clock.today()
    if valid_to is not None and valid_to < valid_from:
        raise DomainError("The end date must be on or after the start date", field="valid_to")
    duplicate = db.session.scalar(
        sa.select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.ended_at.is_(None),
            *(
                getattr(RoleAssignment, c) == v
                if v is not None
                else getattr(RoleAssignment, c).is_(None)
                for c, v in scope.items()
            ),
            sa.or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= valid_from),
            *([RoleAssignment.valid_from <= valid_to] if valid_to else []),
        )
    )
    if duplicate is not None:
        raise Conflict(
            "The user already holds this role in this scope for these dates", field="role"
        )
    assignment = RoleAssignment(
        user=user,
        role=role,
        valid_from=valid_from,
        valid_to=valid_to,
        granted_by_id=actor.id,
        **scope,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record("role.grant", actor=actor, obj=assignment, after=role_snapshot(assignment))
    return assignment


def end_role(assignment: RoleAssignment, *, actor: User) -> RoleAssignment:
    """End a role today. The row stays, so history shows who held what and when."""
    if assignment.ended_at is not None:
        raise Conflict("This role has already been ended")
    if assignment.role == "admin" and assignment.user_id == actor.id:
        raise DomainError("You cannot remove your own admin role")
    before = role_snapshot(assignment)
    assignment.ended_at = clock.now()
    assignment.ended_by_id = actor.id
    yesterday = clock.today() - timedelta(days=1)
    assignment.valid_to = max(
        assignment.valid_from, min(assignment.valid_to or yesterday, yesterday)
    )
    db.session.flush()
    audit.record(
        "role.end", actor=actor, obj=assignment, before=before, after=role_snapshot(assignment)
    )
    return assignment


def role_snapshot(assignment: RoleAssignment) -> dict:
    return {
        "user_id": assignment.user_id,
        "role": assignment.role,
        "organisation_id": assignment.organisation_id,
        "cohort_id": assignment.cohort_id,
        "programme_id": assignment.programme_id,
        "valid_from": assignment.valid_from.isoformat(),
        "valid_to": assignment.valid_to.isoformat() if assignment.valid_to else None,
        "ended": assignment.ended_at is not None,
    }


# --- API tokens --------------------------------------------------------------------------------

TOKEN_PREFIX = "acd_"  # noqa: S105 - a public prefix that makes leaked tokens easy to spot
#: Writes of `last_used_at` are skipped within this window so every API call is not an UPDATE.
LAST_USED_GRANULARITY = timedelta(minutes=5)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


#: What a token may do. A report script or a trust's BI tool needs only "read".
TOKEN_SCOPES = {
    "read": "Read data (GET requests)",
    "write": "Change data (POST, PUT, PATCH and DELETE requests)",
}
MAX_TOKEN_DAYS = 365


def issue_token(
    user: User,
    *,
    label: str = "",
    days: int | None = None,
    scopes: list[str] | tuple[str, ...] = ("read", "write"),
) -> tuple[ApiToken, str]:
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown:
        raise DomainError(f"Unknown scope: {', '.join(unknown)}", field="scopes")
    if not scopes:
        raise DomainError("Choose at least one scope", field="scopes")
    days = days or current_app.config["API_TOKEN_DAYS"]
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise DomainError(f"A token lasts from 1 to {MAX_TOKEN_DAYS} days", field="days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        token_hash=_token_hash(secret),
        label=(label or "").strip()[:100],
        expires_at=clock.now() + timedelta(days=days),
        # In TOKEN_SCOPES order, so equal sets read the same everywhere.
        scopes=[scope for scope in TOKEN_SCOPES if scope in scopes],
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.issue", actor=user, obj=token, after={"label": token.label, "scopes": token.scopes}
    )
    return token, secret


def live_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > clock.now(),
            )
            .order_by(ApiToken.id.desc())
        )
    )


def usable_token(secret: str) -> ApiToken | None:
    """The unexpired, unrevoked token of an active user that `secret` names, or None."""
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_hash(secret)))
    if token is None or not token.is_usable(clock.now()) or not token.user.active:
        return None
    return token


def note_token_use(token: ApiToken) -> bool:
    """Record when a token was last used, at most once per LAST_USED_GRANULARITY."""
    now = clock.now()
    if token.last_used_at is not None and now - token.last_used_at <= LAST_USED_GRANULARITY:
        return False
    token.last_used_at = now
    db.session.flush()
    return True


def revoke_token(token: ApiToken, *, actor: User) -> None:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        db.session.flush()
        audit.record("token.revoke", actor=actor, obj=token)


def set_marks_consent(user: User, share: bool, *, actor) -> User:
    """The learner's own choice to let their sponsors see marks and feedback. Only the learner
    makes it: nobody can opt someone else in."""
    if actor is None or actor.id != user.id:
        raise Conflict("Only the learner can change who sees their marks")
    share = bool(share)
    if user.shares_marks_with_sponsor == share:
        return user
    before = {"shares_marks_with_sponsor": user.shares_marks_with_sponsor}
    user.shares_marks_with_sponsor = share
    db.session.flush()
    audit.record(
        "user.marks_consent",
        actor=actor,
        obj=user,
        before=before,
        after={"shares_marks_with_sponsor": share},
    )
    return user
