import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.auth.models import User
from academy.auth.passwords import verify_password
from academy.extensions import db
from academy.organisations.models import Organisation


def run(app, *args):
    return app.test_cli_runner().invoke(args=["academy", *args])


def test_create_user_with_the_documented_form(app, make, outbox):
    org = make.organisation(ods_code="RJ1")
    result = run(
        app,
        "create-user",
        "--email",
        "Chief@Trust.example",
        "--password",
        "a long enough pass",
        "--name",
        "Chief Clinical",
        "--role",
        "sponsor",
        "--organisation",
        "rj1",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "chief@trust.example"))
    assert user.organisation_id == org.id
    assert verify_password(user.password_hash, "a long enough pass")
    [role] = user.active_roles()
    assert (role.role, role.organisation_id) == ("sponsor", org.id)
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"user.create", "role.grant"} <= actions
    assert outbox == []


def test_create_user_refuses_duplicates_and_bad_input_and_writes_nothing(app, make):
    make.user(email="taken@trust.example")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    duplicate = run(
        app,
        "create-user",
        "--email",
        "TAKEN@trust.example",
        "--name",
        "X",
        "--password",
        "a long enough pass",
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = run(
        app,
        "create-user",
        "--email",
        "new@trust.example",
        "--name",
        "X",
        "--password",
        "short",
        "--role",
        "admin",
    )
    assert short.exit_code != 0 and "at least 12" in short.output
    unknown_org = run(
        app, "create-user", "--email", "new@trust.example", "--name", "X", "--organisation", "ZZZ9"
    )
    assert unknown_org.exit_code != 0 and "ZZZ9" in unknown_org.output
    sponsor_without_org = run(
        app,
        "create-user",
        "--email",
        "new@trust.example",
        "--name",
        "X",
        "--role",
        "sponsor",
        "--password",
        "a long enough pass",
    )
    assert sponsor_without_org.exit_code != 0 and "organisation_id" in sponsor_without_org.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_create_user_without_password_sends_an_invitation(app, outbox):
    result = run(app, "create-user", "--email", "invitee@trust.example", "--name", "Invitee")
    assert result.exit_code == 0, result.output
    [message] = outbox
    assert message["To"] == "invitee@trust.example"
    assert "https://academy.test/set-password/" in message.get_body(("plain",)).get_content()


def test_demo_loads_realistic_data_idempotently_and_prints_logins(app):
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    counts = (
        db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)),
        db.session.scalar(sa.select(sa.func.count()).select_from(User)),
    )
    assert counts[0] >= 5 and counts[1] >= 5
    assert "admin@academy.example" in first.output and "password" in first.output.lower()
    rj1 = db.session.scalar(sa.select(Organisation).where(Organisation.ods_code == "RJ1"))
    assert rj1.name == "Guy's and St Thomas' NHS Foundation Trust"

    second = run(app, "demo")
    assert second.exit_code == 0, second.output
    assert counts == (
        db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)),
        db.session.scalar(sa.select(sa.func.count()).select_from(User)),
    )
    sponsor = db.session.scalar(sa.select(User).where(User.email == "sponsor@academy.example"))
    assert [(r.role, r.organisation_id) for r in sponsor.active_roles()] == [("sponsor", rj1.id)]


def test_demo_has_a_programme_with_content_cohorts_across_trusts_and_an_assignment(app):
    from academy.assessment.models import Assignment
    from academy.catalogue.models import Programme
    from academy.cohorts.models import Cohort, Enrolment
    from academy.content.models import Resource
    from academy.credentials.models import Credential

    assert run(app, "demo").exit_code == 0
    [programme] = db.session.scalars(sa.select(Programme)).all()
    topics = {m.topic for m in programme.core_modules}
    assert {"informatics", "change_management"} <= topics
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Resource)) >= 5
    cohorts = db.session.scalars(sa.select(Cohort)).all()
    assert len(cohorts) == 3
    sponsors = set(db.session.scalars(sa.select(Enrolment.sponsor_organisation_id)))
    assert len(sponsors) >= 3
    tutor = db.session.scalar(sa.select(User).where(User.email == "tutor@academy.example"))
    assert {r.cohort_id for r in tutor.active_roles()} == {c.id for c in cohorts}
    # One open assignment, and the finished cohort's four.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 5

    enrolments = db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment))
    credentials = db.session.scalar(sa.select(sa.func.count()).select_from(Credential))
    assert run(app, "demo").exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == enrolments
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) == credentials


def test_demo_graduates_hold_the_credentials_their_released_marks_earn(app):
    from academy.credentials.models import Credential

    assert run(app, "demo").exit_code == 0
    held = [
        (user.email, credential.kind, credential.classification)
        for credential, user in db.session.execute(
            sa.select(Credential, User).join(User, User.id == Credential.user_id)
        )
        if credential.kind != "external"
    ]
    hannah = "hannah.clarke@academy.example"
    assert (hannah, "award", "Merit") in held
    assert sum(1 for email, kind, _ in held if email == hannah and kind == "module") == 4
    # Rhys failed one module and skipped another: two module credentials, no award.
    rhys = [(kind, c) for email, kind, c in held if email == "rhys.morgan@academy.example"]
    assert rhys == [("module", None)] * 2
