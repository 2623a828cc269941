"""Forms for creating and editing organisations. The services hold the rules (ODS code format,
uniqueness); these check only what a person can fix by retyping."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from academy.core.forms import VersionedForm, stop_if_unreadable
from academy.organisations.models import DEFAULT_CREDENTIAL_TARGET, NATIONS, REGIONS, SECTORS


def _choices(labels: dict[str, str], prompt: str) -> list[SelectChoice]:
    return [SelectChoice("", prompt)] + [SelectChoice(k, v) for k, v in labels.items()]


class OrganisationForm(FlaskForm):
    ods_code = StringField(
        "ODS code",
        description="The Organisation Data Service code: 3 to 6 letters or digits, like RJ1",
        validators=[
            InputRequired("Enter the ODS code"),
            Length(max=10, message="ODS code must be 10 characters or fewer"),
        ],
    )
    name = StringField(
        "Name",
        validators=[
            InputRequired("Enter the organisation's name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
        ],
    )
    sector = SelectField(
        "Sector",
        choices=_choices(SECTORS, "Choose a sector"),
        validators=[InputRequired("Choose a sector")],
        invalid_choice_message="Choose a sector from the list",
    )
    nation = SelectField(
        "Nation",
        description="Sets the bank holidays used to count working days",
        choices=_choices(NATIONS, "Choose a nation"),
        validators=[InputRequired("Choose a nation")],
        invalid_choice_message="Choose a nation from the list",
    )
    region = SelectField(
        "NHS England region",
        description="Only for organisations in England; leave as none for the other nations",
        choices=_choices(REGIONS, "None (outside England)"),
        validators=[Optional()],
        invalid_choice_message="Choose a region from the list",
    )
    credential_target = IntegerField(
        "Credential target",
        description="How many credentialed clinician-informaticians the organisation aims for",
        default=DEFAULT_CREDENTIAL_TARGET,
        invalid_value_message="Credential target must be a whole number, like 5",
        validators=[
            InputRequired("Enter the credential target"),
            stop_if_unreadable,
            NumberRange(min=0, message="Credential target must be 0 or more"),
        ],
    )

    def service_fields(self) -> dict:
        return {
            "ods_code": self.ods_code.data,
            "name": self.name.data,
            "sector": self.sector.data,
            "nation": self.nation.data,
            "region": self.region.data or None,
            "credential_target": self.credential_target.data,
        }


class EditOrganisationForm(VersionedForm, OrganisationForm):
    pass
