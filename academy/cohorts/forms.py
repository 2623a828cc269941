"""Forms for cohorts, their modules, tutors and enrolments. The services hold the rules (dates
in order and within the cohort, capacity, allowed status changes); these check what a person can
fix by retyping."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Regexp

from academy.auth.admin_forms import optional_id, organisation_choices
from academy.auth.forms import looks_like_an_email_address
from academy.cohorts.services import MAX_CAPACITY, STATUS_LABELS
from academy.core.forms import VersionedForm, stop_if_unreadable
from academy.core.storage import SHA256
from academy.organisations.models import NATIONS


def _date_field(label: str, what: str, description: str | None = None) -> DateField:
    return DateField(
        label,
        description=description,
        validators=[InputRequired(f"Enter the date {what}"), stop_if_unreadable],
        invalid_value_message=f"Enter a real date {what}, like 2027-01-11",
    )


def _email_field(label: str, description: str) -> StringField:
    return StringField(
        label,
        description=description,
        validators=[
            InputRequired("Enter the person's email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            looks_like_an_email_address,
        ],
    )


def _choice_field(label: str, what: str) -> SelectField:
    return SelectField(
        label,
        coerce=optional_id,
        validators=[InputRequired(f"Choose a {what}")],
        invalid_value_message=f"Choose a {what} from the list",
        invalid_choice_message=f"Choose a {what} from the list",
    )


# Made before the forms' other fields, so they come first on the page and in the error summary.
_PROGRAMME = _choice_field("Programme", "programme")
_MODULE = _choice_field("Module", "module")


class _CohortDetails(FlaskForm):
    name = StringField(
        "Name",
        description="For example, 2027 spring",
        validators=[
            InputRequired("Enter a name for the cohort"),
            Length(max=120, message="Name must be 120 characters or fewer"),
        ],
    )
    starts_on = _date_field("Start date", "the cohort starts")
    ends_on = _date_field("End date", "the cohort ends")
    capacity = IntegerField(
        "Capacity",
        description="The most learners the cohort can take",
        invalid_value_message="Capacity must be a whole number, like 30",
        validators=[
            InputRequired("Enter the capacity"),
            stop_if_unreadable,
            NumberRange(
                min=1, max=MAX_CAPACITY, message=f"Capacity must be between 1 and {MAX_CAPACITY:,}"
            ),
        ],
    )
    nation = SelectField(
        "Nation",
        description="Sets the bank holidays used to count working days",
        choices=[SelectChoice(k, v) for k, v in NATIONS.items()],
        default="england",
        invalid_choice_message="Choose a nation from the list",
    )

    def service_fields(self) -> dict:
        return {
            "name": self.name.data,
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
            "capacity": self.capacity.data,
            "nation": self.nation.data,
        }


class NewCohortForm(_CohortDetails):
    programme_id = _PROGRAMME

    def set_programmes(self, programmes: Iterable) -> None:
        self.programme_id.choices = [SelectChoice("", "Choose a programme")] + [
            SelectChoice(str(p.id), f"{p.code}: {p.title}") for p in programmes
        ]

    def service_fields(self) -> dict:
        return {"programme_id": self.programme_id.data, **super().service_fields()}


class EditCohortForm(VersionedForm, _CohortDetails):
    pass


class DeliveryDatesForm(FlaskForm):
    starts_on = _date_field("Start date", "the module starts")
    ends_on = _date_field("End date", "the module ends")

    def service_fields(self) -> dict:
        return {"starts_on": self.starts_on.data, "ends_on": self.ends_on.data}


class NewDeliveryForm(DeliveryDatesForm):
    module_id = _MODULE

    def set_modules(self, modules: Iterable) -> None:
        self.module_id.choices = [SelectChoice("", "Choose a module")] + [
            SelectChoice(str(m.id), f"{m.code}: {m.title}") for m in modules
        ]

    def service_fields(self) -> dict:
        return {"module_id": self.module_id.data, **super().service_fields()}


class TutorForm(FlaskForm):
    email = _email_field(
        "Tutor's email address", "The person must already have an account on the academy"
    )


class EnrolForm(FlaskForm):
    email = _email_field(
        "Learner's email address",
        "The person must already have an account. To enrol new people, import a CSV file",
    )
    sponsor_organisation_id = SelectField(
        "Sponsoring organisation",
        description="The organisation paying for this place",
        coerce=optional_id,
        invalid_value_message="Choose an organisation from the list",
        invalid_choice_message="Choose an organisation from the list",
    )

    def set_organisations(self, organisations: Iterable) -> None:
        self.sponsor_organisation_id.choices = organisation_choices(
            organisations, "The learner's employing organisation"
        )


class StatusForm(VersionedForm):
    status = SelectField(
        "New status",
        validators=[InputRequired("Choose the new status")],
        invalid_choice_message="Choose a status from the list",
    )
    reason = TextAreaField(
        "Reason for the change",
        description="Kept in the enrolment's history with your name and the time",
        validators=[
            InputRequired("Give the reason for the change"),
            Length(max=2000, message="Reason must be 2,000 characters or fewer"),
        ],
    )

    def set_statuses(self, statuses: Iterable[str]) -> None:
        self.status.choices = [SelectChoice("", "Choose a status")] + [
            SelectChoice(s, STATUS_LABELS[s]) for s in statuses
        ]


class ImportUploadForm(FlaskForm):
    file = FileField("Upload a CSV file", validators=[FileRequired("Choose a CSV file to upload")])


class ImportConfirmForm(FlaskForm):
    sha256 = HiddenField(validators=[InputRequired(), Regexp(SHA256)])
