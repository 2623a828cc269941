"""Tests of cohorts, module deliveries, tutors, enrolments and the CSV import."""

from __future__ import annotations

import io

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from academy.audit.models import AuditEvent
from academy.extensions import db


def audit_events(action: str, obj=None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if obj is not None:
        stmt = stmt.where(AuditEvent.object_id == str(obj.id))
    return list(db.session.scalars(stmt))


def fresh(model, id_):
    """The row as the database holds it now, not as this test's session remembers it."""
    return db.session.scalars(
        sa.select(model).where(model.id == id_).execution_options(populate_existing=True)
    ).one()


def text(response) -> str:
    return " ".join(
        response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"').split()
    )


def multipart(data: bytes, name: str = "learners.csv") -> dict:
    """A multipart upload body built in memory, as keyword arguments for a test client's post
    (the client would spool a large body to a temporary file it never closes)."""
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(data), filename=name, content_type="text/csv")}
    )
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}
