"""Forms for admins managing users and their roles. The services hold the rules (unique email,
which scope each role takes, dates in order); these check what a person can fix by retyping."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from academy.auth.forms import looks_like_an_email_address
from academy.auth.models import ROLE_LABELS
from academy.core.forms import VersionedForm, stop_if_unreadable

NO_ORGANISATION = "None"


def optional_id(value) -> int | None:
    """Select values arrive as text; the empty choice means none."""
    if value in (None, ""):
        return None
    return int(value)


def role_choices(prompt: str) -> list[SelectChoice]:
    return [SelectChoice("", prompt)] + [SelectChoice(k, v) for k, v in ROLE_LABELS.items()]


def organisation_choices(organisations: Iterable, prompt: str) -> list[SelectChoice]:
    return [SelectChoice("", prompt)] + [
        SelectChoice(str(o.id), f"{o.name} ({o.ods_code})") for o in organisations
    ]


def _organisation_field(label: str, description: str | None = None) -> SelectField:
    return SelectField(
        label,
        description=description,
        coerce=optional_id,
        invalid_value_message="Choose an organisation from the list",
        invalid_choice_message="Choose an organisation from the list",
    )


class _ChoosesOrganisation:
    """The organisation list comes from the database, so views hand it over per request."""

    organisation_prompt = NO_ORGANISATION

    def set_organisations(self, organisations: Iterable) -> None:
        self.organisation_id.choices = organisation_choices(organisations, self.organisation_prompt)


class _SponsorNeedsOrganisation:
    """Said here so the person sees it beside the field; the service refuses it too."""

    def validate_organisation_id(self, field) -> None:
        if self.role.data == "sponsor" and field.data is None:
            raise ValidationError("Choose the organisation this person sponsors")


class UserDetailsForm(_ChoosesOrganisation, FlaskForm):
    name = StringField(
        "Full name",
        validators=[
            InputRequired("Enter the person's full name"),
            Length(max=200, message="Full name must be 200 characters or fewer"),
        ],
    )
    email = StringField(
        "Email address",
        validators=[
            InputRequired("Enter the person's email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            looks_like_an_email_address,
        ],
    )
    organisation_id = _organisation_field("Employing organisation")
    professional_registration = StringField(
        "Professional registration (optional)",
        description="GMC, NMC or HCPC number",
        validators=[
            Optional(),
            Length(max=32, message="Professional registration must be 32 characters or fewer"),
        ],
    )
    staff_number = StringField(
        "Staff number (optional)",
        description="ESR assignment number",
        validators=[
            Optional(),
            Length(max=32, message="Staff number must be 32 characters or fewer"),
        ],
    )

    def service_fields(self) -> dict:
        return {
            "name": self.name.data,
            "email": self.email.data,
            "organisation_id": self.organisation_id.data,
            "professional_registration": self.professional_registration.data,
            "staff_number": self.staff_number.data,
        }


class NewUserForm(_SponsorNeedsOrganisation, UserDetailsForm):
    role = SelectField(
        "Initial role (optional)",
        description="A sponsor is scoped to the employing organisation chosen above. "
        "You can grant more roles later.",
        choices=role_choices("No role yet"),
        invalid_choice_message="Choose a role from the list",
    )


class EditUserForm(VersionedForm, UserDetailsForm):
    active = BooleanField(
        "Account active", description="People with an inactive account cannot sign in"
    )

    def service_fields(self) -> dict:
        return {**super().service_fields(), "active": self.active.data}


def _optional_id_field(name: str, description: str) -> IntegerField:
    return IntegerField(
        f"{name} (optional)",
        description=description,
        invalid_value_message=f"{name} must be a number",
        validators=[
            Optional(),
            stop_if_unreadable,
            NumberRange(min=1, message=f"{name} must be 1 or more"),
        ],
    )


def _optional_date_field(name: str, description: str) -> DateField:
    return DateField(
        f"{name} (optional)",
        description=description,
        invalid_value_message=f"{name} must be a real date",
        validators=[Optional()],
    )


class GrantRoleForm(_SponsorNeedsOrganisation, _ChoosesOrganisation, FlaskForm):
    organisation_prompt = "Not scoped to an organisation"

    role = SelectField(
        "Role",
        choices=role_choices("Choose a role"),
        validators=[InputRequired("Choose a role")],
        invalid_choice_message="Choose a role from the list",
    )
    organisation_id = _organisation_field(
        "Organisation", description="Required for a sponsor: the organisation whose staff they see"
    )
    cohort_id = _optional_id_field("Cohort ID", "For a tutor: the cohort they teach")
    programme_id = _optional_id_field("Programme ID", "For an examiner: the programme they examine")
    valid_from = _optional_date_field("Start date", "Leave blank to start today")
    valid_to = _optional_date_field("End date", "Leave blank for no end date")

    def service_fields(self) -> dict:
        return {
            "organisation_id": self.organisation_id.data,
            "cohort_id": self.cohort_id.data,
            "programme_id": self.programme_id.data,
            "valid_from": self.valid_from.data,
            "valid_to": self.valid_to.data,
        }
