"""Two-factor authentication: time-based one-time codes (RFC 6238) from an authenticator app,
and single-use recovery codes for when the app is lost. Functions flush; the caller commits.

The TOTP secret is stored encrypted with a key derived from SECRET_KEY, and recovery codes as an
HMAC keyed with it, so a copy of the database alone can neither mint codes nor use the recovery
codes. Rotating SECRET_KEY therefore means everyone enrols again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

import pyotp
import segno
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from academy.audit import services as audit
from academy.auth.models import RecoveryCode, User
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.extensions import db

log = logging.getLogger(__name__)

#: Readable on paper and over the phone: no 0/o, 1/l/i.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_COUNT = 10
RECOVERY_HALF = 5
#: Codes from the step before and after the current one are accepted too, for clock drift.
VALID_WINDOW = 1

WRONG_CODE = "The code is not right, or it has been used already. Enter the code your app shows now"


# --- keys ----------------------------------------------------------------------------------------


def _derived_key(purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        current_app.config["SECRET_KEY"].encode()
    )


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"academy totp secret")))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    """The plain secret, or None if it was encrypted under another SECRET_KEY (or tampered)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def _recovery_hash(code: str) -> str:
    return hmac.new(
        _derived_key(b"academy recovery code"), code.encode(), hashlib.sha256
    ).hexdigest()


# --- who needs it ---------------------------------------------------------------------------------


def is_enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None and user.totp_secret is not None


def required_for(user: User) -> bool:
    """Whether the user's current roles oblige them to use a second factor (MFA_REQUIRED_ROLES)."""
    return user.has_role(*current_app.config["MFA_REQUIRED_ROLES"])


def must_enrol(user: User) -> bool:
    return required_for(user) and not is_enrolled(user)


# --- enrolment ------------------------------------------------------------------------------------


def new_secret() -> str:
    """160 random bits in base32, the size RFC 4226 recommends and every authenticator accepts."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["ACADEMY_ISSUER_NAME"]
    )


def qr_code_data_uri(uri: str) -> str:
    """The QR code as an SVG `data:` URI, made here: the secret never leaves the server for an
    image service, and the page's CSP allows `data:` images."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def spaced(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def enrol(user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor authentication on with `secret` once `code` shows the app has it; the new
    recovery codes (to show once), or None if the code is wrong."""
    if is_enrolled(user):
        raise Conflict("Two-factor authentication is already set up for this account")
    step = _matching_step(secret, _digits(code))
    if step is None:
        return None
    _write(
        user,
        totp_secret=encrypt_secret(secret),
        totp_enabled_at=clock.now(),
        totp_last_step=step,
    )
    codes = _replace_recovery_codes(user)
    audit.record("mfa.enrol", actor=user, obj=user)
    log.info("user %s set up two-factor authentication", user.id)
    return codes


def enrol_known_secret(user: User, secret: str, *, actor: User | None) -> list[str]:
    """Turn two-factor authentication on with a secret chosen elsewhere (the demo accounts'
    published ones), without a code to prove an app holds it. Never for real accounts."""
    if is_enrolled(user):
        raise Conflict("Two-factor authentication is already set up for this account")
    _write(
        user, totp_secret=encrypt_secret(secret), totp_enabled_at=clock.now(), totp_last_step=None
    )
    codes = _replace_recovery_codes(user)
    audit.record("mfa.enrol", actor=actor, obj=user, after={"proof": "none"})
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code (used or not) with a fresh set. The caller has checked a
    current code first (`check_code`)."""
    _require_enrolled(user)
    codes = _replace_recovery_codes(user)
    audit.record("mfa.recovery_regenerated", actor=user, obj=user)
    return codes


def disable(user: User) -> None:
    """Turn the user's own two-factor authentication off (after `check_code`). Refused while a
    role of theirs requires it."""
    _require_enrolled(user)
    if required_for(user):
        raise DomainError(
            "Your role requires two-factor authentication, so you cannot turn it off", status=403
        )
    _clear(user)
    audit.record("mfa.disable", actor=user, obj=user)
    log.info("user %s turned two-factor authentication off", user.id)


