"""Forms for recording external credentials and for revoking, suspending, reinstating and
verifying credentials.

The services hold the rules (award dates not in the future, expiry after award, evidence file
types and size, a reason for every change of status); these forms check only what a person fixes
by filling a box in, so every missing answer shows at once, and a refusal from a service lands on
the field it names.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from academy.core.filetypes import by_extension
from academy.core.forms import stop_if_unreadable
from academy.credentials.services import EVIDENCE_MAX_MB, EVIDENCE_TYPES, REASON_MAX

TEXT_MAX = 300


def _evidence_hint() -> str:
    labels = [by_extension(ext).label for ext in EVIDENCE_TYPES]
    return (
        f"A {', '.join(labels[:-1])} or {labels[-1]} file of up to {EVIDENCE_MAX_MB} MB, such as "
        "the certificate itself. An admin checks it before marking the credential as verified."
    )


class ExternalCredentialForm(FlaskForm):
    """Field names match `services.record_external`'s, so its refusals land on the right box."""

    title = StringField(
        "Title of the credential",
        description="As it appears on the certificate, for example PRINCE2 Foundation",
        validators=[
            InputRequired("Enter the credential's title"),
            Length(max=TEXT_MAX, message=f"The title must be {TEXT_MAX} characters or fewer"),
        ],
    )
    issuer = StringField(
        "Awarding body",
        description="Who awarded it, for example the Faculty of Clinical Informatics",
        validators=[
            InputRequired("Enter the awarding body"),
            Length(
                max=TEXT_MAX, message=f"The awarding body must be {TEXT_MAX} characters or fewer"
            ),
        ],
    )
    issued_on = DateField(
        "Date awarded",
        validators=[InputRequired("Enter the date it was awarded"), stop_if_unreadable],
        invalid_value_message="Enter a real date it was awarded, like 2024-06-30",
    )
    expires_on = DateField(
        "Expiry date (optional)",
        description="Leave blank if it does not expire",
        validators=[Optional()],
        invalid_value_message="Enter a real expiry date, like 2027-06-30, or leave it blank",
    )
    evidence = FileField("Evidence (optional)", description=_evidence_hint())

    def evidence_upload(self) -> tuple | None:
        """`(stream, file name)` of the chosen file; None when none was chosen."""
        upload = self.evidence.data
        if upload is None or not getattr(upload, "filename", None):
            return None
        return upload.stream, upload.filename


class ReasonForm(FlaskForm):
    """Revoking, suspending and reinstating: the service refuses a blank reason, on this field."""

    reason = TextAreaField(
        "Reason",
        validators=[
            Length(max=REASON_MAX, message=f"Keep the reason to {REASON_MAX} characters"),
        ],
    )


class ConfirmForm(FlaskForm):
    """Only its CSRF token: verifying or removing needs nothing else."""
