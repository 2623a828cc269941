"""The email settings form, and the outbox's retry button."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice

from academy.notifications.preferences import OPTIONAL


class EmailPreferencesForm(FlaskForm):
    #: Ticked means "send me these": people choose what they get, the service stores what not.
    wanted = SelectMultipleField(
        "Emails you can choose to get",
        choices=[SelectChoice(category, label) for category, label in OPTIONAL.items()],
        invalid_choice_message="Choose emails from the list",
    )

    def opt_outs(self) -> list[str]:
        return [category for category in OPTIONAL if category not in (self.wanted.data or [])]


class RetryForm(FlaskForm):
    """Only its CSRF token: the button says what to do."""
