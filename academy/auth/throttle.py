"""Backing off sign-in attempts that keep failing, per account name and per client address.

Every wrong password or second-factor code counts against two keys: the email address typed
(whether or not it has an account, so the answer never reveals which do) and the client address.
Once a key has LOGIN_FAILURES_BEFORE_BACKOFF failures (LOGIN_IP_FAILURES_BEFORE_BACKOFF for an
address) each failure locks it for twice as long as the one before, 1 minute first, at most
LOGIN_BACKOFF_MAX_MINUTES. While a key is locked, attempts are refused without checking the
password. The counts live in the database, so every app node agrees; flask-limiter's per-address
rate limit stays in front of this as a cheap first line.

An address's failures are forgotten after LOGIN_IP_FAILURE_WINDOW_MINUTES, an account's only after
a quiet day: a whole trust reaches us from one NAT address, and a day of its staff's typing
mistakes must not lock every one of them out. A guesser working through many accounts from one
address is still held back, since those failures come fast.

Functions take the address as a plain argument (services never read `request`), flush, and leave
the commit to the caller.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from academy.audit import services as audit
from academy.auth.models import LoginThrottle
from academy.auth.services import normalise_email
from academy.core import clock
from academy.extensions import db

#: A key with no failure for this long starts counting again from nothing, and may be purged.
FAILURES_FORGOTTEN_AFTER = timedelta(hours=24)
#: Doublings beyond this cannot matter (2**10 minutes is past any sensible cap).
MAX_DOUBLINGS = 10


def account_key(email: str) -> str:
    return hashlib.sha256(("account:" + normalise_email(email or "")).encode()).hexdigest()


def address_key(address: str | None) -> str:
    return hashlib.sha256(("ip:" + (address or "unknown")).encode()).hexdigest()


def message(seconds: int) -> str:
    """What a refused person reads; the same whether or not the account exists."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


def retry_after(email: str, address: str | None) -> int:
    """Seconds until this email address and client address may try again; 0 if they may now."""
    now = clock.now()
    locks = db.session.scalars(
        sa.select(LoginThrottle.locked_until).where(
            LoginThrottle.key.in_([account_key(email), address_key(address)]),
            LoginThrottle.locked_until > now,
        )
    ).all()
    if not locks:
        return 0
    return max(1, math.ceil((max(locks) - now).total_seconds()))


def note_refusal(email: str, address: str | None, seconds: int, *, channel: str) -> None:
    """Audit an attempt refused because a key is locked (the password was not checked)."""
    audit.record(
        "auth.login_throttled",
        object_type="user",
        after={
            "email": normalise_email(email or "")[:254],
            "channel": channel,
            "retry_after": seconds,
        },
    )


def record_failure(email: str, address: str | None) -> None:
    """Count one failed attempt against the email address and the client address, locking either
    that has now failed too often."""
    config = current_app.config
    _count(account_key(email), config["LOGIN_FAILURES_BEFORE_BACKOFF"], FAILURES_FORGOTTEN_AFTER)
    _count(
        address_key(address),
        config["LOGIN_IP_FAILURES_BEFORE_BACKOFF"],
        timedelta(minutes=config["LOGIN_IP_FAILURE_WINDOW_MINUTES"]),
    )
    db.session.flush()


def clear(email: str) -> None:
    """Forget an account's failures after a complete sign-in. The address keeps its count: one
    success must not buy a guesser on the same address another round of attempts."""
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == account_key(email)))
    db.session.flush()


def purge_stale(older_than: timedelta = FAILURES_FORGOTTEN_AFTER) -> int:
    """Delete keys with no failure for `older_than` and no lock still running; how many went.
    For the retention job: the counts are personal data of a sort (an address's attempts)."""
    now = clock.now()
    result = db.session.execute(
        sa.delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - older_than,
            sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
    )
    db.session.flush()
    return result.rowcount


def _count(key: str, allowed: int, forgotten_after: timedelta) -> None:
    now = clock.now()
    table = LoginThrottle.__table__
    insert = _dialect_insert()(table).values(key=key, failures=1, last_failure_at=now)
    # One statement, atomic on both databases: concurrent failures each add one, and the count
    # each sees is its own.
    failures = db.session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": sa.case(
                    (table.c.last_failure_at < now - forgotten_after, 1),
                    else_=table.c.failures + 1,
                ),
                "last_failure_at": now,
            },
        ).returning(table.c.failures)
    ).scalar_one()
    if failures < allowed:
        return
    until = now + _backoff(failures - allowed)
    # Never shorten a lock a concurrent failure has just lengthened.
    db.session.execute(
        sa.update(table)
        .where(
            table.c.key == key,
            sa.or_(table.c.locked_until.is_(None), table.c.locked_until < until),
        )
        .values(locked_until=until)
    )


def _backoff(extra_failures: int) -> timedelta:
    cap = current_app.config["LOGIN_BACKOFF_MAX_MINUTES"]
    return timedelta(minutes=min(2 ** min(extra_failures, MAX_DOUBLINGS), cap))


def _dialect_insert():
    name = db.session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert
