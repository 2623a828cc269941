"""The world the authorization matrix runs in: two trusts, two programmes with a cohort each, and
learner A's work in cohort A taken all the way (a submitted file, a receipt, an extension request,
a released mark with a feedback file, an issued credential, a self-declared external credential
with evidence, a CPD entry, an email, an API token), plus the people around it.

Every id a URL takes is filled with an object of cohort A / learner A's world (`url_values`), so
each actor's outcome says whether they reach *that* object."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

from flask import url_for
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.assessment import services as assessment
from academy.auth import services as auth
from academy.auth.models import RoleAssignment
from academy.cohorts.models import Enrolment
from academy.content import services as content
from academy.core import clock
from academy.cpd import services as cpd
from academy.credentials import services as credentials
from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking import services as marking
from academy.notifications.models import OutboxMessage
from tests.signing import TEST_PUBLIC_KEY

#: The actors, in the order the table lists them.
ACTORS = (
    "anonymous",
    "learner",
    "other_learner",
    "tutor",
    "other_tutor",
    "sponsor",
    "other_sponsor",
    "examiner",
    "admin",
)

PDF = b"%PDF-1.4\n% feedback for learner A\n%%EOF\n"

#: Routes whose `credential_id` / `uuid` must name learner A's external credential (evidence,
#: removal, verification by hand); every other credential route gets the issued one.
EXTERNAL_CREDENTIAL_ROUTES = {
    "credentials.verify",
    "credentials.evidence",
    "credentials.remove_external",
    "credentials_api.remove_external",
    "credentials_api.download_evidence",
    "credentials_api.verify",
}
#: Routes whose `submission_id` is learner A's second piece of work, first marked and waiting
#: for a second marker (the first is released, which second marking no longer reaches).
SECOND_MARKING_ROUTES = {"marking.moderate", "marking_api.moderate"}
#: Routes whose `role_id` is tutor A's role on cohort A (the rest: learner A's learner role).
TUTOR_ROLE_ROUTES = {"cohorts.remove_tutor"}


@dataclass
class World:
    users: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    external_uuid: str = ""
    external_id: int = 0
    tutor_role_id: int = 0
    second_marked_id: int = 0

    def url_values(self, endpoint: str, arguments) -> dict:
        values = dict(self.values)
        if endpoint in EXTERNAL_CREDENTIAL_ROUTES:
            values["credential_id"] = self.external_id
            values["uuid"] = self.external_uuid
        if endpoint in TUTOR_ROLE_ROUTES:
            values["role_id"] = self.tutor_role_id
        if endpoint in SECOND_MARKING_ROUTES:
            values["submission_id"] = self.second_marked_id
        if endpoint == "credentials_public.achievement":
            values["kind"] = "module"
        if endpoint == "auth.set_password":
            values["token"] = values["invite_token"]
        missing = set(arguments) - set(values)
        assert not missing, (
            f"{endpoint} takes {sorted(missing)}, which tests/security/matrix_world.py does not "
            "fill yet: add an object of learner A's world for it to World.values"
        )
        return {name: values[name] for name in arguments}

    def url(self, rule) -> str:
        return url_for(rule.endpoint, **self.url_values(rule.endpoint, rule.arguments))


def build(make, app) -> World:
    ours, theirs = make.organisation(), make.organisation()
    module_a, module_b = make.module(), make.module()
    programme_a = make.programme(modules=[module_a])
    programme_b = make.programme(modules=[module_b])
    cohort_a, cohort_b = make.cohort(programme_a), make.cohort(programme_b)

    learner = make.learner_in(cohort_a, organisation=ours)
    other_learner = make.learner_in(cohort_b, organisation=theirs)
    tutor = make.user("tutor", scope=cohort_a)
    other_tutor = make.user("tutor", scope=cohort_b)
    admin = make.user("admin")
    users = {
        "anonymous": None,
        "learner": learner,
        "other_learner": other_learner,
        "tutor": tutor,
        "other_tutor": other_tutor,
        "sponsor": make.user("sponsor", scope=ours),
        "other_sponsor": make.user("sponsor", scope=theirs),
        "examiner": make.user("examiner", scope=programme_a),
        "admin": admin,
    }
    assignment = make.assignment(cohort_a)
    make.assignment(cohort_b)
    delivery = cohort_a.deliveries[0]

    with app.test_request_context():
        file = assessment.add_file(assignment, learner, io.BytesIO(b"My essay.\n"), "essay.txt")
        submission = file.submission
        extension = assessment.request_extension(
            assignment,
            learner,
            reason="A family emergency",
            requested_due_at=assignment.due_at + timedelta(days=40),
        )
        receipt = assessment.submit(submission, declaration=True, actor=learner)
        mark = marking.save_mark(
            submission,
            actor=tutor,
            expected_version=0,
            mark=65,
            feedback="Well argued.",
            feedback_file=(io.BytesIO(PDF), "feedback.pdf"),
        )
        marking.release(assignment, actor=tutor)
        db.session.flush()
        # Set after the release, so learner A's module result (and credential) stands.
        second = make.assignment(cohort_a, title="Reflective log", second_marking="all")
        assessment.add_file(second, learner, io.BytesIO(b"My log.\n"), "log.txt")
        second_marked = assessment.submission_for(second, learner.id)
        assessment.submit(second_marked, declaration=True, actor=learner)
        marking.save_mark(second_marked, actor=tutor, expected_version=0, mark=58)
        issued = db.session.scalars(
            db.select(Credential).where(
                Credential.user_id == learner.id, Credential.kind != "external"
            )
        ).first()
        external = credentials.record_external(
            learner,
            actor=learner,
            title="Faculty of Clinical Informatics membership",
            issuer="FCI",
            issued_on=clock.today() - timedelta(days=30),
            evidence=(io.BytesIO(PDF), "membership.pdf"),
        )
        entry = cpd.add_entry(
            learner,
            actor=learner,
            title="Reading: the Wachter review",
            activity_type="reading",
            started_on=clock.today() - timedelta(days=3),
            hours="2",
        )
        section = content.add_section(module_a, actor=admin, title="Week 1")
        resource = content.add_resource(
            section,
            actor=admin,
            kind="file",
            title="Slides",
            upload=content.Upload(io.BytesIO(PDF), "slides.pdf"),
        )
        token, _ = auth.issue_token(learner, label="learner A's laptop")
        message = OutboxMessage(
            idempotency_key="matrix:learner-a",
            recipient=learner.email,
            subject="Your mark is ready",
            template="marks_released",
            text_body="Dear learner,\n\nYour mark is ready.\n",
            status="failed",
            attempts=1,
            message_id="<matrix-learner-a@academy>",
        )
        db.session.add(message)
        db.session.flush()
        reset_token = auth.make_password_token(learner, "reset")
        invite_token = auth.make_password_token(learner, "invite")
        db.session.commit()

    assert issued is not None, "learner A's released pass should have issued a credential"
    enrolment = db.session.scalars(
        db.select(Enrolment).where(Enrolment.user_id == learner.id)
    ).one()
    learner_role = next(r for r in learner.roles if r.role == "learner")
    tutor_role = db.session.scalars(
        db.select(RoleAssignment).where(
            RoleAssignment.user_id == tutor.id, RoleAssignment.cohort_id == cohort_a.id
        )
    ).one()
    return World(
        users=users,
        external_uuid=external.uuid,
        external_id=external.id,
        tutor_role_id=tutor_role.id,
        second_marked_id=second_marked.id,
        values={
            "organisation_id": ours.id,
            "user_id": learner.id,
            "programme_id": programme_a.id,
            "module_id": module_a.id,
            "cohort_id": cohort_a.id,
            "delivery_id": delivery.id,
            "enrolment_id": enrolment.id,
            "assignment_id": assignment.id,
            "submission_id": submission.id,
            "file_id": file.id,
            "receipt_id": receipt.id,
            "extension_id": extension.id,
            "mark_id": mark.id,
            "credential_id": issued.id,
            "uuid": issued.uuid,
            "list_id": issued.revocation_list_id,
            "action": "suspend",
            "entry_id": entry.id,
            "section_id": section.id,
            "resource_id": resource.id,
            "kind": "page",
            "code": module_a.code,
            "role_id": learner_role.id,
            "token_id": token.id,
            "message_id": message.id,
            "token": reset_token,
            "invite_token": invite_token,
            "public_key": TEST_PUBLIC_KEY,
            "report_key": "completion",
            "table_key": "cohorts",
            "fmt": "csv",
            "filename": "academy.js",
        },
    )


def _moment(days: int) -> str:
    return (clock.now() + timedelta(days=days)).isoformat()


#: Smallest valid JSON bodies for the API's state-changing endpoints whose schema would refuse
#: `{}` with 422 before any authorization check (flask-smorest parses first), keyed by endpoint;
#: values are functions of `World.values`. Objects named in a body are learner A's world's too.
API_BODIES = {
    "assessment_api.create_assignment": lambda v: {
        "cohort_id": v["cohort_id"],
        "module_id": v["module_id"],
        "title": "Board paper",
        "opens_at": _moment(1),
        "due_at": _moment(20),
    },
    "assessment_api.update_assignment": lambda v: {"version": 1, "title": "Renamed"},
    "assessment_api.request_extension": lambda v: {
        "assignment_id": v["assignment_id"],
        "reason": "Illness",
        "requested_due_at": _moment(60),
    },
    "assessment_api.decide_extension": lambda v: {"approved": False, "comment": "No"},
    "assessment_api.reopen": lambda v: {"reason": "The wrong file"},
    "assessment_api.submit": lambda v: {"declaration": True},
    "marking_api.save_mark": lambda v: {"mark": 66, "version": 1, "reason": "Re-marked"},
    "marking_api.moderate": lambda v: {"agreed": True},
    "credentials_api.revoke": lambda v: {"reason": "Issued in error"},
    "credentials_api.suspend": lambda v: {"reason": "Under review"},
    "credentials_api.reinstate": lambda v: {"reason": "Review done"},
    "cpd_api.add_entry": lambda v: {
        "title": "Webinar",
        "activity_type": "reading",
        "started_on": clock.today().isoformat(),
        "hours": 1,
    },
    "cpd_api.update_entry": lambda v: {
        "title": "Webinar",
        "activity_type": "reading",
        "started_on": clock.today().isoformat(),
        "hours": 1,
        "version": 1,
    },
    "reporting_exports_api.update_my_subscriptions": lambda v: {
        "subscriptions": [
            {"organisation_id": v["organisation_id"], "frequency": "weekly", "version": 0}
        ]
    },
    "notifications_api.put_email_preferences": lambda v: {"opt_outs": []},
    "auth_api.put_marks_sharing": lambda v: {"shares_marks_with_sponsor": True},
}


def _multipart(name: str, data: bytes) -> dict:
    # Encoded in memory: the test client would spool it to a temporary file nothing closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name)})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


#: Multipart uploads, as keyword arguments for the test client.
API_FILES = {"assessment_api.upload_file": lambda v: _multipart("draft.txt", b"Draft two.\n")}
