"""A person's own data as a ZIP (UK GDPR art. 15 access and art. 20 portability): JSON files of
everything the academy holds about them, their own files, and a README saying what each is.

Only what the person may already see goes in, built with the same learner-facing shapes the
pages and API use: marks and feedback only once released, never a second marker's or
moderator's workings, never another person's name or email. Events done to them by staff show
that staff did them, not who. The ZIP is written to a file the caller gives (a spooled
temporary file), and stored files are copied into it a chunk at a time, so a large export never
sits in memory whole.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app, render_template

from academy.assessment.models import Extension, Submission
from academy.assessment.schemas import ExtensionSchema, OwnSubmissionSchema
from academy.audit.models import AuditEvent
from academy.auth.models import ApiToken, User
from academy.catalogue.models import Module
from academy.cohorts.models import Enrolment
from academy.content.models import Resource, ResourceCompletion
from academy.core import clock
from academy.core.storage import CHUNK, storage
from academy.cpd import schemas as cpd_schemas
from academy.cpd.models import CpdEntry
from academy.credentials.models import Credential
from academy.credentials.schemas import credential_body
from academy.extensions import db
from academy.marking import schemas as marking_schemas
from academy.marking.models import Mark, ModuleResult
from academy.notifications.preferences import OPTIONAL
from academy.organisations.models import Organisation
from academy.reporting.models import ReportSubscription

#: The JSON files, in the order the README describes them.
JSON_FILES = (
    "profile.json",
    "preferences.json",
    "roles.json",
    "enrolments.json",
    "submissions.json",
    "extensions.json",
    "marks.json",
    "module_results.json",
    "credentials.json",
    "external_credentials.json",
    "cpd_entries.json",
    "learning_progress.json",
    "report_subscriptions.json",
    "api_tokens.json",
    "audit_events.json",
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass
class ExportSummary:
    files: int = 0
    missing_files: int = 0


def filename(user: User, today: date) -> str:
    return f"academy-data-{user.id}-{today.isoformat()}.zip"


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot export {type(value).__name__}")


def _safe(name: str | None, fallback: str) -> str:
    cleaned = _UNSAFE.sub("_", (name or "").strip()).strip(". ")[:120]
    return cleaned or fallback


class _Writer:
    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.summary = ExportSummary()

    def json(self, name: str, data) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=_default, sort_keys=False)
        self.archive.writestr(name, text + "\n")

    def blob(self, path: str, sha256: str | None) -> str | None:
        """Copy a stored file into the archive at `path`; its path, or None if it is gone."""
        if not sha256:
            return None
        store = storage()
        try:
            if not store.exists(sha256):
                self.summary.missing_files += 1
                return None
            source = store.open(sha256)
        except (FileNotFoundError, ValueError):
            self.summary.missing_files += 1
            return None
        try:
            with self.archive.open(path, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, CHUNK)
        finally:
            source.close()
        self.summary.files += 1
        return path


def _who(actor_id: int | None, user: User) -> str:
    """Who did something to the person, without naming anyone else."""
    if actor_id is None:
        return "the system"
    return "you" if actor_id == user.id else "academy staff"


# --- the parts --------------------------------------------------------------------------------


def _profile(user: User) -> dict:
    organisation = user.organisation
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "organisation": (
            {"name": organisation.name, "ods_code": organisation.ods_code} if organisation else None
        ),
        "professional_registration": user.professional_registration,
        "staff_number": user.staff_number,
        "account_active": user.active,
        "created_at": user.created_at,
        "last_signed_in_at": user.last_login_at,
        "two_step_verification_since": user.totp_enabled_at,
    }


def _preferences(user: User) -> dict:
    opted_out = set(user.email_opt_outs or [])
    return {
        "optional_emails": {
            category: {"description": label, "on": category not in opted_out}
            for category, label in OPTIONAL.items()
        },
        "shares_marks_with_sponsor": user.shares_marks_with_sponsor,
    }


def _scope(assignment) -> dict | None:
    if assignment.organisation is not None:
        return {"organisation": assignment.organisation.name}
    if assignment.cohort_id is not None:
        return {"cohort_id": assignment.cohort_id}
    if assignment.programme_id is not None:
        return {"programme_id": assignment.programme_id}
    return None


def _roles(user: User) -> list[dict]:
    return [
        {
            "role": assignment.role,
            "label": assignment.label,
            "scope": _scope(assignment),
            "valid_from": assignment.valid_from,
            "valid_to": assignment.valid_to,
            "ended_at": assignment.ended_at,
        }
        for assignment in user.roles
    ]


def _enrolments(user: User) -> list[dict]:
    enrolments = db.session.scalars(
        sa.select(Enrolment).where(Enrolment.user_id == user.id).order_by(Enrolment.id)
    ).all()
    return [
        {
            "id": enrolment.id,
            "cohort": {
                "id": enrolment.cohort.id,
                "name": enrolment.cohort.name,
                "programme": enrolment.cohort.programme.title,
                "starts_on": enrolment.cohort.starts_on,
                "ends_on": enrolment.cohort.ends_on,
            },
            "sponsor_organisation": {
                "name": enrolment.sponsor_organisation.name,
                "ods_code": enrolment.sponsor_organisation.ods_code,
            },
            "status": enrolment.status,
            "enrolled_at": enrolment.enrolled_at,
            "status_history": [
                {
                    "from_status": change.from_status,
                    "to_status": change.to_status,
                    "reason": change.reason,
                    "changed_at": change.changed_at,
                    "changed_by": _who(change.changed_by_id, user),
                }
                for change in enrolment.history
            ],
        }
        for enrolment in enrolments
    ]


def _submissions(user: User, writer: _Writer) -> list[dict]:
    submissions = db.session.scalars(
        sa.select(Submission).where(Submission.user_id == user.id).order_by(Submission.id)
    ).all()
    out = []
    for submission in submissions:
        body = OwnSubmissionSchema().dump(submission)
        assignment = submission.assignment
        body["assignment_title"] = assignment.title
        body["module_id"] = assignment.delivery.module_id
        body["files_purged_at"] = submission.files_purged_at
        paths = {
            file.id: writer.blob(
                f"files/submissions/{submission.id}/{file.id}-{_safe(file.name, 'file')}",
                file.sha256,
            )
            for file in submission.files
        }
        for file in body["files"]:
            file["path_in_export"] = paths.get(file["id"])
        out.append(body)
    return out


def _extensions(user: User) -> list[dict]:
    extensions = db.session.scalars(
        sa.select(Extension).where(Extension.user_id == user.id).order_by(Extension.id)
    ).all()
    return [
        {**ExtensionSchema().dump(extension), "assignment_title": extension.assignment.title}
        for extension in extensions
    ]


def _marks(user: User, writer: _Writer) -> list[dict]:
    """Released marks only: a mark still being marked, second marked or moderated is not yet
    the learner's to see, so it is not in their export either."""
    marks = db.session.scalars(
        sa.select(Mark)
        .join(Submission, Submission.id == Mark.submission_id)
        .where(Submission.user_id == user.id, Mark.status == "released")
        .order_by(Mark.id)
    ).all()
    out = []
    for mark in marks:
        body = marking_schemas.my_mark(mark)
        body["feedback_file"] = None
        if mark.feedback_file_sha256:
            path = writer.blob(
                f"files/feedback/{mark.id}-{_safe(mark.feedback_file_name, 'feedback')}",
                mark.feedback_file_sha256,
            )
            body["feedback_file"] = {"name": mark.feedback_file_name, "path_in_export": path}
        out.append(body)
    return out


