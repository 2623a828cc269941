"""Two learners in one cohort, each with stored files of every kind: work, feedback, evidence.

Every file holds bytes unique to the test run and to its owner, so a test can look for one
learner's data anywhere in the other's export, and shared blobs are made on purpose only."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date

import pytest

from academy.assessment.models import Submission, SubmissionFile
from academy.core import clock
from academy.core.storage import storage
from academy.cpd.models import CpdEntry
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking import services as marking


def store(content: bytes) -> str:
    return storage().save(io.BytesIO(content), max_size=10 * 1024 * 1024).sha256


@dataclass
class Person:
    user: object
    credential: Credential
    submission: Submission
    unreleased: Submission
    external: Credential
    work: bytes
    feedback: bytes
    evidence: bytes
    unreleased_work: bytes


def submit_with_file(assignment, user, content: bytes, name: str) -> Submission:
    submission = Submission(
        assignment_id=assignment.id,
        user_id=user.id,
        status="submitted",
        submitted_at=clock.now(),
        late_working_days=0,
    )
    submission.files.append(
        SubmissionFile(name=name, sha256=store(content), size=len(content), file_type="txt")
    )
    db.session.add(submission)
    db.session.commit()
    return submission


@dataclass
class World:
    cohort: object
    admin: object
    tutor: object
    alice: Person
    bob: Person
    essay: object
    reflection: object


@pytest.fixture
def world(make) -> World:
    run = uuid.uuid4().hex[:12]
    # Credentials on the first module; the essay and reflection on the second, whose result
    # stays open, so it cannot disturb the first module's pass.
    cohort = make.cohort(make.programme(modules=[make.module(), make.module()]))
    admin = make.user("admin", name="Ada Admin", email=f"ada-{run}@academy.test")
    tutor = make.user("tutor", scope=cohort, name="Tom Tutor", email=f"tom-{run}@academy.test")
    second = cohort.deliveries[1]
    essay = make.assignment(cohort, delivery=second, title="Essay on EPR adoption")
    reflection = make.assignment(cohort, delivery=second, title="Reflective log")
    people = {}
    for key, name in (("alice", "Alice Atherton"), ("bob", "Bob Brennan")):
        user = make.learner_in(
            cohort,
            name=name,
            email=f"{key}-{run}@nhs.test",
            staff_number=f"STAFF-{key.upper()}",
            professional_registration=f"GMC-{key.upper()}",
        )
        credential = make.credential(learner=user, cohort=cohort, actor=admin)
        work = f"{name}'s essay {run}".encode()
        feedback = f"Feedback file for {name} {run}".encode()
        evidence = f"Evidence of {name} {run}".encode()
        unreleased_work = f"{name}'s reflection {run}".encode()
        submission = submit_with_file(essay, user, work, "essay.txt")
        marking.save_mark(
            submission,
            actor=tutor,
            expected_version=0,
            mark=68,
            feedback=f"Released feedback for {name}",
        )
        unreleased = submit_with_file(reflection, user, unreleased_work, "reflection.txt")
        marking.save_mark(
            unreleased,
            actor=tutor,
            expected_version=0,
            mark=41,
            feedback=f"UNRELEASED feedback for {name}",
        )
        external = Credential(
            uuid=str(uuid.uuid4()),
            user_id=user.id,
            kind="external",
            title=f"BCS membership of {name}",
            issuer_name="BCS",
            issued_at=clock.now(),
            issued_on=date(2025, 5, 1),
            verification="self_declared",
            evidence_sha256=store(evidence),
            evidence_name="membership.txt",
        )
        db.session.add(external)
        db.session.add(
            CpdEntry(
                user_id=user.id,
                title=f"CPD of {name}",
                activity_type="reading",
                started_on=date(2026, 5, 1),
                hours=2,
                reflection=f"Reflection by {name}",
            )
        )
        db.session.commit()
        people[key] = (user, credential, submission, unreleased, external, work, feedback,
                       evidence, unreleased_work)  # fmt: skip
    marking.release(essay, actor=tutor)
    db.session.commit()
    for key, (_, _, submission, *_rest) in people.items():
        mark = marking.mark_for(submission)
        mark.feedback_file_sha256 = store(people[key][6])
        mark.feedback_file_name = "feedback.txt"
    db.session.commit()
    return World(
        cohort=cohort,
        admin=admin,
        tutor=tutor,
        alice=Person(*people["alice"]),
        bob=Person(*people["bob"]),
        essay=essay,
        reflection=reflection,
    )


@pytest.fixture
def client_for(app, login_as):
    """`client_for(user)`: a fresh client signed in as `user`."""
    return lambda user: login_as(user, the_client=app.test_client())
