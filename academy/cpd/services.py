"""Every change to a learner's own CPD entries. Functions flush; the caller commits.

Only the owner changes their entries (academy.cpd.policy; the pages and the API check it before
calling here). A change names the `version` it read, so a save from a stale page or a second
device never silently overwrites the first. Academy study is never stored: see
academy.cpd.record.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from academy.audit import services as audit
from academy.auth.models import User
from academy.core import clock
from academy.core.calendar import uk_date
from academy.core.errors import Conflict, DomainError
from academy.cpd.models import CPD_ACTIVITY_TYPES, CpdEntry
from academy.extensions import db

log = logging.getLogger(__name__)

MAX_TITLE = 300
MAX_PROVIDER = 300
MAX_REFLECTION = 10_000
MAX_HOURS = Decimal("1000")
ONE_DECIMAL = Decimal("0.1")
#: Older dates are typing mistakes, and would fall in CPD years no link can name.
EARLIEST_DATE = date(1900, 1, 1)

FIELDS = ("title", "activity_type", "provider", "started_on", "ended_on", "hours", "reflection")
# C0 and C1 controls and DEL. One-line fields lose line breaks and tabs too; the reflection
# keeps tabs and line breaks, as people write paragraphs and lists.
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StaleEntry(Conflict):
    """A change based on an old version; carries the entry as it is now."""

    def __init__(self, entry: CpdEntry):
        super().__init__(
            "This entry has been changed since you opened it, perhaps on another page or "
            "device. Check it and make your change again.",
            field="version",
            extra={"current": snapshot(entry)},
        )


def snapshot(entry: CpdEntry) -> dict:
    return {
        "title": entry.title,
        "activity_type": entry.activity_type,
        "provider": entry.provider,
        "started_on": entry.started_on.isoformat() if entry.started_on else None,
        "ended_on": entry.ended_on.isoformat() if entry.ended_on else None,
        "hours": None if entry.hours is None else f"{entry.hours:f}",
        "reflection": entry.reflection,
        "version": entry.version,
    }


def _audited(entry: CpdEntry) -> dict:
    """What the audit log keeps: a reflection is the learner's own writing, so the log notes
    its length, not its words."""
    values = snapshot(entry)
    values["reflection"] = f"{len(entry.reflection or '')} characters"
    return values


# --- checking what was sent --------------------------------------------------------------------


def _line(value, field: str, label: str, limit: int, *, missing: str | None = None) -> str:
    """One line of text. `missing`, when given, is the message for leaving it empty."""
    text = _LINE_CONTROLS.sub("", value if isinstance(value, str) else "").strip()
    if missing and not text:
        raise DomainError(missing, field=field)
    if len(text) > limit:
        raise DomainError(f"{label} must be {limit} characters or fewer", field=field)
    return text


def _reflection(value) -> str:
    text = value if isinstance(value, str) else ""
    text = _TEXT_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) > MAX_REFLECTION:
        raise DomainError(
            f"Your reflection must be {MAX_REFLECTION:,} characters or fewer", field="reflection"
        )
    return text


def _activity_type(value) -> str:
    if value not in CPD_ACTIVITY_TYPES:
        raise DomainError("Choose the kind of activity from the list", field="activity_type")
    return value


def _day(value, field: str, what: str, *, today: date) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise DomainError(f"Enter a real date {what}, like 2027-01-11", field=field)
    if value > today:
        raise DomainError(f"The date {what} cannot be in the future", field=field)
    if value < EARLIEST_DATE:
        raise DomainError(f"The date {what} must be in {EARLIEST_DATE.year} or later", field=field)
    return value


def as_hours(value) -> Decimal:
    """Hours to at most one decimal place, more than 0 and at most 1,000."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DomainError("Enter the hours the activity took", field="hours")
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise DomainError("Enter the hours as a number, like 1.5", field="hours") from exc
    if not number.is_finite():
        raise DomainError("Enter the hours as a number, like 1.5", field="hours")
    if number <= 0:
        raise DomainError("The hours must be more than 0", field="hours")
    if number > MAX_HOURS:
        raise DomainError(f"The hours must be {MAX_HOURS:,} or fewer", field="hours")
    if number != number.quantize(ONE_DECIMAL):
        raise DomainError("Give the hours to one decimal place at most, like 1.5", field="hours")
    return number.quantize(ONE_DECIMAL)


def _checked(fields: dict, current: CpdEntry | None) -> dict:
    """Every field of the entry, cleaned and checked: those sent over those saved."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"not CPD entry fields: {', '.join(sorted(unknown))}")
    values = {name: getattr(current, name) for name in FIELDS} if current is not None else {}
    values.update(fields)
    today = uk_date(clock.now())
    checked = {
        "title": _line(values.get("title"), "title", "The title", MAX_TITLE,
                       missing="Enter a title for the activity"),
        "activity_type": _activity_type(values.get("activity_type")),
        "provider": _line(values.get("provider"), "provider", "The provider", MAX_PROVIDER),
        "started_on": _day(values.get("started_on"), "started_on", "the activity started",
                           today=today),
        "ended_on": _day(values.get("ended_on"), "ended_on", "the activity ended", today=today),
        "hours": as_hours(values.get("hours")),
        "reflection": _reflection(values.get("reflection")),
    }  # fmt: skip
    if checked["started_on"] is None:
        raise DomainError("Enter the date the activity started", field="started_on")
    if checked["ended_on"] is not None and checked["ended_on"] < checked["started_on"]:
        raise DomainError(
            "The end date must be the same as or after the start date", field="ended_on"
        )
    return checked


# --- changes -----------------------------------------------------------------------------------


def add_entry(user: User, *, actor, **fields) -> CpdEntry:
    """Record an activity in `user`'s CPD log: `title`, `activity_type`, `started_on` and
    `hours` are needed; `provider`, `ended_on` and `reflection` are optional."""
    entry = CpdEntry(user_id=user.id, **_checked(fields, None))
    db.session.add(entry)
    db.session.flush()
    audit.record("cpd.add", actor=actor, obj=entry, after=_audited(entry))
    log.info("CPD entry %s added for user %s by %s", entry.id, user.id, getattr(actor, "id", None))
    return entry


def update_entry(entry: CpdEntry, *, actor, expected_version: int, **fields) -> CpdEntry:
    """Change the fields given; the others stay as saved. A stale `expected_version` is
    refused with the entry as it is now."""
    if expected_version != entry.version:
        raise StaleEntry(entry)
    before = _audited(entry)
    for name, value in _checked(fields, entry).items():
        setattr(entry, name, value)
    db.session.flush()
    old, new = audit.changes(before, _audited(entry))
    if new:
        audit.record("cpd.update", actor=actor, obj=entry, before=old, after=new)
        log.info("CPD entry %s changed by %s", entry.id, getattr(actor, "id", None))
    return entry


def delete_entry(entry: CpdEntry, *, actor) -> None:
    before = _audited(entry)
    entry_id = entry.id
    db.session.delete(entry)
    db.session.flush()
    audit.record(
        "cpd.delete", actor=actor, object_type="cpd_entry", object_id=entry_id, before=before
    )
    log.info("CPD entry %s deleted by %s", entry_id, getattr(actor, "id", None))
