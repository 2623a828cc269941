"""Every change to a module's learning content, and learners' ticks against it.

Functions validate, flush and audit; the caller commits. Uploaded files are checked by content
(academy.core.filetypes) before a byte is stored, and stored before the row that points at them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import sqlalchemy as sa

from academy.audit import services as audit
from academy.auth.services import check_version
from academy.catalogue.models import Module
from academy.cohorts.policy import studied_module_ids
from academy.content.models import (
    BODY_FORMATS,
    RESOURCE_KINDS,
    ContentSection,
    Resource,
    ResourceCompletion,
)
from academy.core import antivirus, filetypes
from academy.core.errors import DomainError
from academy.core.storage import storage
from academy.extensions import db

log = logging.getLogger(__name__)

#: Largest file a tutor may attach to a module (read at call time so tests can lower it).
MAX_FILE_SIZE = 50 * 1024 * 1024
#: Formats a module's files may be in: documents people open in a browser or an office suite.
CONTENT_FILE_TYPES = filetypes.ALL_TYPES
MAX_TITLE = 200
MAX_URL = 2000
#: Far beyond any real page, well inside what every database stores in a text column.
MAX_BODY = 200_000
DIRECTIONS = ("up", "down")


@dataclass(frozen=True)
class Upload:
    """A file as the request handed it over: its bytes (a seekable stream) and the name sent."""

    stream: BinaryIO
    name: str


# --- checks ------------------------------------------------------------------------------------


def _title(value: str | None, message: str) -> str:
    title = (value or "").strip()
    if not title:
        raise DomainError(message, field="title")
    if len(title) > MAX_TITLE:
        raise DomainError(f"Title must be {MAX_TITLE} characters or fewer", field="title")
    return title


def web_address(value: str | None, *, field: str = "url") -> str:
    """An absolute http or https address; anything else (javascript:, data:, a bare word) is
    refused, because it would become a link a learner clicks."""
    url = (value or "").strip()
    if not url:
        raise DomainError("Enter a web address", field=field)
    if len(url) > MAX_URL:
        raise DomainError(f"The web address must be {MAX_URL} characters or fewer", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not host
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise DomainError(
            "Enter a web address starting with https:// or http://, like https://digital.nhs.uk",
            field=field,
        )
    return url


def _body(value: str | None, *, required: str | None) -> str:
    body = (value or "").strip()
    if required and not body:
        raise DomainError(required, field="body")
    if len(body) > MAX_BODY:
        raise DomainError(f"The text must be {MAX_BODY:,} characters or fewer", field="body")
    if "\x00" in body:
        raise DomainError("The text must not contain NUL characters", field="body")
    return body


def _body_format(value: str | None) -> str:
    if value not in BODY_FORMATS:
        raise DomainError("Choose Markdown or HTML", field="body_format")
    return value


def _direction(direction: str) -> int:
    if direction not in DIRECTIONS:
        raise DomainError("Move up or down", field="direction")
    return -1 if direction == "up" else 1


def _renumber(rows: list) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position


def _in_order(resources: list[Resource]) -> list[Resource]:
    """A section's resources in display order, whatever order the loaded list is in."""
    return sorted(resources, key=lambda resource: (resource.position, resource.id or 0))


def _swap(rows: list, row, step: int) -> bool:
    """Move `row` one place within `rows` (already in display order). False at either end."""
    index = rows.index(row)
    target = index + step
    if not 0 <= target < len(rows):
        return False
    rows[index], rows[target] = rows[target], rows[index]
    _renumber(rows)
    return True


# --- sections ----------------------------------------------------------------------------------


def sections_of(module: Module) -> list[ContentSection]:
    """The module's sections in display order, their resources loaded with them."""
    return list(
        db.session.scalars(
            sa.select(ContentSection)
            .where(ContentSection.module_id == module.id)
            .order_by(ContentSection.position, ContentSection.id)
        )
    )


