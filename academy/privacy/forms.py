"""The erasure confirmation and the export button. The service holds the rules (the email must
be the person's, a reason is required, not twice, not yourself); these check what retyping
can fix."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from academy.privacy.services import MAX_REASON


class EraseForm(FlaskForm):
    confirm_email = StringField(
        "Type the person's email address to confirm",
        validators=[InputRequired("Type the person's email address to confirm")],
    )
    reason = TextAreaField(
        "Reason for erasing",
        description="For example, the person's request of 3 March 2027 (reference 1234). It is "
        "kept in the audit log, so do not include their name or health details.",
        validators=[
            InputRequired("Give the reason for erasing this person's data"),
            Length(
                max=MAX_REASON, message=f"The reason must be {MAX_REASON:,} characters or fewer"
            ),
        ],
    )


class ExportForm(FlaskForm):
    """Only the CSRF token: the button asks for the download."""