def _module_results(user: User) -> list[dict]:
    rows = db.session.execute(
        sa.select(ModuleResult, Module.code, Module.title)
        .join(Module, Module.id == ModuleResult.module_id)
        .where(ModuleResult.user_id == user.id)
        .order_by(ModuleResult.id)
    ).all()
    return [
        {**marking_schemas.result(row, True), "module_code": code, "module_title": title}
        for row, code, title in rows
    ]


def _credentials(user: User, writer: _Writer) -> tuple[list[dict], list[dict]]:
    credentials = db.session.scalars(
        sa.select(Credential).where(Credential.user_id == user.id).order_by(Credential.id)
    ).all()
    issued, external = [], []
    for credential in credentials:
        if credential.is_issued:
            issued.append(credential_body(credential, with_document=True))
            continue
        body = credential_body(credential)
        if body.get("evidence"):
            body["evidence"]["path_in_export"] = writer.blob(
                f"files/evidence/{credential.id}-{_safe(credential.evidence_name, 'evidence')}",
                credential.evidence_sha256,
            )
        external.append(body)
    return issued, external


def _cpd(user: User) -> list[dict]:
    entries = db.session.scalars(
        sa.select(CpdEntry).where(CpdEntry.user_id == user.id).order_by(CpdEntry.id)
    ).all()
    return [cpd_schemas.entry(entry) for entry in entries]


