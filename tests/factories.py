"""Factories that build rows directly, fast, with realistic values.

They commit, as the data a request finds would have been committed before it; each test's outer
transaction still rolls everything back."""

from __future__ import annotations

import itertools
from datetime import date

import pyotp

from academy.auth import mfa
from academy.auth import services as auth_services
from academy.auth.models import RoleAssignment, User
from academy.auth.passwords import hash_password
from academy.catalogue.models import Module, Programme, ProgrammeModule
from academy.cohorts.models import Cohort, Enrolment, EnrolmentStatusChange, ModuleDelivery
from academy.content.models import ContentSection, Resource
from academy.core import clock
from academy.extensions import db
from academy.organisations.models import Organisation

PASSWORD = "correct horse battery staple"
#: The authenticator secret `Factories.mfa` and `login_as` enrol staff with.
TOTP_SECRET = "TESTTOTPSECRETFORACADEMYSTAFF234"
_PASSWORD_HASH: str | None = None
_sequence = itertools.count(1)


def _password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per run.
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


class Factories:
    def __init__(self, app):
        self.app = app

    def organisation(self, **fields) -> Organisation:
        n = next(_sequence)
        organisation = Organisation(
            ods_code=fields.pop("ods_code", f"T{n:04d}"),
            name=fields.pop("name", f"Test Hospitals NHS Foundation Trust {n}"),
            sector=fields.pop("sector", "acute"),
            nation=fields.pop("nation", "england"),
            **fields,
        )
        db.session.add(organisation)
        db.session.commit()
        return organisation

    def user(self, role: str | None = None, *, organisation=None, scope=None, **fields) -> User:
        """A user, optionally holding `role` (scoped to `scope`: an organisation for sponsors)."""
        n = next(_sequence)
        user = User(
            email=fields.pop("email", f"person{n}@nhs.test"),
            name=fields.pop("name", f"Person {n}"),
            password_hash=fields.pop("password_hash", _password_hash()),
            organisation_id=organisation.id if organisation else None,
            active=fields.pop("active", True),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        if role:
            self.role(user, role, scope=scope)
        return user

    def role(
        self, user, role: str, *, scope=None, valid_from=None, valid_to=None
    ) -> RoleAssignment:
        # The scope column follows what `scope` is, so `make.user(role, scope=org)` works for
        # any role: a sponsor's organisation, a tutor's cohort, an examiner's programme.
        columns = {}
        if role == "sponsor":
            columns["organisation_id"] = scope.id
        elif role == "tutor" and isinstance(scope, Cohort):
            columns["cohort_id"] = scope.id
        elif role == "examiner" and isinstance(scope, Programme):
            columns["programme_id"] = scope.id
        assignment = RoleAssignment(
            user_id=user.id,
            role=role,
            valid_from=valid_from or date(2020, 1, 1),
            valid_to=valid_to,
            **columns,
        )
        db.session.add(assignment)
        db.session.commit()
        db.session.refresh(user)
        return assignment

    def module(self, **fields) -> Module:
        n = next(_sequence)
        module = Module(
            code=fields.pop("code", f"DHL{n:03d}"),
            title=fields.pop("title", f"Health informatics in practice {n}"),
            topic=fields.pop("topic", "informatics"),
            credits=fields.pop("credits", 15),
            level=fields.pop("level", 7),
            learning_outcomes=fields.pop("learning_outcomes", ["Explain the role of a CCIO"]),
            **fields,
        )
        return self._save(module)

    def programme(self, modules=(), core=(), **fields) -> Programme:
        """A programme offering `modules` (optional) and `core` (core) modules."""
        n = next(_sequence)
        programme = Programme(
            code=fields.pop("code", f"PGC{n:03d}"),
            title=fields.pop("title", f"Digital Health Leadership {n}"),
            award_title=fields.pop("award_title", "Postgraduate Certificate in Digital Health"),
            credits_required=fields.pop("credits_required", 60),
            **fields,
        )
        for position, module in enumerate([*core, *modules]):
            programme.modules.append(
                ProgrammeModule(module=module, is_core=module in core, position=position)
            )
        return self._save(programme)

    def cohort(self, programme=None, modules=None, **fields) -> Cohort:
        """A cohort of `programme` running each of `modules` (default: the programme's)."""
        n = next(_sequence)
        programme = programme or self.programme(modules=[self.module()])
        cohort = Cohort(
            programme_id=programme.id,
            name=fields.pop("name", f"2027 spring {n}"),
            starts_on=fields.pop("starts_on", date(2027, 1, 11)),
            ends_on=fields.pop("ends_on", date(2027, 12, 17)),
            capacity=fields.pop("capacity", 30),
            nation=fields.pop("nation", "england"),
            **fields,
        )
        for module in (
            programme.core_modules + programme.optional_modules if modules is None else modules
        ):
            cohort.deliveries.append(
                ModuleDelivery(
                    module_id=module.id, starts_on=cohort.starts_on, ends_on=cohort.ends_on
                )
            )
        return self._save(cohort)

    def enrolment(self, user, cohort, sponsor=None, status="active") -> Enrolment:
        """`user` enrolled in `cohort`, sponsored by `sponsor` (default: their employer)."""
        sponsor_id = sponsor.id if sponsor else user.organisation_id
        if sponsor_id is None:
            sponsor_id = self.organisation().id
        enrolment = Enrolment(
            user_id=user.id, cohort_id=cohort.id, sponsor_organisation_id=sponsor_id, status=status
        )
        enrolment.history.append(EnrolmentStatusChange(to_status=status, reason="enrolled"))
        cohort.places_taken += 1 if status != "withdrawn" else 0
        return self._save(enrolment)

    def learner_in(self, cohort, organisation=None, **fields) -> User:
        """A learner employed by `organisation` and enrolled in `cohort`, sponsored by it."""
        organisation = organisation or self.organisation()
        user = self.user("learner", organisation=organisation, **fields)
        self.enrolment(user, cohort, sponsor=organisation)
        return user

    def section(self, module, **fields) -> ContentSection:
        n = next(_sequence)
        section = ContentSection(
            module_id=module.id,
            title=fields.pop("title", f"Week {n}"),
            position=fields.pop("position", n),
            **fields,
        )
        return self._save(section)

    def resource(self, section, kind="page", **fields) -> Resource:
        n = next(_sequence)
        defaults = {
            "page": {"body": "Read this **carefully**."},
            "link": {"url": "https://digital.nhs.uk/"},
            "reading": {"body": "Wachter R. Making IT work. Department of Health, 2016."},
            "file": {
                "file_sha256": "0" * 64,
                "file_name": "slides.pdf",
                "file_size": 10,
                "file_type": "application/pdf",
            },
        }[kind]
        resource = Resource(
            section_id=section.id,
            kind=kind,
            title=fields.pop("title", f"Resource {n}"),
            position=fields.pop("position", n),
            **{**defaults, **fields},
        )
        return self._save(resource)

    def assignment(self, cohort=None, **fields):
        """An assignment on the first module `cohort` runs, open now and due in a week."""
        from datetime import timedelta

        from academy.assessment.models import Assignment
        from academy.core import clock

        cohort = cohort or self.cohort()
        now = clock.now()
        assignment = Assignment(
            delivery_id=fields.pop("delivery", cohort.deliveries[0]).id,
            title=fields.pop("title", "Case study: an EPR go-live"),
            brief=fields.pop("brief", "Write **2,000 words**."),
            opens_at=fields.pop("opens_at", now - timedelta(days=7)),
            due_at=(due := fields.pop("due_at", now + timedelta(days=7))),
            cutoff_at=fields.pop("cutoff_at", due + timedelta(days=7)),
            allowed_types=fields.pop("allowed_types", ["pdf", "docx", "txt"]),
            max_size_mb=fields.pop("max_size_mb", 5),
            **fields,
        )
        return self._save(assignment)

    def submission(self, assignment, user, *, late_working_days=0, status="submitted"):
        """A handed-in submission with one file (bytes not stored: enough for marking)."""
        from academy.assessment.models import Submission, SubmissionFile
        from academy.core import clock

        submission = Submission(
            assignment_id=assignment.id,
            user_id=user.id,
            status=status,
            submitted_at=clock.now() if status == "submitted" else None,
            late_working_days=late_working_days if status == "submitted" else None,
        )
        submission.files.append(
            SubmissionFile(name="essay.pdf", sha256="1" * 64, size=1000, file_type="pdf")
        )
        return self._save(submission)

    def passed(self, learner, cohort, *, mark=65, actor=None, assignment=None):
        """`learner` passes the cohort's first module: one assignment marked `mark` out of 100
        and released, through the marking services. Returns the released Mark."""
        from academy.marking import services as marking

        assignment = assignment or self.assignment(cohort)
        actor = actor or self.user("admin")
        submission = self.submission(assignment, learner)
        saved = marking.save_mark(submission, actor=actor, expected_version=0, mark=mark)
        marking.release(assignment, actor=actor)
        db.session.commit()
        return saved

    def credential(self, learner=None, cohort=None, **fields):
        """An issued module credential: `learner` (default: a new one) passes the first module
        of `cohort` (default: a new one) and the academy issues the credential."""
        import sqlalchemy as sa

        from academy.credentials.models import Credential

        cohort = cohort or self.cohort()
        learner = learner or self.learner_in(cohort)
        mark = self.passed(learner, cohort, **fields)
        module_id = mark.submission.assignment.delivery.module_id
        return db.session.scalar(
            sa.select(Credential).where(
                Credential.user_id == learner.id,
                Credential.module_id == module_id,
                Credential.revoked_at.is_(None),
            )
        )

    def _save(self, row):
        db.session.add(row)
        db.session.commit()
        return row

    def token_for(self, user) -> str:
        with self.app.test_request_context():
            _, secret = auth_services.issue_token(user, label="test")
            db.session.commit()
        return secret

    def mfa(self, user, secret: str = TOTP_SECRET) -> list[str]:
        """Turn on `user`'s two-factor authentication with `secret`; their recovery codes."""
        with self.app.test_request_context():
            codes = mfa.enrol_known_secret(user, secret, actor=None)
            db.session.commit()
        return codes


def totp_code(user, *, steps_ahead: int = 0) -> str:
    """The code `user`'s authenticator shows now on the academy clock (or `steps_ahead` steps on),
    read from their stored secret (needs an app context)."""
    totp = pyotp.TOTP(mfa.decrypt_secret(user.totp_secret))
    return totp.generate_otp(totp.timecode(clock.now()) + steps_ahead)


class ApiClient:
    """A test client that sends JSON with a bearer token."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers):
        merged = {"Accept": "application/json"}
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        merged.update(headers or {})
        return merged

    def open(self, method, path, json=None, headers=None, **kw):
        if not path.startswith("/"):
            path = "/api/v1/" + path
        return self.client.open(
            path, method=method, json=json, headers=self._headers(headers), **kw
        )

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.open("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.open("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.open("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)
