"""Forms for assignments, uploads, submission, extensions and reopening.

Every date and time a person types or reads is UK time (Europe/London, so BST in summer); the
database holds UTC. `UKDateTimeField` does the conversion both ways, so no view or service ever
sees a naive or local datetime. The services hold the rules (deadlines, the declaration, reasons,
rubric shape); these forms check only what retyping can fix.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from academy.assessment.models import SECOND_MARKING_RULES, SUBMISSION_TYPES
from academy.core.calendar import UK_TIME
from academy.core.forms import VersionedForm, stop_if_unreadable

# --- UK time -----------------------------------------------------------------------------------


def uk_time_text(moment: time) -> str:
    """`12pm`, `9am`, `5:30pm`: the NHS.UK style for times."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{suffix}"


def uk_datetime_text(moment: datetime | None) -> str:
    """A UTC instant as a UK reader says it: `Friday 4 June 2027 at 12pm`."""
    if moment is None:
        return ""
    local = moment.astimezone(UK_TIME)
    return f"{local:%A} {local.day} {local:%B %Y} at {uk_time_text(local.time())}"


def uk_date_text(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(UK_TIME)
    return f"{local:%A} {local.day} {local:%B %Y}"


_TIME_24H = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_TIME_12H = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?m\.?$")


def parse_time(text: str) -> time:
    """`17:00`, `5pm`, `5:30 pm`, `9.15am`, `midday`, `noon` or `midnight`."""
    text = text.strip().lower()
    if text in ("midday", "noon"):
        return time(12, 0)
    if text == "midnight":
        return time(0, 0)
    if match := _TIME_24H.match(text):
        hour, minute = int(match[1]), int(match[2])
    elif match := _TIME_12H.match(text):
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match[3] == "p" else 0)
    else:
        raise ValueError(text)
    return time(hour, minute)


def uk_to_utc(day: date, moment: time) -> datetime:
    """The UTC instant of a UK wall-clock time. A time the clocks skip in spring does not exist;
    one repeated in autumn is read as the first (BST) one."""
    local = datetime.combine(day, moment, tzinfo=UK_TIME)
    instant = local.astimezone(UTC)
    if instant.astimezone(UK_TIME).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError("skipped")
    return instant


class UKDateTimeField(Field):
    """A date (day, month, year) and a time, typed in UK time and held as an aware UTC datetime.

    Rendered by `assessment/_macros.html` as the NHS.UK date input plus a time box; the four
    inputs are named `<name>-day`, `-month`, `-year` and `-time`.
    """

    PARTS = ("day", "month", "year", "time")

    def __init__(self, label=None, validators=None, *, what: str = "date", **kwargs):
        super().__init__(label, validators, **kwargs)
        #: How error messages name the field: "the due date", "the new date".
        self.what = what
        self.parts: dict[str, str] = dict.fromkeys(self.PARTS, "")

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        if data is unset_value:
            data = self.default() if callable(self.default) else self.default
        self.object_data = data
        self.data = data
        self.raw_data = []
        if self.data is not None:
            local = self.data.astimezone(UK_TIME)
            self.parts = {
                "day": str(local.day),
                "month": str(local.month),
                "year": str(local.year),
                "time": f"{local:%H:%M}",
            }
        if formdata is None:
            return
        names = [f"{self.name}-{part}" for part in self.PARTS]
        if not any(name in formdata for name in names):
            return
        self.parts = {part: (formdata.get(f"{self.name}-{part}") or "").strip()
                      for part in self.PARTS}  # fmt: skip
        self.raw_data = [value for value in self.parts.values() if value]
        self.data = None
        if not self.raw_data:
            return  # left blank: InputRequired or Optional decides
        try:
            self.data = self._parse()
        except ValueError as error:
            self.process_errors.append(error.args[0])

    def _parse(self) -> datetime:
        missing = [part for part in ("day", "month", "year", "time") if not self.parts[part]]
        if missing:
            raise ValueError(f"{self.what.capitalize()} must include a {missing[0]}")
        try:
            day = date(int(self.parts["year"]), int(self.parts["month"]), int(self.parts["day"]))
        except ValueError:
            raise ValueError(
                f"{self.what.capitalize()} must be a real date, like 4 6 2027"
            ) from None
        if not 2000 <= day.year <= 2100:
            raise ValueError(f"{self.what.capitalize()} must have a year like 2027") from None
        try:
            moment = parse_time(self.parts["time"])
        except ValueError:
            raise ValueError(f"Enter the time for {self.what} like 17:00 or 5pm") from None
        try:
            return uk_to_utc(day, moment)
        except ValueError:
            raise ValueError(
                f"{uk_time_text(moment)} does not exist on {day:%-d %B %Y} in the UK "
                "(the clocks go forward). Choose another time"
            ) from None


