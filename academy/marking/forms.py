"""Forms for marking, second marking, agreeing a mark and releasing.

The services hold the rules (the range of a mark, rubric totals, who may second mark, reasons for
changing released marks); these forms only collect what the marker typed, so a refusal from a
service lands on the field it names.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from academy.core.forms import VersionedForm

FEEDBACK_LIMIT = 20000


def _length(limit: int, what: str) -> Length:
    return Length(max=limit, message=f"{what} must be {limit:,} characters or fewer")


def _blank_to_none(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


class MarkForm(VersionedForm):
    """The first marker's form. Rubric criteria are added per assignment by `mark_form`."""

    mark = StringField("Mark", filters=[_blank_to_none])
    feedback = TextAreaField(
        "Feedback for the learner",
        description="The learner sees this once marks are released. You can use Markdown: "
        "**bold**, *italic*, lists and links.",
        validators=[_length(FEEDBACK_LIMIT, "Feedback")],
    )
    penalty_waiver = TextAreaField(
        "Reason to waive the late penalty (optional)",
        description="For example, accepted mitigating circumstances. Leave blank to apply the "
        "cohort's late penalty.",
        validators=[_length(2000, "The reason")],
    )
    reason = TextAreaField(
        "Why are you changing a released mark?",
        description="Kept in the mark's history. The learner sees the new mark at once.",
        validators=[_length(2000, "The reason")],
    )
    feedback_file = FileField(
        "Feedback file (optional)",
        description="A PDF, Word, OpenDocument or plain text file of up to 20 MB, for example an "
        "annotated copy of the work. The learner can download it once marks are released. A new "
        "file replaces the one saved before.",
    )
    #: Which button was pressed: `draft`, `complete` or `preview`.
    action = StringField()

    rubric_criteria: list[dict] = []

    def rubric_fields(self) -> list[tuple]:
        """`(field, criterion)` for each rubric criterion, in rubric order."""
        return [(self[f"criterion_{i}"], c) for i, c in enumerate(self.rubric_criteria)]

    def rubric_scores(self) -> dict[str, int] | None:
        """The levels chosen, or None when no level is chosen at all (a mark typed instead)."""
        chosen = {
            str(i): field.data for i, (field, _) in enumerate(self.rubric_fields())
            if field.data is not None
        }  # fmt: skip
        return chosen or None


def _level_label(level: dict) -> str:
    marks = level.get("marks")
    return f"{level.get('title', '')}: {marks:g} marks" if marks is not None else level["title"]


def mark_form(assignment, **kwargs) -> MarkForm:
    """A MarkForm with one set of radio buttons per criterion of the assignment's rubric."""
    criteria = list((assignment.rubric or {}).get("criteria") or [])

    class AssignmentMarkForm(MarkForm):
        rubric_criteria = criteria

    for index, criterion in enumerate(criteria):
        setattr(
            AssignmentMarkForm,
            f"criterion_{index}",
            RadioField(
                criterion.get("title") or f"Criterion {index + 1}",
                choices=[
                    SelectChoice(n, _level_label(level))
                    for n, level in enumerate(criterion.get("levels") or [])
                ],
                coerce=int,
                validators=[Optional()],
                invalid_choice_message="Choose one of the levels shown",
            ),
        )
    return AssignmentMarkForm(**kwargs)


class SecondMarkForm(VersionedForm):
    decision = RadioField(
        "Your decision",
        choices=[
            SelectChoice("agree", "I agree with the first mark"),
            SelectChoice("own", "I give my own mark"),
        ],
        validators=[Optional()],
        invalid_choice_message="Choose whether you agree with the first mark",
    )
    mark = StringField("Your mark", filters=[_blank_to_none])
    comment = TextAreaField(
        "Your comments",
        description="The first marker and examiners see this; the learner does not.",
        validators=[_length(5000, "Your comments")],
    )

    @property
    def agreed(self) -> bool:
        return self.decision.data == "agree"


class AgreeForm(VersionedForm):
    #: Named `mark` so the service's errors about the mark land on it.
    mark = StringField(
        "Agreed mark",
        filters=[_blank_to_none],
        validators=[InputRequired("Enter the mark the markers agreed")],
    )
    comment = TextAreaField(
        "How was the mark agreed?",
        description="Kept with the mark for the examiners.",
        validators=[_length(5000, "The comment")],
    )


class ReleaseForm(FlaskForm):
    """Only its CSRF token: releasing needs nothing else."""
