"""`flask academy generate`: scale data that obeys the schema, is idempotent per seed, and signs
in and renders like real data."""

from __future__ import annotations

import sqlalchemy as sa

from academy.assessment.models import Submission
from academy.audit.chain import verify_chain
from academy.auth.models import User
from academy.cohorts.models import Cohort, Enrolment
from academy.credentials.models import Credential
from academy.credentials.verification import verify_document
from academy.extensions import db
from academy.marking.models import Mark
from academy.organisations.models import Organisation
from academy.scale import generate
from tests.conftest import count

SMALL = ["--organisations", "8", "--learners", "60", "--cohorts", "4", "--submissions", "600",
         "--credentials", "5", "--seed", "7"]  # fmt: skip


def run(app, *args):
    return app.test_cli_runner().invoke(args=["academy", "generate", *args])


def by_email(address: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == address))


def test_it_fills_every_table_the_pages_read_and_a_second_run_writes_nothing(app, db):
    result = run(app, *SMALL)
    assert result.exit_code == 0, result.output
    assert "submission" in result.output and "Done in" in result.output
    assert count(Organisation) == 8 and count(Cohort) == 4
    assert db.session.scalar(sa.select(sa.func.count()).where(User.email.like("learner-7-%"))) == 60
    submissions = count(Submission)
    assert 500 <= submissions <= 700  # the target, give or take the draws
    assert count(Mark) > 0 and count(Credential) == 5
    # Cohorts' places match their enrolments, as the enrolment services keep them.
    for cohort in db.session.scalars(sa.select(Cohort)):
        holding = db.session.scalar(
            sa.select(sa.func.count()).where(
                Enrolment.cohort_id == cohort.id, Enrolment.status != "withdrawn"
            )
        )
        assert cohort.places_taken == holding <= cohort.capacity

    again = run(app, *SMALL)
    assert again.exit_code == 0 and "nothing written" in again.output
    assert count(Submission) == submissions and count(Organisation) == 8


def test_the_trusts_are_skewed_with_one_large_and_one_medium():
    sizes = generate._staff_sizes(generate.Scale(organisations=220, learners=20_000))
    assert len(sizes) == 220 and sum(sizes) == 20_000 and min(sizes) >= 1
    assert sizes[0] == 5_000 and sizes[1] == 500
    assert sum(1 for size in sizes if size >= 500) >= 5
    assert sum(1 for size in sizes if size < 100) > 150  # many small trusts


def test_credentials_are_signed_and_the_audit_chain_holds(app, db):
    assert run(app, *SMALL).exit_code == 0
    with app.test_request_context():
        verdicts = [
            verify_document(credential.document).verdict
            for credential in db.session.scalars(sa.select(Credential))
        ]
        assert verdicts == ["valid"] * 5
        assert verify_chain().intact


def test_generated_people_sign_in_and_the_key_pages_render(app, db, login_as):
    assert run(app, *SMALL).exit_code == 0
    cohort = db.session.scalar(sa.select(Cohort).where(Cohort.name == "Scale 7 intake 0"))
    learner = db.session.scalar(
        sa.select(User)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status == "active")
        .limit(1)
    )
    tutor = by_email("tutor-7-0@scale.test")
    sponsor = by_email("sponsor-7-1@scale.test")
    credential = db.session.scalars(sa.select(Credential)).first()
    pages = [
        (learner, "/learning"),
        (tutor, "/marking"),
        (tutor, f"/marking/cohorts/{cohort.id}/gradebook"),
        (sponsor, f"/organisations/{sponsor.organisation_id}/dashboard"),
        (None, f"/credentials/{credential.uuid}"),
    ]
    for who, path in pages:
        client = app.test_client()
        if who is not None:
            login_as(who, password=generate.PASSWORD, the_client=client)
        assert client.get(path).status_code == 200, path


def test_it_refuses_to_run_in_production(app, db):
    app.config["ACADEMY_ENV"] = "production"
    try:
        result = run(app, *SMALL)
    finally:
        app.config["ACADEMY_ENV"] = "testing"
    assert result.exit_code != 0 and "production" in result.output
    assert count(Organisation) == 0