# --- learner forms -----------------------------------------------------------------------------


class UploadForm(FlaskForm):
    file = FileField("Upload a file", validators=[FileRequired("Choose a file to upload")])


class DeclarationForm(FlaskForm):
    #: Checked by the service, which refuses to submit without it whatever the path.
    declaration = BooleanField(
        "I confirm that this is my own work, that I have acknowledged every source I used, and "
        "that I have not submitted it for assessment anywhere else"
    )


class ExtensionRequestForm(FlaskForm):
    reason = TextAreaField(
        "Why do you need more time?",
        description="For example illness, caring responsibilities or on-call work. Requests for "
        "a few working days are approved straight away; longer ones go to your tutor.",
        validators=[
            InputRequired("Tell us why you need more time"),
            Length(max=2000, message="The reason must be 2,000 characters or fewer"),
        ],
    )
    requested_due_at = UKDateTimeField(
        "When could you submit by?",
        what="the new date",
        description="UK time. For example, 18 6 2027 and 12pm",
        validators=[InputRequired("Enter the date and time you could submit by")],
    )


# --- staff forms -------------------------------------------------------------------------------


class DecideExtensionForm(VersionedForm):
    decision = RadioField(
        "Decision",
        choices=[SelectChoice("approve", "Approve"), SelectChoice("decline", "Decline")],
        validators=[InputRequired("Choose whether to approve or decline the request")],
        invalid_choice_message="Choose whether to approve or decline the request",
    )
    due_at = UKDateTimeField(
        "New due date (optional)",
        what="the new due date",
        description="UK time. Leave blank to grant the date the learner asked for.",
        validators=[Optional()],
    )
    comment = TextAreaField(
        "Comment",
        description="The learner sees this. Required when you decline.",
        validators=[Length(max=2000, message="The comment must be 2,000 characters or fewer")],
    )

    @property
    def approved(self) -> bool:
        return self.decision.data == "approve"


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        "Why are you reopening this submission?",
        description="Kept in the audit trail. The learner can change their files and must "
        "submit again.",
        validators=[Length(max=2000, message="The reason must be 2,000 characters or fewer")],
    )


def _whole_number(label: str, example: str, *validators, description=None, default=None):
    return IntegerField(
        label,
        description=description,
        default=default,
        invalid_value_message=f"{label} must be a whole number, like {example}",
        validators=[InputRequired(f"Enter the {label.lower()}"), stop_if_unreadable, *validators],
    )


RUBRIC_HINT = (
    "Optional. JSON with criteria, each with at least two levels whose best marks add up to the "
    'maximum mark, for example: {"criteria": [{"title": "Analysis", "levels": '
    '[{"title": "Weak", "description": "", "marks": 0}, '
    '{"title": "Strong", "description": "", "marks": 100}]}]}'
)


def _id_or_none(value) -> int | None:
    """Coerce a select's value to an id; the blank prompt (or junk) is None, never an error."""
    text = str(value if value is not None else "")
    return int(text) if text.isascii() and text.isdigit() else None


#: Made before AssignmentForm's fields so it comes first on the page and in the error summary
#: (WTForms orders fields by when they were created).
_DELIVERY_FIELD = SelectField(
    "Module and cohort",
    coerce=_id_or_none,
    validators=[InputRequired("Choose the module and cohort")],
    invalid_choice_message="Choose a module and cohort from the list",
)


