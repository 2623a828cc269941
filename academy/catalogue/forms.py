"""Forms for admins building modules and programmes. The services hold the rules (unique codes,
credits above zero, bands in order, modules that exist); these check what retyping can fix."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from academy.catalogue.models import AWARD_TYPES, DEFAULT_PASS_MARK, LEVELS, TOPICS
from academy.catalogue.services import MAX_VALID_MONTHS
from academy.core.forms import VersionedForm, stop_if_unreadable

LEVEL_LABELS = {
    4: "Level 4 (certificate of higher education)",
    5: "Level 5 (diploma of higher education)",
    6: "Level 6 (bachelor's degree)",
    7: "Level 7 (master's degree, postgraduate)",
    8: "Level 8 (doctorate)",
}


def _code_field(what: str) -> StringField:
    return StringField(
        "Code",
        description=f"The {what}'s short code: letters, digits or hyphens, like DHL701",
        validators=[
            InputRequired(f"Enter the {what}'s code"),
            Length(max=20, message="Code must be 20 characters or fewer"),
        ],
    )


def _title_field(label: str, message: str) -> StringField:
    return StringField(
        label,
        validators=[
            InputRequired(message),
            Length(max=200, message=f"{label} must be 200 characters or fewer"),
        ],
    )


def _whole_number(label: str, example: str, *validators, description=None, default=None):
    return IntegerField(
        label,
        description=description,
        default=default,
        invalid_value_message=f"{label} must be a whole number, like {example}",
        validators=[InputRequired(f"Enter the {label.lower()}"), stop_if_unreadable, *validators],
    )


def _valid_months_field(what: str) -> IntegerField:
    return IntegerField(
        "Credential valid for (months)",
        description=f"How long the credential for {what} stays valid, like 36. Leave empty if "
        "it never expires.",
        invalid_value_message="Credential validity must be a whole number of months, like 36",
        validators=[
            Optional(),
            stop_if_unreadable,
            NumberRange(
                min=1,
                max=MAX_VALID_MONTHS,
                message=f"Credential validity must be from 1 to {MAX_VALID_MONTHS} months",
            ),
        ],
    )


class ModuleForm(FlaskForm):
    code = _code_field("module")
    title = _title_field("Title", "Enter the module's title")
    topic = SelectField(
        "Topic",
        choices=[SelectChoice("", "Choose a topic")]
        + [SelectChoice(k, v) for k, v in TOPICS.items()],
        validators=[InputRequired("Choose a topic")],
        invalid_choice_message="Choose a topic from the list",
    )
    credits = _whole_number(
        "Credits",
        "15",
        NumberRange(min=1, message="Credits must be 1 or more"),
        description="UK credits: 15 for a typical postgraduate module",
    )
    level = SelectField(
        "Level",
        choices=[SelectChoice(str(level), LEVEL_LABELS[level]) for level in LEVELS],
        default="7",
        coerce=int,
        invalid_choice_message="Choose a level from the list",
    )
    pass_mark = _whole_number(
        "Pass mark",
        "50",
        NumberRange(min=0, max=100, message="Pass mark must be from 0 to 100"),
        description="The lowest overall mark, out of 100, that passes the module",
        default=DEFAULT_PASS_MARK,
    )
    learning_outcomes = TextAreaField(
        "Learning outcomes",
        description="One outcome per line",
        validators=[InputRequired("Enter at least one learning outcome")],
    )
    summary = TextAreaField(
        "Summary",
        description="What the module covers and who it is for (optional)",
        validators=[
            Optional(),
            Length(max=5000, message="Summary must be 5000 characters or fewer"),
        ],
    )
    credential_valid_months = _valid_months_field("passing the module")

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # A module holds its outcomes as a list; the textarea shows them one per line.
        if obj is not None and not self.learning_outcomes.raw_data:
            self.learning_outcomes.data = "\n".join(obj.learning_outcomes)

    def service_fields(self) -> dict:
        outcomes = [line.strip() for line in (self.learning_outcomes.data or "").splitlines()]
        return {
            "code": self.code.data,
            "title": self.title.data,
            "topic": self.topic.data,
            "credits": self.credits.data,
            "level": self.level.data,
            "pass_mark": self.pass_mark.data,
            "learning_outcomes": [outcome for outcome in outcomes if outcome],
            "summary": self.summary.data or "",
            "credential_valid_months": self.credential_valid_months.data,
        }


class EditModuleForm(VersionedForm, ModuleForm):
    pass


class _ModuleChoices(SelectMultipleField):
    """Checkboxes of modules; the choices come from the database per request."""

    def __init__(self, label, **kwargs):
        kwargs.setdefault("coerce", int)
        super().__init__(label, **kwargs)

    def pre_validate(self, form):
        try:
            super().pre_validate(form)
        except ValidationError as error:
            raise ValidationError("Choose modules from the list") from error


class ProgrammeForm(FlaskForm):
    code = _code_field("programme")
    title = _title_field("Title", "Enter the programme's title")
    award_title = _title_field("Award title", "Enter the title of the award")
    credits_required = _whole_number(
        "Credits required",
        "60",
        NumberRange(min=1, message="Credits required must be 1 or more"),
        description="Credits a learner needs for the award: 60 for a PG Certificate, "
        "120 for a PG Diploma",
    )
    pass_band = _whole_number(
        "Pass band", "50", NumberRange(min=0, max=100, message="Must be from 0 to 100"), default=50
    )
    merit_band = _whole_number(
        "Merit band", "60", NumberRange(min=0, max=100, message="Must be from 0 to 100"), default=60
    )
    distinction_band = _whole_number(
        "Distinction band",
        "70",
        NumberRange(min=0, max=100, message="Must be from 0 to 100"),
        default=70,
    )
    award_type = SelectField(
        "Type of award",
        description="Shown on the award credential as its achievement type",
        choices=[SelectChoice(award_type, award_type) for award_type in AWARD_TYPES],
        default=AWARD_TYPES[0],
        invalid_choice_message="Choose Certificate or Diploma",
    )
    award_needs_ratification = BooleanField(
        "Issue the award only after the exam board has ratified the marks",
        description="Otherwise the award credential is issued as soon as the learner meets "
        "the award rules",
    )
    credential_valid_months = _valid_months_field("the award")
    module_ids = _ModuleChoices(
        "Modules offered",
        description="Select every module learners on this programme can take",
    )
    core_module_ids = _ModuleChoices(
        "Core modules",
        description="Modules every learner must pass. A core module is offered even if it is "
        "not selected above.",
    )

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        # The programme holds its modules as links; the checkboxes show their ids.
        if obj is not None and not self.is_submitted():
            self.module_ids.data = [link.module_id for link in obj.modules]
            self.core_module_ids.data = [link.module_id for link in obj.modules if link.is_core]

    def set_modules(self, modules: Iterable) -> None:
        choices = [SelectChoice(m.id, f"{m.code} {m.title} ({m.credits} credits)") for m in modules]
        self.module_ids.choices = choices
        self.core_module_ids.choices = list(choices)

    def service_fields(self) -> dict:
        return {
            "code": self.code.data,
            "title": self.title.data,
            "award_title": self.award_title.data,
            "credits_required": self.credits_required.data,
            "pass_band": self.pass_band.data,
            "merit_band": self.merit_band.data,
            "distinction_band": self.distinction_band.data,
            "award_type": self.award_type.data,
            "award_needs_ratification": bool(self.award_needs_ratification.data),
            "credential_valid_months": self.credential_valid_months.data,
            "module_ids": list(self.module_ids.data or []),
            "core_module_ids": list(self.core_module_ids.data or []),
        }


class EditProgrammeForm(VersionedForm, ProgrammeForm):
    pass
