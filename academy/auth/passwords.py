"""Password hashing (argon2id) and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from academy.core.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 256

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


def check_new_password(password: str, *, email: str | None = None, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise DomainError(f"Password must be at least {MIN_LENGTH} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise DomainError(f"Password must be {MAX_LENGTH} characters or fewer", field=field)
    if email and password.strip().lower() == email.strip().lower():
        raise DomainError("Password must not be your email address", field=field)
