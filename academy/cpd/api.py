"""/api/v1 CPD records: the caller's own record and entries, and admins' reading of anyone's.

Entries are the learner's own: they are looked up among the caller's (`own_entries`), so
another person's entry answers 404 whoever asks. The rules for what an entry may hold are in
academy.cpd.services, which the HTML pages call too.
"""

from __future__ import annotations

from flask import abort, jsonify
from flask_smorest import Blueprint

from academy.auth.api_auth import api_user
from academy.auth.models import User
from academy.auth.policy import can_view_user
from academy.core.api import ID, documented_errors, stale_version
from academy.cpd import schemas, services
from academy.cpd.models import CpdEntry
from academy.cpd.policy import can_change_entry, can_read_record, own_entries
from academy.cpd.record import build_record
from academy.extensions import db

blp = Blueprint(
    "cpd_api",
    __name__,
    description="CPD records for appraisal and revalidation: activities learners log "
    "themselves and the Academy study worked out from the modules they take",
)

RECORD_OUTPUT = (
    "`entries` are the activities the learner logged; `academy_study` the modules they have "
    "taken in the Academy, each counting 10 notional hours per credit (UK credit framework), "
    "with an outcome from released results and never a mark. Both are limited to the CPD year "
    "asked for (by the date each started); `totals` give hours in that period, in the current "
    "CPD year and for all time, by kind and together."
)


def _json(body, status: int = 200):
    """A ready response, so the documented schema does not dump it again."""
    response = jsonify(body)
    response.status_code = status
    return response


def _own_entry_or_404(entry_id: int) -> CpdEntry:
    caller = api_user()
    found = db.session.scalar(own_entries(caller).where(CpdEntry.id == entry_id))
    if found is None or not can_change_entry(caller, found):
        abort(404)
    return found


# --- the caller's own record -------------------------------------------------------------------


@blp.get("/me/cpd")
@blp.arguments(schemas.RecordArgs, location="query")
@blp.response(200, schemas.RecordSchema, description=RECORD_OUTPUT)
@documented_errors(blp, 401)
def my_record(args):
    """Your CPD record: your logged activities and your Academy study, with totals. `?year=2026`
    limits it to the CPD year 1 April 2026 to 31 March 2027."""
    return _json(schemas.record(build_record(api_user(), args["year"])))


@blp.post("/me/cpd")
@blp.arguments(schemas.EntryWriteSchema)
@blp.response(201, schemas.EntrySchema)
@documented_errors(blp, 400, 401)
def add_entry(data):
    """Log a CPD activity. The title is required (at most 300 characters), `activity_type` one
    of the listed kinds, `started_on` not in the future, `ended_on` (optional) on or after it
    and not in the future, `hours` more than 0 and at most 1,000 with at most one decimal
    place, `reflection` at most 10,000 characters. Control characters are removed. Anything
    else: 422 naming the field, nothing saved."""
    caller = api_user()
    created = services.add_entry(caller, actor=caller, **data)
    db.session.commit()
    return _json(schemas.entry(created), 201)


@blp.get(f"/me/cpd/<{ID}:entry_id>")
@blp.response(200, schemas.EntrySchema)
@documented_errors(blp, 401, 404)
def get_entry(entry_id):
    """One of your CPD entries, with its `version`. Anyone else's answers 404."""
    return _json(schemas.entry(_own_entry_or_404(entry_id)))


@blp.put(f"/me/cpd/<{ID}:entry_id>")
@blp.arguments(schemas.EntryUpdateSchema)
@blp.response(200, schemas.EntrySchema)
@stale_version(blp)
@documented_errors(blp, 400, 401, 404)
def update_entry(data, entry_id):
    """Replace one of your CPD entries, sending the `version` you read. Fields left out that
    are optional (`provider`, `ended_on`, `reflection`) are cleared. A stale `version`: 409
    with the entry as it is now in `current`, nothing changed. The same rules as adding: 422.
    Anyone else's entry: 404."""
    found = _own_entry_or_404(entry_id)
    expected_version = data.pop("version")
    try:
        services.update_entry(found, actor=api_user(), expected_version=expected_version, **data)
    except services.StaleEntry as error:
        error.extra["current"] = schemas.entry(found)
        raise
    db.session.commit()
    return _json(schemas.entry(found))


@blp.delete(f"/me/cpd/<{ID}:entry_id>")
@blp.response(204)
@documented_errors(blp, 401, 404)
def delete_entry(entry_id):
    """Delete one of your CPD entries. Anyone else's: 404."""
    services.delete_entry(_own_entry_or_404(entry_id), actor=api_user())
    db.session.commit()
    return None


# --- admins reading a learner's record ---------------------------------------------------------


@blp.get(f"/users/<{ID}:user_id>/cpd")
@blp.arguments(schemas.RecordArgs, location="query")
@blp.response(200, schemas.RecordSchema, description=RECORD_OUTPUT)
@documented_errors(blp, 401, 403, 404)
def user_record(args, user_id):
    """A person's CPD record (admins; a learner their own). Only they change it. Tutors and
    sponsors who can see the person: 403. Anyone outside the caller's view: 404."""
    caller = api_user()
    owner = db.session.get(User, user_id)
    if owner is None or not can_view_user(caller, owner):
        abort(404)
    if not can_read_record(caller, owner):
        abort(403, description="Only the learner and academy admins can read a CPD record.")
    return _json(schemas.record(build_record(owner, args["year"])))