def _progress(user: User) -> list[dict]:
    rows = db.session.execute(
        sa.select(ResourceCompletion.completed_at, Resource.id, Resource.title)
        .join(Resource, Resource.id == ResourceCompletion.resource_id)
        .where(ResourceCompletion.user_id == user.id)
        .order_by(ResourceCompletion.completed_at)
    ).all()
    return [
        {"resource_id": resource_id, "title": title, "completed_at": completed_at}
        for completed_at, resource_id, title in rows
    ]


def _subscriptions(user: User) -> list[dict]:
    rows = db.session.execute(
        sa.select(ReportSubscription, Organisation.name)
        .join(Organisation, Organisation.id == ReportSubscription.organisation_id)
        .where(ReportSubscription.user_id == user.id)
        .order_by(ReportSubscription.id)
    ).all()
    return [
        {"organisation": name, "frequency": row.frequency, "last_sent_at": row.last_sent_at}
        for row, name in rows
    ]


def _tokens(user: User) -> list[dict]:
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()
    return [
        {
            "label": token.label,
            "scopes": token.scopes,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
        }
        for token in tokens
    ]


def _audit_events(user: User) -> list[dict]:
    """Events the person did, and events done to their account. What they did to other people's
    records is listed without its details, which are those people's data; what staff did to
    them is listed without naming the staff member or their address."""
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            sa.or_(
                AuditEvent.actor_id == user.id,
                sa.and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id)),
            )
        )
        .order_by(AuditEvent.id)
    ).all()
    out = []
    for event in events:
        about_them = event.object_type == "user" and event.object_id == str(user.id)
        by_them = event.actor_id == user.id
        out.append(
            {
                "occurred_at": event.occurred_at,
                "action": event.action,
                "by": _who(event.actor_id, user),
                "object_type": event.object_type,
                "object_id": event.object_id,
                "before": event.before if about_them else None,
                "after": event.after if about_them else None,
                "ip_address": event.ip_address if by_them else None,
            }
        )
    return out


# --- the archive ------------------------------------------------------------------------------


def write_export(user: User, target: BinaryIO) -> ExportSummary:
    """Write `user`'s export as a ZIP into `target` (left open, positioned at its end)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        writer = _Writer(archive)
        issued, external = _credentials(user, writer)
        parts = {
            "profile.json": _profile(user),
            "preferences.json": _preferences(user),
            "roles.json": _roles(user),
            "enrolments.json": _enrolments(user),
            "submissions.json": _submissions(user, writer),
            "extensions.json": _extensions(user),
            "marks.json": _marks(user, writer),
            "module_results.json": _module_results(user),
            "credentials.json": issued,
            "external_credentials.json": external,
            "cpd_entries.json": _cpd(user),
            "learning_progress.json": _progress(user),
            "report_subscriptions.json": _subscriptions(user),
            "api_tokens.json": _tokens(user),
            "audit_events.json": _audit_events(user),
        }
        for name in JSON_FILES:
            writer.json(name, parts[name])
        archive.writestr(
            "README.txt",
            render_template(
                "privacy/export_readme.txt",
                user=user,
                generated_at=clock.now(),
                summary=writer.summary,
                issuer=current_app.config["ACADEMY_ISSUER_NAME"],
            ),
        )
    return writer.summary
