"""Password hashing (argon2id) and the rules a new password must meet.

Length alone lets through "password1234"; zxcvbn (with its bundled lists of common and breached
passwords, names and keyboard patterns) refuses what an attacker would guess first, and its
feedback tells the person why (ASVS 6.2.4, 6.2.12)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from academy.core.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 256
#: zxcvbn's 0-4 score; 3 is "safely unguessable" against an online attack with throttling.
MIN_STRENGTH = 3
#: zxcvbn's cost grows with length and past this it refuses; a longer passphrase is judged by its
#: start, which is where a guessable password would show.
STRENGTH_CHECKED_CHARS = 72

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, used to even out timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_new_password(
    password: str, *, email: str | None = None, name: str | None = None, field: str = "password"
) -> None:
    if len(password) < MIN_LENGTH:
        raise DomainError(f"Password must be at least {MIN_LENGTH} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Password must be {MAX_LENGTH} characters or fewer", field=field)
    if email and password.strip().lower() == email.strip().lower():
        raise DomainError("Password must not be your email address", field=field)
    # zxcvbn matches whole words, so give it each part of the name and of the address too.
    hints = [part for part in re.split(r"[\s@._+-]+", f"{name or ''} {email or ''}") if part]
    hints += [value for value in (email, name) if value]
    verdict = zxcvbn(password[:STRENGTH_CHECKED_CHARS], user_inputs=hints)
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        why = feedback.get("warning") or "It would be easy to guess."
        advice = " ".join(
            feedback.get("suggestions") or ["Try a passphrase of a few unrelated words."]
        )
        raise DomainError(f"Choose a harder password to guess. {why} {advice}".strip(), field=field)
