"""A real SMTP server and the real local Redis, for proving how email is delivered.

The SMTP server is aiosmtpd on 127.0.0.1, on a free port, for the whole run; `smtp` is its
mailbox, emptied for each test, and told to refuse (`refusing = True`) for failure tests.

Redis is the local one, in a database of its own (TEST_REDIS_URL, default
redis://127.0.0.1:6379/13), emptied before and after each test. When it cannot be reached the
tests fail rather than skip: "sent once, never lost" is exactly what they are here to prove.

`delivery` is an app on a database of its own whose commits are real (a worker's transactions
must see the request's), sending over SMTP and queueing jobs on Redis, as production does.
"""

from __future__ import annotations

import email
import os
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from academy.auth.models import User
from academy.core import jobs
from academy.extensions import db
from academy.notifications import worker
from academy.notifications.mail import send_email
from academy.notifications.models import OutboxMessage
from tests.concurrency import separate_database
from tests.factories import Factories

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, or refuses every message for now."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self.refusing = False
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refusing:
            with self._lock:
                self.refused += 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        with self._lock:
            self._messages.append(message)
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.refused = 0
        self.refusing = False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Controller]:
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp(smtp_server) -> Iterator[Mailbox]:
    mailbox = smtp_server.handler
    mailbox.reset()
    yield mailbox
    mailbox.reset()


@pytest.fixture
def smtp_config(app, smtp_server, monkeypatch):
    """The usual test app sending through the SMTP server (no Redis: jobs run in-process)."""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as error:
        pytest.fail(f"These tests need Redis at {REDIS_URL} (set TEST_REDIS_URL): {error}")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="module")
def delivery_app(tmp_path_factory, smtp_server):
    with separate_database(tmp_path_factory.mktemp("delivery"), "delivery") as app:
        app.config.update(
            MAIL_BACKEND="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp_server.port,
            REDIS_URL=REDIS_URL,
        )
        yield app


class Delivery(SimpleNamespace):
    """The app, its SMTP mailbox, and its Redis queue, with the steps the tests take."""

    @property
    def queue(self) -> Queue:
        return Queue(jobs.QUEUE_NAME, connection=self.redis)

    def queued(self) -> list[tuple]:
        """The (name, *args) of each job waiting on the queue, in order."""
        return [job.args for job in self.queue.get_jobs()]

    def scheduled(self) -> list[Job]:
        registry = self.queue.scheduled_job_registry
        return [Job.fetch(job_id, connection=self.redis) for job_id in registry.get_job_ids()]

    def make_due(self, job: Job) -> None:
        """Let a delayed job's time come, as far as rq's scheduler is concerned."""
        registry = self.queue.scheduled_job_registry
        self.redis.zadd(registry.key, {job.id: 0})

    def work(self, *, sweep: bool = True) -> bool:
        """A worker started now and run until the queue is empty; like `flask academy worker`
        it first requeues what was left behind, unless `sweep` is False (the queue alone)."""
        if sweep:
            return worker.run(self.app, burst=True)
        return worker.work(self.app, burst=True)

    def enqueue_again(self, message_id: int) -> Job:
        """Another copy of a delivery job, as a re-run or duplicated RQ job would be."""
        return self.queue.enqueue(jobs.perform, "deliver_email", message_id)

    def user(self) -> tuple[int, str]:
        """A new user, committed: their id and email address."""
        with self.app.app_context():
            user = Factories(self.app).user()
            return user.id, user.email

    def email(self, user_id: int) -> int:
        """Queue a password-reset email to the user and commit: the id of its outbox row."""
        with self.app.app_context():
            user = db.session.get(User, user_id)
            message = send_email(
                user.email,
                "Reset your Digital Academy password",
                "password_reset",
                user=user,
                link="https://academy.test/reset/token",
                hours=2,
            )
            message_id = message.id
            db.session.commit()
        return message_id

    def message(self, message_id: int) -> OutboxMessage:
        with self.app.app_context():
            message = db.session.get(OutboxMessage, message_id)
            db.session.expunge_all()
        return message


@pytest.fixture
def delivery(delivery_app, redis_db, smtp) -> Iterator[Delivery]:
    with delivery_app.app_context():
        # Messages from earlier tests in the module would otherwise be swept up and sent here.
        db.session.execute(sa.delete(OutboxMessage))
        db.session.commit()
    yield Delivery(app=delivery_app, redis=redis_db, smtp=smtp)
