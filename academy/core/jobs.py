"""Background jobs that start only once the change that asked for them has committed.

`enqueue(name, *args)` notes a job on the current database session. When the session commits,
the jobs go to RQ on Redis (when `REDIS_URL` is set, for `flask academy worker` to run), or, with
no Redis (the embedded default), they run in this process straight after the request or command
(`run_ready`). A rolled-back change enqueues nothing, and a rolled-back savepoint drops the jobs
queued inside it; releasing a savepoint is not the commit, so its jobs wait for the real one.
Jobs must be idempotent: RQ retries them, and the outbox's sweeper may run one again.

A job carries the request id of the request (academy.core.logs) that queued it, in the RQ job's
meta or beside an in-process job, and logs under it while it runs, so its log lines lead back to
the request that caused them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from academy.core import logs
from academy.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAME = "academy"
_SESSION_KEY = "academy_jobs"
#: Jobs by name: RQ stores the name, so renaming a function never strands queued jobs.
JOBS: dict[str, Callable] = {}
#: Jobs committed in this context and waiting to run in-process (no Redis).
_ready: ContextVar[list | None] = ContextVar("academy_ready_jobs", default=None)


def job(name: str):
    def register(function: Callable) -> Callable:
        JOBS[name] = function
        return function

    return register


def enqueue(name: str, *args, delay: timedelta | None = None) -> None:
    """Run job `name` with `args` after the current transaction commits (or `delay` after it,
    with Redis; without Redis a delayed job waits for the next `run-scheduled` sweep)."""
    if name not in JOBS:
        raise KeyError(f"no job called {name}")
    session = db.session()
    # With the savepoint it was queued in, if any: rolling that back drops this job.
    session.info.setdefault(_SESSION_KEY, []).append(
        (name, args, delay, session.get_nested_transaction(), logs.current_request_id())
    )


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def queue():
    from rq import Queue

    return Queue(QUEUE_NAME, connection=redis_connection())


@event.listens_for(Session, "after_commit")
def _release_jobs(session: Session) -> None:
    # SQLAlchemy calls this when a savepoint is released too; the change is not committed yet.
    if session.in_nested_transaction():
        return
    jobs = [
        (name, args, delay, request_id)
        for name, args, delay, _, request_id in session.info.pop(_SESSION_KEY, [])
    ]
    if not jobs:
        return
    if current_app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            target = queue()
            for name, args, delay, request_id in jobs:
                retry = Retry(max=3, interval=[10, 60, 300])
                meta = {"request_id": request_id} if request_id else None
                if delay:
                    target.enqueue_in(delay, perform, name, *args, retry=retry, meta=meta)
                else:
                    target.enqueue(perform, name, *args, retry=retry, meta=meta)
        except RedisError:
            # The change has committed: failing now would tell the user it had not. Emails
            # stay pending in the outbox, and the next sweep (worker start or run-scheduled)
            # queues them again.
            log.exception(
                "could not queue %d jobs on Redis; the outbox sweep will retry", len(jobs)
            )
        return
    ready = _ready.get()
    if ready is None:
        ready = []
        _ready.set(ready)
    ready.extend(
        (name, args, request_id) for name, args, delay, request_id in jobs if delay is None
    )


@event.listens_for(Session, "after_soft_rollback")
def _drop_jobs(session: Session, previous_transaction) -> None:
    """Forget the jobs queued in what was rolled back: everything, or one savepoint's."""
    if not previous_transaction.nested:
        session.info.pop(_SESSION_KEY, None)
        return
    if jobs := session.info.get(_SESSION_KEY):
        session.info[_SESSION_KEY] = [
            job for job in jobs if not _inside(job[3], previous_transaction)
        ]


def _inside(transaction, savepoint) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def perform(name: str, *args):
    """Run one job in its own transaction: commit what it did, or roll it back and re-raise so
    RQ records the failure (and retries it)."""
    from rq import get_current_job

    job = get_current_job()
    request_id = job.meta.get("request_id") if job is not None else logs.current_request_id()
    with logs.request_id_context(request_id):
        try:
            result = JOBS[name](*args)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise


def run_ready() -> int:
    """Run, in this process, the jobs committed so far with no Redis to take them, including
    any they enqueue in turn. A failing job is logged and left to its own retry rules."""
    ran = 0
    while True:
        ready = _ready.get()
        if not ready:
            return ran
        name, args, request_id = ready.pop(0)
        with logs.request_id_context(request_id):
            try:
                perform(name, *args)
            except Exception:
                log.exception("job %s%r failed", name, args)
        ran += 1


def ready_count() -> int:
    """Jobs waiting to run in this process (no Redis), for the metrics."""
    return len(_ready.get() or ())


def discard_ready() -> None:
    """Forget jobs waiting to run in-process (tests that roll everything back)."""
    _ready.set(None)
