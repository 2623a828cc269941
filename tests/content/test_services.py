"""The content services: ordering, the rules for each kind of resource, and learners' ticks."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.content import services
from academy.content.models import ContentSection, Resource, ResourceCompletion
from academy.core.errors import DomainError
from academy.extensions import db
from tests.content import files


def titles(rows) -> list[str]:
    return [row.title for row in sorted(rows, key=lambda row: row.position)]


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_sections_are_added_at_the_end_and_move_up_and_down(ctx, course):
    module, admin = course.module, course.admin
    second = services.add_section(module, actor=admin, title="Week 2")
    third = services.add_section(module, actor=admin, title="Week 3")

    assert services.move_section(third, actor=admin, direction="up") is True
    assert services.move_section(course.section, actor=admin, direction="up") is False

    assert titles(services.sections_of(module)) == [
        "Week 1: Why informatics matters",
        "Week 3",
        "Week 2",
    ]
    assert [s.position for s in services.sections_of(module)] == [0, 1, 2]
    services.delete_section(second, actor=admin)
    assert titles(services.sections_of(module)) == ["Week 1: Why informatics matters", "Week 3"]
    assert actions()[-1] == "content.section_delete"
    assert "content.section_move" in actions()


def test_resources_keep_their_order_within_a_section(ctx, course):
    admin, section = course.admin, course.section
    page = services.add_resource(section, actor=admin, kind="page", title="A", body="Text")
    link = services.add_resource(
        section, actor=admin, kind="link", title="B", url="https://digital.nhs.uk/"
    )
    reading = services.add_resource(section, actor=admin, kind="reading", title="C", body="Ref")

    services.move_resource(reading, actor=admin, direction="up")
    services.move_resource(page, actor=admin, direction="down")
    assert titles(section.resources) == ["C", "A", "B"]

    services.delete_resource(link, actor=admin)
    assert titles(section.resources) == ["C", "A"]
    assert [r.position for r in sorted(section.resources, key=lambda r: r.position)] == [0, 1]
    assert {"content.resource_create", "content.resource_move", "content.resource_delete"} <= set(
        actions()
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example/x",
        "//evil.example/",
        "digital.nhs.uk",
        "https://",
        "https://exa mple.com/",
        "https://example.com/\nSet-Cookie: x",
        "",
    ],
)
def test_links_must_be_web_addresses(ctx, course, url):
    with pytest.raises(DomainError) as raised:
        services.add_resource(course.section, actor=course.admin, kind="link", title="T", url=url)
    assert raised.value.field == "url"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Resource)) == 0


def test_a_reading_may_have_no_address_but_not_a_bad_one(ctx, course):
    reading = services.add_resource(
        course.section, actor=course.admin, kind="reading", title="Wachter", body="Wachter R."
    )
    assert reading.url is None
    with pytest.raises(DomainError):
        services.update_resource(
            reading, actor=course.admin, title="W", body="W", url="javascript:x"
        )


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("page", {"title": "T", "body": "  "}, "body"),
        ("page", {"title": "T", "body": "x", "body_format": "rtf"}, "body_format"),
        ("page", {"title": " ", "body": "x"}, "title"),
        ("reading", {"title": "T", "body": ""}, "body"),
        ("file", {"title": "T"}, "file"),
        ("video", {"title": "T"}, "kind"),
    ],
)
def test_each_kind_needs_its_fields(ctx, course, kind, fields, field):
    with pytest.raises(DomainError) as raised:
        services.add_resource(course.section, actor=course.admin, kind=kind, **fields)
    assert raised.value.field == field


def test_a_file_resource_stores_the_bytes_it_was_given(ctx, course, app):
    upload = services.Upload(stream=io.BytesIO(files.PDF), name="slides.pdf")

    resource = services.add_resource(
        course.section, actor=course.admin, kind="file", title="Slides", upload=upload
    )

    assert (resource.file_name, resource.file_type, resource.file_size) == (
        "slides.pdf",
        "application/pdf",
        len(files.PDF),
    )
    from academy.core.storage import storage

    with storage().open(resource.file_sha256) as stored:
        assert stored.read() == files.PDF


def test_editing_a_file_resource_without_a_new_file_keeps_the_old_one(ctx, course, make):
    resource = make.resource(course.section, kind="file", title="Old")
    sha = resource.file_sha256

    services.update_resource(resource, actor=course.admin, expected_version=1, title="New")

    assert (resource.title, resource.file_sha256) == ("New", sha)


def test_learners_tick_resources_once(ctx, course, make):
    resource = make.resource(course.section)

    assert services.mark_complete(course.learner, resource) is True
    assert services.mark_complete(course.learner, resource) is False
    assert services.completed_resource_ids(course.learner, course.module) == {resource.id}
    assert services.mark_incomplete(course.learner, resource) is True
    assert services.mark_incomplete(course.learner, resource) is False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ResourceCompletion)) == 0


def test_only_learners_studying_the_module_tick_it(ctx, course, make, elsewhere):
    resource = make.resource(course.section)
    for outsider in (course.tutor, course.admin, elsewhere["learner"]):
        with pytest.raises(DomainError) as raised:
            services.mark_complete(outsider, resource)
        assert raised.value.status == 403


def test_a_withdrawn_learner_no_longer_ticks(ctx, course, make):
    learner = make.user("learner")
    make.enrolment(learner, course.cohort, status="withdrawn")
    assert services.can_track_progress(learner, course.module) is False


def test_deleting_a_section_removes_its_resources_and_ticks(ctx, course, make):
    resource = make.resource(course.section)
    services.mark_complete(course.learner, resource)

    services.delete_section(course.section, actor=course.admin)
    db.session.commit()

    for model in (ContentSection, Resource, ResourceCompletion):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
