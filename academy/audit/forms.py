from __future__ import annotations

from datetime import date

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional, ValidationError

#: Dates a filter may name: far wider than the log, and a day can always be added to them.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)

DATE_MESSAGE = "Enter a real date, like 2027-01-31"


def _plausible(form, field) -> None:
    if field.data is not None and not EARLIEST <= field.data <= LATEST:
        raise ValidationError(f"Enter a date from {EARLIEST.year} to {LATEST.year}")


class AuditFilterForm(FlaskForm):
    """The audit log's filters. Sent by GET, so bookmarkable, and changes nothing: no CSRF."""

    class Meta:
        csrf = False

    action = StringField("Action", validators=[Optional(), Length(max=64)])
    actor = StringField("Done by (email)", validators=[Optional(), Length(max=254)])
    object_type = StringField("Object type", validators=[Optional(), Length(max=64)])
    object_id = StringField("Object id", validators=[Optional(), Length(max=64)])
    date_from = DateField(
        "From", validators=[Optional(), _plausible], invalid_value_message=DATE_MESSAGE
    )
    date_to = DateField(
        "Up to", validators=[Optional(), _plausible], invalid_value_message=DATE_MESSAGE
    )

    def __init__(self, **kwargs):
        super().__init__(formdata=request.args, **kwargs)

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date must be the same as or after the start date")

    def query_args(self) -> dict[str, str]:
        """The filters as they were sent, to carry into the CSV link."""
        return {name: request.args[name] for name in self._fields if request.args.get(name)}