class JSONTextAreaField(TextAreaField):
    """JSON data edited as text: the record's value is shown pretty-printed, and the text sent
    back is checked to be JSON (what it must contain is the service's business)."""

    def process_data(self, value):
        self.data = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)

    def pre_validate(self, form):
        if (self.data or "").strip():
            try:
                json.loads(self.data)
            except ValueError as error:
                raise ValidationError(f"{self.label.text} is not valid JSON: {error}") from None

    @property
    def value(self):
        text = (self.data or "").strip()
        return json.loads(text) if text else None


class AssignmentForm(FlaskForm):
    title = StringField(
        "Title",
        validators=[
            InputRequired("Enter a title"),
            Length(max=200, message="Title must be 200 characters or fewer"),
        ],
    )
    brief = TextAreaField(
        "Brief",
        description="What learners must do. You can use Markdown: **bold**, lists, links.",
        validators=[Length(max=50_000, message="The brief must be 50,000 characters or fewer")],
    )
    opens_at = UKDateTimeField(
        "Opens",
        what="the opening date",
        description="UK time. Learners can upload from then.",
        validators=[InputRequired("Enter the date and time the assignment opens")],
    )
    due_at = UKDateTimeField(
        "Due",
        what="the due date",
        description="UK time. Work handed in after this is late.",
        validators=[InputRequired("Enter the date and time the assignment is due")],
    )
    cutoff_at = UKDateTimeField(
        "Cut-off",
        what="the cut-off",
        description="UK time. Nothing is accepted after this without an extension.",
        validators=[InputRequired("Enter the date and time of the cut-off")],
    )
    weight = _whole_number(
        "Weight",
        "50",
        NumberRange(min=0, max=100, message="Weight must be a percentage from 0 to 100"),
        description="Percentage of the module mark",
        default=100,
    )
    max_mark = _whole_number(
        "Maximum mark",
        "100",
        NumberRange(min=1, message="The maximum mark must be more than 0"),
        default=100,
    )
    allowed_types = SelectMultipleField(
        "Allowed file types",
        choices=[SelectChoice(k, v) for k, v in SUBMISSION_TYPES.items()],
        default=["pdf", "docx"],
        validators=[InputRequired("Allow at least one file type")],
        invalid_choice_message="Choose file types from the list",
    )
    max_size_mb = _whole_number(
        "Largest file size in MB",
        "20",
        NumberRange(min=1, max=100, message="The size limit must be from 1 to 100 MB"),
        default=20,
    )
    anonymous = BooleanField(
        "Mark anonymously",
        description="Tutors see a candidate number instead of the learner's name",
    )
    second_marking = SelectField(
        "Second marking",
        choices=[SelectChoice(k, v) for k, v in SECOND_MARKING_RULES.items()],
        default="none",
        invalid_choice_message="Choose a second marking rule from the list",
    )
    sample_percent = IntegerField(
        "Sample size (%)",
        description="Only for sample second marking",
        invalid_value_message="The sample must be a whole number, like 10",
        validators=[Optional(), stop_if_unreadable],
    )
    rubric = JSONTextAreaField("Rubric", description=RUBRIC_HINT)

    def service_fields(self) -> dict:
        return {
            "title": self.title.data.strip(),
            "brief": self.brief.data or "",
            "opens_at": self.opens_at.data,
            "due_at": self.due_at.data,
            "cutoff_at": self.cutoff_at.data,
            "weight": self.weight.data,
            "max_mark": self.max_mark.data,
            "allowed_types": list(self.allowed_types.data or []),
            "max_size_mb": self.max_size_mb.data,
            "anonymous": bool(self.anonymous.data),
            "second_marking": self.second_marking.data,
            "sample_percent": self.sample_percent.data,
            "rubric": self.rubric.value,
        }


class NewAssignmentForm(AssignmentForm):
    delivery = _DELIVERY_FIELD

    def set_deliveries(self, deliveries) -> None:
        self.delivery.choices = [SelectChoice("", "Choose a module and cohort")] + [
            SelectChoice(d.id, f"{d.module.code} {d.module.title} – {d.cohort.name}")
            for d in deliveries
        ]


class EditAssignmentForm(VersionedForm, AssignmentForm):
    pass
