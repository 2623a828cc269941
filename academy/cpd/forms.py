"""Forms for a learner's own CPD entries. The services hold the rules (dates not in the future
and in order, hours in range and to one decimal place); these check what retyping can fix."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from academy.core.forms import VersionedForm, stop_if_unreadable
from academy.cpd.models import CPD_ACTIVITY_TYPES
from academy.cpd.services import MAX_PROVIDER, MAX_REFLECTION, MAX_TITLE


def _length(limit: int, what: str) -> Length:
    return Length(max=limit, message=f"{what} must be {limit:,} characters or fewer")


class CpdEntryForm(FlaskForm):
    title = StringField(
        "Title",
        description="For example, NHS ConfedExpo 2026 or Reading: The Wachter review",
        validators=[InputRequired("Enter a title for the activity"), _length(MAX_TITLE, "Title")],
    )
    activity_type = SelectField(
        "Kind of activity",
        choices=[SelectChoice("", "Choose the kind of activity")]
        + [SelectChoice(value, label) for value, label in CPD_ACTIVITY_TYPES.items()],
        validators=[InputRequired("Choose the kind of activity")],
        invalid_choice_message="Choose the kind of activity from the list",
    )
    provider = StringField(
        "Provider (optional)",
        description="Who ran it, for example a university, a royal college or NHS England",
        validators=[Optional(), _length(MAX_PROVIDER, "Provider")],
    )
    started_on = DateField(
        "Start date",
        validators=[InputRequired("Enter the date the activity started"), stop_if_unreadable],
        invalid_value_message="Enter a real start date, like 2027-01-11",
    )
    ended_on = DateField(
        "End date (optional)",
        description="Leave blank for an activity that took place on one day",
        validators=[Optional(), stop_if_unreadable],
        invalid_value_message="Enter a real end date, like 2027-01-12",
    )
    hours = StringField(
        "Hours",
        description="Time spent learning, to one decimal place, for example 1.5",
        validators=[InputRequired("Enter the hours the activity took")],
    )
    reflection = TextAreaField(
        "Reflection (optional)",
        description="What you learned, and how it has changed or will change your practice",
        validators=[Optional(), _length(MAX_REFLECTION, "Your reflection")],
    )

    def service_fields(self) -> dict:
        return {
            "title": self.title.data,
            "activity_type": self.activity_type.data,
            "provider": self.provider.data or "",
            "started_on": self.started_on.data,
            "ended_on": self.ended_on.data,
            "hours": self.hours.data,
            "reflection": self.reflection.data or "",
        }


class CpdEntryEditForm(VersionedForm, CpdEntryForm):
    """The same fields, with the `version` of the entry the page was drawn from."""


class DeleteForm(FlaskForm):
    """A confirmation: only the CSRF token."""
