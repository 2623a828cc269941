"""Helpers shared by every domain's WTForms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField
from wtforms.validators import StopValidation

from academy.core.errors import DomainError

STALE_PAGE = "This page is out of date. Reload it and make your change again."


class VersionedForm(FlaskForm):
    """An edit form carrying the `version` of the record it was drawn from, so a save made from a
    stale page is refused by the service instead of overwriting someone else's change."""

    version = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Only a version the page sent counts: the one read from the record would always match.
        sent = self._sent_version()
        if not (sent.isascii() and sent.isdigit()):
            # A hidden field has nowhere to show its error, so it goes on the whole form.
            self.form_errors.append(STALE_PAGE)
            return False
        return valid

    def _sent_version(self) -> str:
        return (self.version.raw_data or [""])[0]

    @property
    def expected_version(self) -> int:
        return int(self._sent_version())


def stop_if_unreadable(form: FlaskForm, field: Field) -> None:
    """Skip range checks once a number or date could not be read, so one mistake gets one
    message. Put it after InputRequired/Optional."""
    if field.process_errors:
        raise StopValidation()


def show_domain_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal on the field it names, or on the whole form when it names none
    (or a field the form does not show), so the error summary links to what needs fixing."""
    field = form._fields.get(error.field) if error.field else None
    if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
