"""`flask --app wsgi academy ...`: commands for operators and scripts. Each commits once."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from academy.auth import services as auth_services
from academy.auth.models import ROLES, RoleAssignment, User
from academy.core.errors import DomainError
from academy.extensions import db
from academy.organisations import services as organisation_services

academy_cli = AppGroup("academy", help="Academy administration commands.")


def _fail(error: DomainError) -> None:
    db.session.rollback()
    where = f" ({error.field})" if error.field else ""
    raise click.ClickException(f"{error.message}{where}")


@academy_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", help="At least 12 characters. Without one, an invitation is emailed.")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), help="Grant this role now.")
@click.option(
    "--organisation",
    "ods_code",
    help="ODS code of the employing organisation "
    "(and, for a sponsor, the organisation the role covers).",
)
def create_user(email, password, name, role, ods_code):
    """Create an account, optionally with a role."""
    organisation = None
    if ods_code:
        organisation = organisation_services.organisation_by_ods(ods_code)
        if organisation is None:
            raise click.ClickException(f"No organisation has ODS code {ods_code.upper()}")
    try:
        user = auth_services.create_user(
            actor=None,
            email=email,
            name=name,
            password=password,
            organisation_id=organisation.id if organisation else None,
        )
        if role:
            auth_services.grant_role(
                user,
                role,
                actor=user,
                organisation_id=organisation.id if role == "sponsor" and organisation else None,
            )
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Created {user.email}" + (f" with the {role} role" if role else ""))


DEMO_PASSWORD = "digital-academy-demo"  # noqa: S105 - printed to every demo user on purpose

DEMO_ORGANISATIONS = [
    ("RJ1", "Guy's and St Thomas' NHS Foundation Trust", "acute", "england", 5),
    ("RRK", "University Hospitals Birmingham NHS Foundation Trust", "acute", "england", 8),
    ("R0A", "Manchester University NHS Foundation Trust", "acute", "england", 6),
    (
        "RX4",
        "Cumbria, Northumberland, Tyne and Wear NHS Foundation Trust",
        "mental_health",
        "england",
        4,
    ),
    ("QWE", "NHS South West London Integrated Care Board", "icb", "england", 3),
    ("7A4", "Cardiff and Vale University Health Board", "health_board", "wales", 5),
]

# (email, name, role, ODS of employer (and sponsor scope), registration)
DEMO_PEOPLE = [
    ("admin@academy.example", "Ada Okafor", "admin", None, None),
    ("tutor@academy.example", "Dr Tomasz Nowak", "tutor", None, "GMC 7012345"),
    ("sponsor@academy.example", "Sarah Whitfield", "sponsor", "RJ1", None),
    ("priya.shah@academy.example", "Dr Priya Shah", "learner", "RJ1", "GMC 7098765"),
    ("liam.evans@academy.example", "Liam Evans", "learner", "RJ1", "NMC 12A3456E"),
    ("grace.adeyemi@academy.example", "Grace Adeyemi", "learner", "RRK", "HCPC PA123456"),
    ("owen.price@academy.example", "Owen Price", "learner", "7A4", None),
]


@academy_cli.command("demo")
@click.option("--force", is_flag=True, help="Allow loading demo data in production.")
def demo(force):
    """Load realistic demo data (idempotent) and print the demo sign-ins."""
    if current_app.config["ACADEMY_ENV"] == "production" and not force:
        raise click.ClickException("Refusing to load demo data in production (use --force).")
    organisations = {}
    for ods, name, sector, nation, target in DEMO_ORGANISATIONS:
        organisation = organisation_services.organisation_by_ods(ods)
        if organisation is None:
            organisation = organisation_services.create_organisation(
                actor=None,
                ods_code=ods,
                name=name,
                sector=sector,
                nation=nation,
                credential_target=target,
            )
        organisations[ods] = organisation
    admin = None
    for email, name, role, ods, registration in DEMO_PEOPLE:
        organisation = organisations.get(ods)
        user = auth_services.user_by_email(email)
        if user is None:
            user = auth_services.create_user(
                actor=admin,
                email=email,
                name=name,
                password=DEMO_PASSWORD,
                organisation_id=organisation.id if organisation else None,
                professional_registration=registration,
            )
        already = db.session.scalar(
            sa.select(RoleAssignment.id).where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == role,
                RoleAssignment.ended_at.is_(None),
            )
        )
        if already is None:
            auth_services.grant_role(
                user,
                role,
                actor=admin or user,
                organisation_id=organisation.id if role == "sponsor" else None,
            )
        if role == "admin":
            admin = user
    db.session.commit()
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    click.echo(f"Demo data ready: {len(organisations)} organisations, {users} users.")
    click.echo(
        f"Sign in at {current_app.config['ACADEMY_BASE_URL']}/sign-in with any of these "
        f"(password: {DEMO_PASSWORD}):"
    )
    for email, name, role, ods, _ in DEMO_PEOPLE:
        where = f", {organisations[ods].name}" if ods else ""
        click.echo(f"  {role:<8} {email:<32} {name}{where}")