def section_snapshot(section: ContentSection) -> dict:
    return {
        "module_id": section.module_id,
        "title": section.title,
        "summary": section.summary,
        "position": section.position,
    }


def add_section(module: Module, *, actor, title: str, summary: str | None = "") -> ContentSection:
    """A new section at the end of the module."""
    siblings = sections_of(module)
    section = ContentSection(
        module_id=module.id,
        title=_title(title, "Enter the section's title"),
        summary=_body(summary, required=None),
        position=len(siblings),
    )
    db.session.add(section)
    _renumber(siblings)
    db.session.flush()
    audit.record(
        "content.section_create", actor=actor, obj=section, after=section_snapshot(section)
    )
    return section


def update_section(
    section: ContentSection, *, actor, title: str, summary: str | None = ""
) -> ContentSection:
    before = section_snapshot(section)
    section.title = _title(title, "Enter the section's title")
    section.summary = _body(summary, required=None)
    db.session.flush()
    old, new = audit.changes(before, section_snapshot(section))
    if new:
        audit.record("content.section_update", actor=actor, obj=section, before=old, after=new)
    return section


def delete_section(section: ContentSection, *, actor) -> None:
    """Delete a section with its resources and learners' ticks against them. The stored files
    stay: storage is by content hash and another resource may hold the same bytes."""
    before = section_snapshot(section)
    before["resources"] = [r.id for r in section.resources]
    module = section.module
    section_id = section.id
    db.session.delete(section)
    db.session.flush()
    _renumber(sections_of(module))
    db.session.flush()
    audit.record(
        "content.section_delete",
        actor=actor,
        object_type="content_section",
        object_id=section_id,
        before=before,
    )


def move_section(section: ContentSection, *, actor, direction: str) -> bool:
    step = _direction(direction)
    moved = _swap(sections_of(section.module), section, step)
    if moved:
        db.session.flush()
        audit.record(
            "content.section_move", actor=actor, obj=section, after={"position": section.position}
        )
    return moved


# --- resources ---------------------------------------------------------------------------------


def resource_snapshot(resource: Resource) -> dict:
    return {
        "section_id": resource.section_id,
        "kind": resource.kind,
        "title": resource.title,
        "position": resource.position,
        "body": resource.body,
        "body_format": resource.body_format,
        "url": resource.url,
        "file_sha256": resource.file_sha256,
        "file_name": resource.file_name,
        "file_size": resource.file_size,
        "file_type": resource.file_type,
    }


def _store(upload: Upload | None, *, required: bool) -> dict:
    """Check an upload's real type, then store it; the columns a file resource records."""
    if upload is None or upload.stream is None:
        if required:
            raise DomainError("Choose a file to upload", field="file")
        return {}
    file_type, name = filetypes.check_upload(upload.stream, upload.name, CONTENT_FILE_TYPES)
    antivirus.refuse_infected(upload.stream, name, field="file")
    blob = storage().save(upload.stream, max_size=MAX_FILE_SIZE)
    return {
        "file_sha256": blob.sha256,
        "file_name": name,
        "file_size": blob.size,
        "file_type": file_type.mime,
    }


def _apply(resource: Resource, *, creating: bool, **fields) -> None:
    """Set and check the fields a resource of its kind has."""
    kind = resource.kind
    resource.title = _title(fields.get("title"), "Enter a title")
    if kind == "page":
        resource.body_format = _body_format(fields.get("body_format") or "markdown")
        resource.body = _body(fields.get("body"), required="Enter the page's text")
    elif kind == "link":
        resource.url = web_address(fields.get("url"))
        resource.body = _body(fields.get("body"), required=None)
        resource.body_format = "markdown"
    elif kind == "reading":
        resource.body = _body(fields.get("body"), required="Enter the reference")
        resource.body_format = "markdown"
        url = (fields.get("url") or "").strip()
        resource.url = web_address(url) if url else None
    elif kind == "file":
        stored = _store(fields.get("upload"), required=creating)
        for name, value in stored.items():
            setattr(resource, name, value)


