"""Realistic demo data: real NHS organisations by ODS code, a programme with content, two
cohorts across several trusts, and an assignment. Loading is idempotent and goes through the
services, so it is audited like any other change; the caller commits."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from academy.assessment import services as assessment_services
from academy.assessment.models import Assignment
from academy.auth import mfa
from academy.auth import services as auth_services
from academy.auth.models import RoleAssignment, User
from academy.catalogue import services as catalogue_services
from academy.cohorts import services as cohort_services
from academy.cohorts.models import Cohort
from academy.content import services as content_services
from academy.content.models import ContentSection
from academy.extensions import db
from academy.organisations import services as organisation_services
from academy.organisations.models import Organisation

DEMO_PASSWORD = "digital-academy-demo"  # noqa: S105 - printed to every demo user on purpose
#: The demo staff's authenticator keys (their roles require two-factor authentication), printed
#: by `flask academy demo` so a tester can add them to an app. Public, so demo data only.
DEMO_TOTP_SECRETS = {
    "admin@academy.example": "DEMOADMINACADEMYKEY2345672345672",
    "tutor@academy.example": "DEMOTUTORACADEMYKEY2345672345672",
}

# (ODS, name, sector, nation, credential target, NHS England region or None outside England)
ORGANISATIONS = [
    ("RJ1", "Guy's and St Thomas' NHS Foundation Trust", "acute", "england", 5, "london"),
    ("RRK", "University Hospitals Birmingham NHS Foundation Trust", "acute", "england", 8,
     "midlands"),
    ("R0A", "Manchester University NHS Foundation Trust", "acute", "england", 6, "north_west"),
    ("RX4", "Cumbria, Northumberland, Tyne and Wear NHS Foundation Trust", "mental_health",
     "england", 4, "north_east_and_yorkshire"),
    ("QWE", "NHS South West London Integrated Care Board", "icb", "england", 3, "london"),
    ("7A4", "Cardiff and Vale University Health Board", "health_board", "wales", 5, None),
]  # fmt: skip

# (email, name, role, ODS of employer (and of a sponsor's scope), registration)
PEOPLE = [
    ("admin@academy.example", "Ada Okafor", "admin", None, None),
    ("tutor@academy.example", "Dr Tomasz Nowak", "tutor", None, "GMC 7012345"),
    ("sponsor@academy.example", "Sarah Whitfield", "sponsor", "RJ1", None),
    ("priya.shah@academy.example", "Dr Priya Shah", "learner", "RJ1", "GMC 7098765"),
    ("liam.evans@academy.example", "Liam Evans", "learner", "RJ1", "NMC 12A3456E"),
    ("grace.adeyemi@academy.example", "Grace Adeyemi", "learner", "RRK", "HCPC PA123456"),
    ("owen.price@academy.example", "Owen Price", "learner", "7A4", None),
    ("amira.haddad@academy.example", "Dr Amira Haddad", "learner", "R0A", "GMC 7123456"),
    ("jack.murphy@academy.example", "Jack Murphy", "learner", "RX4", "NMC 09B8765C"),
    ("hannah.clarke@academy.example", "Dr Hannah Clarke", "learner", "RJ1", "GMC 6543210"),
    ("rhys.morgan@academy.example", "Rhys Morgan", "learner", "7A4", "HCPC PH654321"),
]

MODULES = [
    ("DHL701", "Foundations of health informatics", "informatics", 15,
     "How information flows through care, and what a CCIO does about it.",
     ["Explain the role of the CCIO in an NHS trust",
      "Describe the main clinical systems and the standards that connect them",
      "Assess the quality of clinical data for a given purpose"]),
    ("DHL702", "Leading digital change", "change_management", 15,
     "Bringing clinicians with you through an electronic patient record go-live.",
     ["Apply a change model to a digital programme",
      "Plan engagement with clinical and operational staff",
      "Evaluate the benefits realised by a digital change"]),
    ("DHL703", "Data, analytics and decision-making", "data_analytics", 15,
     "Turning routinely collected data into decisions a board can trust.",
     ["Choose appropriate measures for a service question",
      "Present analysis with its uncertainty to a non-specialist audience"]),
    ("DHL704", "Clinical safety and digital risk", "clinical_safety", 15,
     "DCB0129 and DCB0160 in practice: hazard logs and safety cases.",
     ["Produce a hazard log for a clinical system change",
      "Explain the duties of a Clinical Safety Officer"]),
]  # fmt: skip

CONTENT = {
    "DHL701": [
        ("Week 1: What is a CCIO for?", [
            ("page", "Welcome to the module", {"body": (
                "Welcome. Over the next weeks we look at **how information supports care** and "
                "what chief clinical information officers do about it.\n\n"
                "- Read the Wachter review summary\n- Post one question for the first seminar")}),
            ("reading", "Making IT work (the Wachter review)", {
                "body": "Wachter R. *Making IT Work: Harnessing the Power of Health Information "
                        "Technology to Improve Care in England.* Department of Health, 2016.",
                "url": "https://www.gov.uk/government/publications/using-information-technology-to-improve-the-nhs"}),
            ("link", "Faculty of Clinical Informatics", {"url": "https://facultyofclinicalinformatics.org.uk/"}),
        ]),
        ("Week 2: Standards and interoperability", [
            ("page", "Why standards matter", {"body": (
                "SNOMED CT, dm+d and FHIR let systems mean the same thing. This week compares "
                "them with examples from discharge summaries.")}),
            ("link", "NHS England: interoperability", {"url": "https://www.england.nhs.uk/digitaltechnology/"}),
        ]),
    ],
    "DHL702": [
        ("Week 1: Models of change", [
            ("page", "Kotter, ADKAR and the NHS", {"body": (
                "Change models are maps, not territory. We look at where each helps, and where "
                "clinical teams push back.")}),
            ("reading", "Leading change", {
                "body": "Kotter JP. *Leading Change.* Harvard Business Review Press, 2012."}),
        ]),
    ],
}  # fmt: skip

#: A cohort that has finished: its work was handed in, marked and released through the services at
#: the dates it happened, so its results and credentials are exactly what the system would issue.
#: Marks per module, in MODULES order; None is a module the learner did not take.
GRADUATES_COHORT = ("2025 autumn", date(2025, 9, 15), date(2026, 7, 17), 20)
GRADUATES = {
    "hannah.clarke@academy.example": (72, 68, 61, 74),
    "rhys.morgan@academy.example": (58, 55, 38, None),
}
#: Credentials held elsewhere: (learner, title, awarding body, awarded, expires, verified).
EXTERNAL_CREDENTIALS = [
    ("priya.shah@academy.example", "Associate Member", "Faculty of Clinical Informatics",
     date(2024, 5, 1), None, True),
    ("liam.evans@academy.example", "PRINCE2 Foundation", "PeopleCert",
     date(2023, 3, 10), date(2026, 3, 10), False),
    ("hannah.clarke@academy.example", "Clinical Safety Officer (DCB0129/DCB0160)",
     "NHS England Digital", date(2025, 2, 14), date(2028, 2, 14), True),
]  # fmt: skip

COHORTS = [
    ("2026 autumn", date(2026, 9, 14), date(2027, 7, 16), 30,
     ["priya.shah@academy.example", "liam.evans@academy.example",
      "grace.adeyemi@academy.example", "amira.haddad@academy.example"]),
    ("2027 spring", date(2027, 1, 11), date(2027, 12, 17), 25,
     ["owen.price@academy.example", "jack.murphy@academy.example"]),
]  # fmt: skip


def load() -> dict:
    organisations = {row[0]: _organisation(*row) for row in ORGANISATIONS}
    people = {}
    admin = None
    for email, name, role, ods, registration in PEOPLE:
        person = _person(admin, email, name, role, organisations.get(ods), registration)
        people[email] = person
        admin = admin or person
    modules = [_module(admin, *row) for row in MODULES]
    programme = _programme(admin, modules)
    for module in modules:
        _content(admin, module)
    cohorts = [_cohort(admin, programme, modules, people, *row) for row in COHORTS]
    _assignment(admin, cohorts[0], modules[0])
    _graduates(admin, programme, modules, people)
    _external_credentials(admin, people)
    _cpd(people)
    return {
        "organisations": len(organisations),
        "users": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "programmes": 1,
        "cohorts": len(cohorts) + 1,
        "credentials": _count_credentials(),
        "award_url": _award_url(),
    }


def sign_ins() -> list[str]:
    names = dict((ods, name) for ods, name, *_ in ORGANISATIONS)
    lines = []
    for email, name, role, ods, _ in PEOPLE:
        lines.append(f"{role:<8} {email:<32} {name}" + (f", {names[ods]}" if ods else ""))
        if email in DEMO_TOTP_SECRETS:
            lines.append(
                f"{'':<8} {'':<32} two-factor key for an authenticator app (time-based): "
                f"{DEMO_TOTP_SECRETS[email]}"
            )
    return lines


def _organisation(ods, name, sector, nation, target, region) -> Organisation:
    existing = organisation_services.organisation_by_ods(ods)
    if existing is not None:
        # Demo data loaded before regions were recorded gains them on the next load.
        if existing.region != region:
            organisation_services.update_organisation(existing, actor=None, region=region)
        return existing
    return organisation_services.create_organisation(
        actor=None,
        ods_code=ods,
        name=name,
        sector=sector,
        nation=nation,
        credential_target=target,
        region=region,
    )


def _person(admin, email, name, role, organisation, registration) -> User:
    user = auth_services.user_by_email(email) or auth_services.create_user(
        actor=admin,
        email=email,
        name=name,
        password=DEMO_PASSWORD,
        organisation_id=organisation.id if organisation else None,
        professional_registration=registration,
    )
    held = db.session.scalar(
        sa.select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.cohort_id.is_(None),
            RoleAssignment.ended_at.is_(None),
        )
    )
    if held is None and role != "tutor":  # tutors are scoped to their cohorts below
        auth_services.grant_role(
            user,
            role,
            actor=admin or user,
            organisation_id=organisation.id if role == "sponsor" else None,
        )
    if email in DEMO_TOTP_SECRETS and not mfa.is_enrolled(user):
        mfa.enrol_known_secret(user, DEMO_TOTP_SECRETS[email], actor=admin or user)
    return user


#: Clinical safety training is refreshed every three years, so its credential expires.
CREDENTIAL_VALIDITY_MONTHS = {"DHL704": 36}

#: Self-logged CPD: (learner, title, activity type, provider, started, ended, hours, reflection).
CPD = [
    ("priya.shah@academy.example", "Digital Health Rewired conference", "conference",
     "Digital Health", date(2026, 3, 17), date(2026, 3, 18), Decimal("12"),
     "Two days on EPR optimisation. The session on alert fatigue changed how I will review our "
     "prescribing alerts: start from the override rates, not the alert list."),
    ("priya.shah@academy.example", "Shadowing the Clinical Safety Officer", "work_based",
     "Guy's and St Thomas' NHS Foundation Trust", date(2026, 10, 6), None, Decimal("6.5"),
     "Sat in on two hazard workshops for the theatres system upgrade."),
    ("hannah.clarke@academy.example", "FHIR fundamentals (e-learning)", "e_learning",
     "NHS England Digital", date(2026, 5, 4), date(2026, 5, 29), Decimal("8"), ""),
]  # fmt: skip


def _module(admin, code, title, topic, credits, summary, outcomes):
    return catalogue_services.module_by_code(code) or catalogue_services.create_module(
        actor=admin, code=code, title=title, topic=topic, credits=credits, level=7,
        learning_outcomes=outcomes, summary=summary,
        credential_valid_months=CREDENTIAL_VALIDITY_MONTHS.get(code),
    )  # fmt: skip


def _programme(admin, modules):
    return catalogue_services.programme_by_code("PGCDHL") or catalogue_services.create_programme(
        actor=admin,
        code="PGCDHL",
        title="Digital Health Leadership",
        award_title="Postgraduate Certificate in Digital Health Leadership",
        credits_required=60,
        module_ids=[m.id for m in modules],
        core_module_ids=[m.id for m in modules[:2]],
    )


def _content(admin, module) -> None:
    already = db.session.scalar(
        sa.select(ContentSection.id).where(ContentSection.module_id == module.id).limit(1)
    )
    if already is not None:
        return
    for title, resources in CONTENT.get(module.code, []):
        section = content_services.add_section(module, actor=admin, title=title)
        for kind, resource_title, fields in resources:
            content_services.add_resource(
                section, actor=admin, kind=kind, title=resource_title, **fields
            )


def _cohort(admin, programme, modules, people, name, starts_on, ends_on, capacity, learners):
    cohort = db.session.scalar(
        sa.select(Cohort).where(Cohort.programme_id == programme.id, Cohort.name == name)
    ) or cohort_services.create_cohort(
        actor=admin,
        programme_id=programme.id,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        capacity=capacity,
        modules=[{"module_id": m.id, "starts_on": starts_on, "ends_on": ends_on} for m in modules],
    )
    tutor = people["tutor@academy.example"]
    if tutor.id not in {r.user_id for r in cohort_services.current_tutor_roles(cohort)}:
        cohort_services.assign_tutor(cohort, tutor, actor=admin)
    for email in learners:
        learner = people[email]
        if cohort_services.enrolment_of(learner, cohort) is None:
            cohort_services.enrol(learner, cohort, learner.organisation, actor=admin)
    return cohort


def _assignment(admin, cohort, module) -> None:
    delivery = next(d for d in cohort.deliveries if d.module_id == module.id)
    exists = db.session.scalar(
        sa.select(Assignment.id).where(Assignment.delivery_id == delivery.id).limit(1)
    )
    if exists is None:
        assessment_services.create_assignment(
            actor=admin,
            delivery=delivery,
            title="Case study: an electronic patient record go-live",
            brief=(
                "Write a **2,500-word** case study of a clinical system go-live you know, "
                "covering clinical engagement, safety and the data you would watch afterwards."
            ),
            opens_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            due_at=datetime(2027, 1, 15, 12, tzinfo=UTC),
            cutoff_at=datetime(2027, 1, 22, 12, tzinfo=UTC),
            allowed_types=["pdf", "docx", "odt"],
            max_size_mb=20,
        )


def _count_credentials() -> int:
    from academy.credentials.models import Credential

    return db.session.scalar(sa.select(sa.func.count(Credential.id)))


def _graduates(admin, programme, modules, people) -> None:
    """The finished cohort's year replayed through the services with the clock set to when each
    step happened: submissions before the deadlines, marks released after. Credentials are then
    issued by the same code that issues them for real."""
    from academy.core import clock
    from academy.marking import services as marking_services

    name, starts_on, ends_on, capacity = GRADUATES_COHORT
    tutor = people["tutor@academy.example"]
    existing = db.session.scalar(
        sa.select(Cohort).where(Cohort.programme_id == programme.id, Cohort.name == name)
    )
    if existing is None:
        with clock.frozen_at(datetime(2025, 7, 1, 9, tzinfo=UTC)):
            cohort = _cohort(
                admin, programme, modules, people, name, starts_on, ends_on, capacity,
                list(GRADUATES),
            )  # fmt: skip
        for position, module in enumerate(modules):
            delivery = next(d for d in cohort.deliveries if d.module_id == module.id)
            due = datetime(2026, 1 + position * 2, 13, 12, tzinfo=UTC)
            with clock.frozen_at(datetime(2025, 10, 1, 9, tzinfo=UTC)):
                assignment = assessment_services.create_assignment(
                    actor=admin, delivery=delivery,
                    title=f"{module.code} assessed essay",
                    brief="A **3,000-word** essay on the module's learning outcomes.",
                    opens_at=datetime(2025, 10, 1, 9, tzinfo=UTC),
                    due_at=due, cutoff_at=due.replace(day=20),
                    allowed_types=["pdf", "docx", "txt"], max_size_mb=20,
                )  # fmt: skip
            marked = []
            for email, marks in GRADUATES.items():
                if marks[position] is None:
                    continue
                learner = people[email]
                with clock.frozen_at(due.replace(day=9)):
                    essay = f"{module.code} essay by {learner.name}.\n".encode() * 40
                    assessment_services.add_file(
                        assignment, learner, io.BytesIO(essay), f"{module.code}-essay.txt"
                    )
                    submission = assessment_services.submission_for(assignment, learner.id)
                    assessment_services.submit(submission, declaration=True, actor=learner)
                marked.append((submission, marks[position]))
            with clock.frozen_at(due.replace(day=27)):
                for submission, mark in marked:
                    marking_services.save_mark(
                        submission, actor=tutor, expected_version=0, mark=mark,
                        feedback="Well argued, with good use of NHS examples. See the rubric "
                        "comments for where the analysis could go further.",
                    )  # fmt: skip
                marking_services.release(assignment, actor=tutor)
        with clock.frozen_at(datetime(2026, 7, 20, 9, tzinfo=UTC)):
            for email in GRADUATES:
                cohort_services.change_status(
                    cohort_services.enrolment_of(people[email], cohort),
                    status="completed",
                    reason="Completed the 2025-26 programme year",
                    actor=admin,
                )


def _external_credentials(admin, people) -> None:
    from academy.credentials import services as credential_services
    from academy.credentials.models import Credential

    for email, title, issuer, issued_on, expires_on, verified in EXTERNAL_CREDENTIALS:
        learner = people[email]
        exists = db.session.scalar(
            sa.select(Credential.id).where(
                Credential.user_id == learner.id, Credential.title == title
            )
        )
        if exists is not None:
            continue
        credential = credential_services.record_external(
            learner, actor=learner, title=title, issuer=issuer,
            issued_on=issued_on, expires_on=expires_on,
        )  # fmt: skip
        if verified:
            credential_services.verify_external(credential, actor=admin)


def _award_url() -> str | None:
    from academy.credentials.document import public_url
    from academy.credentials.models import Credential

    award = db.session.scalar(
        sa.select(Credential).where(Credential.kind == "award").order_by(Credential.id).limit(1)
    )
    return public_url(award) if award is not None else None


def _cpd(people) -> None:
    from academy.cpd import services as cpd_services
    from academy.cpd.models import CpdEntry

    for email, title, kind, provider, started, ended, hours, reflection in CPD:
        learner = people[email]
        exists = db.session.scalar(
            sa.select(CpdEntry.id).where(CpdEntry.user_id == learner.id, CpdEntry.title == title)
        )
        if exists is None:
            cpd_services.add_entry(
                learner, actor=learner, title=title, activity_type=kind, provider=provider,
                started_on=started, ended_on=ended, hours=hours, reflection=reflection,
            )  # fmt: skip
