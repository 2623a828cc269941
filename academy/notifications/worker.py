"""The RQ worker behind `flask academy worker`: it runs the jobs that committed changes queued
on Redis (emails first of all), and the delayed retries of failed sends once they are due.

Jobs run in the worker's own process (rq's SimpleWorker: no fork per job), each inside a fresh
app context, as a request has one: every job gets the app's configuration and a database session
of its own, removed when the job ends, so nothing one job loaded leaks into the next.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from rq import SimpleWorker

from academy.core import jobs
from academy.extensions import db
from academy.notifications import mail


class AppWorker(SimpleWorker):
    def __init__(self, *args, app: Flask, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def execute_job(self, job, queue):
        with self.app.app_context():
            super().execute_job(job, queue)


def requeue_stranded() -> int:
    """Queue again every message a crashed worker left claimed, or a lost job left pending and
    due. Run in an app context; commits, so the jobs reach Redis."""
    queued = mail.sweep()
    db.session.commit()
    return queued


def build(app: Flask) -> AppWorker:
    with app.app_context():
        connection = jobs.redis_connection()
    return AppWorker([jobs.QUEUE_NAME], connection=connection, app=app)


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """rq installs its own SIGINT/SIGTERM handlers (a warm shutdown) and leaves them behind;
    put back the ones the host process had once the worker is done (tests, embedded use)."""
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def work(app: Flask, *, burst: bool = False) -> bool:
    """Work the queue until stopped (or, with `burst`, until it is empty). The scheduler moves
    delayed retries onto the queue when they are due; in burst mode it does so once, at the
    start. True when any job ran."""
    with app.app_context():
        # The scheduler runs in a forked process: it must not inherit pooled database
        # connections, whose sockets the two processes would then share.
        db.engine.dispose()
    worker = build(app)
    with _signal_handlers_kept():
        return worker.work(burst=burst, with_scheduler=True)


def run(app: Flask, *, burst: bool = False) -> bool:
    """What `flask academy worker` does: requeue what a crashed worker left behind, then work."""
    with app.app_context():
        requeue_stranded()
    return work(app, burst=burst)