def reset(user: User, *, actor: User | None) -> None:
    """An admin (or an operator at the command line, `actor` None) clears a user's authenticator
    and recovery codes (a lost phone). The user sets up again at their next sign-in if a role
    requires it."""
    if not is_enrolled(user):
        raise Conflict(f"{user.name} has not set up two-factor authentication")
    _clear(user)
    audit.record("mfa.reset", actor=actor, obj=user)
    log.info(
        "two-factor authentication of user %s reset by %s", user.id, getattr(actor, "id", "cli")
    )


def _require_enrolled(user: User) -> None:
    if not is_enrolled(user):
        raise Conflict("Two-factor authentication is not set up for this account")


def _clear(user: User) -> None:
    _write(user, totp_secret=None, totp_enabled_at=None, totp_last_step=None)
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    while len(codes) < RECOVERY_CODE_COUNT:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(2 * RECOVERY_HALF))
        code = f"{raw[:RECOVERY_HALF]}-{raw[RECOVERY_HALF:]}"
        if code not in codes:
            codes.append(code)
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_recovery_hash(_plain(code))) for code in codes
    )
    db.session.flush()
    return codes


def unused_recovery_codes(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


# --- checking a code ------------------------------------------------------------------------------


def check_code(user: User, code: str | None, *, channel: str = "web") -> str | None:
    """Check and use up a second-factor code: "totp" or "recovery" when it is good, else None.

    A TOTP code is good once (its time step must be later than the last one accepted), a recovery
    code once ever; both are claimed by a conditional UPDATE, so two requests racing with the
    same code cannot both win. Failures are audited as auth.mfa_failed."""
    if is_enrolled(user):
        plain = _plain(code or "")
        if plain.isdigit() and len(plain) == 6:
            if _use_totp(user, plain):
                return "totp"
        elif len(plain) == 2 * RECOVERY_HALF and _use_recovery_code(user, plain):
            audit.record(
                "auth.recovery_code_used",
                actor=user,
                obj=user,
                after={"channel": channel, "left": unused_recovery_codes(user)},
            )
            return "recovery"
    audit.record("auth.mfa_failed", actor=user, obj=user, after={"channel": channel})
    return None


def _plain(code: str) -> str:
    """What was typed, without the spaces and hyphens people copy along with codes."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _digits(code: str | None) -> str:
    plain = _plain(code or "")
    return plain if plain.isdigit() and len(plain) == 6 else ""


def _matching_step(secret: str, code: str) -> int | None:
    """The time step within the window whose code is `code`, judged by the academy clock."""
    if not code:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(clock.now())
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_totp(user: User, code: str) -> bool:
    secret = decrypt_secret(user.totp_secret)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return False
    table = User.__table__
    claimed = db.session.execute(
        sa.update(table)
        .where(
            table.c.id == user.id,
            sa.or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    if claimed.rowcount != 1:
        return False  # replayed, or an earlier code of the window after a later one
    set_committed_value(user, "totp_last_step", step)
    return True


def _use_recovery_code(user: User, plain: str) -> bool:
    table = RecoveryCode.__table__
    claimed = db.session.execute(
        sa.update(table)
        .where(
            table.c.user_id == user.id,
            table.c.code_hash == _recovery_hash(plain),
            table.c.used_at.is_(None),
        )
        .values(used_at=clock.now())
    )
    return claimed.rowcount == 1


def _write(user: User, **values) -> None:
    """Like the sign-in bookkeeping in services: not an admin-editable change, so `version` (and
    an admin's open edit page) is left alone."""
    table = User.__table__
    db.session.execute(sa.update(table).where(table.c.id == user.id).values(**values))
    for name, value in values.items():
        set_committed_value(user, name, value)
