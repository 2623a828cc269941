"""Helpers shared by every domain's WTForms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from wtforms import Field, HiddenField
from wtforms.validators import StopValidation

from academy.core.errors import DomainError
from academy.extensions import db

T = TypeVar("T")

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


def save_or_show(form: FlaskForm, change: Callable[[], T]) -> T | None:
    """Run `change` (a service call) and commit it; return what it returned. On a refusal roll
    back, put the refusal on the form (its status in `form.refusal_status`) and return None, so
    the view shows the form again."""
    try:
        saved = change()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error)
        form.refusal_status = error.status
        return None
    except StaleDataError:
        # Someone saved between our read and our UPDATE; the mapper's version check caught it.
        db.session.rollback()
        form.form_errors.append(STALE_PAGE)
        return None
    return saved


def save_or_flash(change: Callable[[], object]) -> bool:
    """For a button with no form to show again: run `change` (a service call) and commit it, or
    roll back and flash the refusal as an error. True if it was saved."""
    try:
        change()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False
    return True