def add_resource(section: ContentSection, *, actor, kind: str, **fields) -> Resource:
    """A new resource at the end of `section`. Fields by kind: page `title, body, body_format`;
    link `title, url, body?`; reading `title, body, url?`; file `title, upload`."""
    if kind not in RESOURCE_KINDS:
        raise DomainError(f"Kind must be one of: {', '.join(RESOURCE_KINDS)}", field="kind")
    resource = Resource(kind=kind)
    _apply(resource, creating=True, **fields)
    _renumber(_in_order(section.resources))
    resource.position = len(section.resources)
    section.resources.append(resource)
    db.session.flush()
    audit.record(
        "content.resource_create", actor=actor, obj=resource, after=resource_snapshot(resource)
    )
    log.info("resource %s (%s) added by %s", resource.id, kind, getattr(actor, "id", "system"))
    return resource


def update_resource(
    resource: Resource, *, actor, expected_version: int | None = None, **fields
) -> Resource:
    """Change a resource's fields (its kind stays). A file resource keeps its file unless an
    `upload` replaces it."""
    check_version(resource, expected_version)
    before = resource_snapshot(resource)
    _apply(resource, creating=False, **fields)
    db.session.flush()
    old, new = audit.changes(before, resource_snapshot(resource))
    if new:
        audit.record("content.resource_update", actor=actor, obj=resource, before=old, after=new)
    return resource


def delete_resource(resource: Resource, *, actor) -> None:
    before = resource_snapshot(resource)
    section = resource.section
    resource_id = resource.id
    section.resources.remove(resource)
    db.session.delete(resource)
    _renumber(_in_order(section.resources))
    db.session.flush()
    audit.record(
        "content.resource_delete",
        actor=actor,
        object_type="resource",
        object_id=resource_id,
        before=before,
    )


def move_resource(resource: Resource, *, actor, direction: str) -> bool:
    step = _direction(direction)
    rows = _in_order(resource.section.resources)
    moved = _swap(rows, resource, step)
    if moved:
        db.session.flush()
        audit.record(
            "content.resource_move",
            actor=actor,
            obj=resource,
            after={"position": resource.position},
        )
    return moved


# --- learners' progress ------------------------------------------------------------------------


def can_track_progress(user, module: Module) -> bool:
    """Ticks are for learners studying the module (in a cohort that runs it, holding a place)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return module.id in set(db.session.scalars(studied_module_ids(user)))


def completed_resource_ids(user, module: Module) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(ResourceCompletion.resource_id)
            .join(Resource, Resource.id == ResourceCompletion.resource_id)
            .join(ContentSection, ContentSection.id == Resource.section_id)
            .where(ResourceCompletion.user_id == user.id, ContentSection.module_id == module.id)
        )
    )


def _check_studies(user, resource: Resource) -> None:
    if not can_track_progress(user, resource.section.module):
        raise DomainError("Only learners studying this module can track their progress", status=403)


def mark_complete(user, resource: Resource) -> bool:
    """Tick `resource` for `user`. True if it was not ticked before (ticking twice is harmless)."""
    _check_studies(user, resource)
    if db.session.get(ResourceCompletion, (user.id, resource.id)) is not None:
        return False
    db.session.add(ResourceCompletion(user_id=user.id, resource_id=resource.id))
    db.session.flush()
    log.info("user %s completed resource %s", user.id, resource.id)
    return True


def mark_incomplete(user, resource: Resource) -> bool:
    """Untick `resource` for `user`. True if it was ticked."""
    _check_studies(user, resource)
    completion = db.session.get(ResourceCompletion, (user.id, resource.id))
    if completion is None:
        return False
    db.session.delete(completion)
    db.session.flush()
    log.info("user %s un-completed resource %s", user.id, resource.id)
    return True
