"""The learning-content pages: who sees what, ticking off, editing, and safe rendering."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.content.models import ContentSection, Resource, ResourceCompletion
from academy.extensions import db
from tests.conftest import count


def text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'")


def squash(html: str) -> str:
    return " ".join(html.split())


# --- studying ----------------------------------------------------------------------------------


def test_a_learner_studies_the_module_and_ticks_resources_off(course, make, login_as):
    page = make.resource(course.section, kind="page", title="What a CCIO does")
    link = make.resource(course.section, kind="link", title="NHS England digital")
    make.resource(course.section, kind="reading", title="Wachter review")
    client = login_as(course.learner)

    before = text(client.get(f"/modules/{course.module.id}/learn"))
    assert "Week 1: Why informatics matters" in before
    assert "0 of 3 resources complete" in before
    assert before.count(">Mark as complete<") == 3

    response = client.post(f"/resources/{page.id}/complete")
    assert response.status_code == 302
    assert response.location.endswith(f"/modules/{course.module.id}/learn#resource-{page.id}")
    client.post(f"/resources/{link.id}/complete")
    client.post(f"/resources/{link.id}/complete")  # a second tick changes nothing

    after = text(client.get(f"/modules/{course.module.id}/learn"))
    assert "2 of 3 resources complete" in after
    assert len(re.findall(r">\s*Completed\s*<", after)) == 2
    assert after.count(">Mark as not complete<") == 2

    client.post(f"/resources/{page.id}/incomplete")
    assert "1 of 3 resources complete" in text(client.get(f"/modules/{course.module.id}/learn"))


def test_ticking_from_the_resource_page_returns_there(course, make, login_as):
    page = make.resource(course.section, kind="page")
    response = login_as(course.learner).post(
        f"/resources/{page.id}/complete", data={"from": "resource"}
    )
    assert response.location.endswith(f"/resources/{page.id}")


def test_a_page_has_its_own_page_with_the_full_text(course, make, login_as):
    page = make.resource(
        course.section, kind="page", title="Safety cases", body="## DCB0129\n\nA *standard*."
    )
    html = text(login_as(course.learner).get(f"/resources/{page.id}"))
    assert "<h2>DCB0129</h2>" in html and "<em>standard</em>" in html
    assert ">Mark as complete<" in html


def test_links_are_ordinary_links_that_cannot_reach_back(course, make, login_as):
    make.resource(course.section, kind="link", title="NHS Digital", url="https://digital.nhs.uk/x")
    html = squash(text(login_as(course.learner).get(f"/modules/{course.module.id}/learn")))
    assert '<a href="https://digital.nhs.uk/x" rel="noopener noreferrer">NHS Digital' in html
    assert "Website: digital.nhs.uk" in html
    assert 'target="_blank"' not in html


@pytest.mark.parametrize("who", ["outsider", "elsewhere", "withdrawn", "sponsor", "other_tutor"])
def test_people_without_the_module_get_404_for_everything(course, make, login_as, elsewhere, who):
    resource = make.resource(course.section, kind="file")
    if who == "outsider":
        user = make.user("learner")
    elif who == "elsewhere":
        user = elsewhere["learner"]
    elif who == "withdrawn":
        user = make.user("learner")
        make.enrolment(user, course.cohort, status="withdrawn")
    elif who == "sponsor":
        user = make.user("sponsor", scope=course.learner.organisation)
    else:
        user = elsewhere["tutor"]
    client = login_as(user)

    for path in (
        f"/modules/{course.module.id}/learn",
        f"/resources/{resource.id}",
        f"/resources/{resource.id}/download",
        f"/resources/{resource.id}/edit",
        f"/sections/{course.section.id}/edit",
        f"/modules/{course.module.id}/learn/sections/new",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/resources/{resource.id}/complete").status_code == 404
    assert client.post(f"/resources/{resource.id}/delete").status_code == 404
    assert count(ResourceCompletion) == 0 and count(Resource) == 1


def test_content_pages_need_sign_in(client, course):
    response = client.get(f"/modules/{course.module.id}/learn")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_tutors_and_admins_read_but_do_not_tick(course, make, login_as, app):
    resource = make.resource(course.section)
    for user in (course.tutor, course.admin):
        client = login_as(user, the_client=app.test_client())
        html = text(client.get(f"/modules/{course.module.id}/learn"))
        assert "resources complete" not in html and "Mark as complete" not in html
        assert client.post(f"/resources/{resource.id}/complete").status_code == 403
    assert count(ResourceCompletion) == 0


# --- markup and script in content --------------------------------------------------------------

ATTACKS = [
    "<script>alert('page')</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(2)">click me</a>',
    "[also click](javascript:alert(3))",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="position:fixed" onclick="alert(4)">styled</p>',
]


class Tags(HTMLParser):
    """Every element and attribute a browser would build from a page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def named(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]

    def scripts(self) -> list[dict]:
        """The page's script tags, less the nonce that differs with every response."""
        return [{k: v for k, v in attrs.items() if k != "nonce"} for attrs in self.named("script")]


@pytest.mark.parametrize("body_format", ["markdown", "html"])
def test_script_in_a_page_never_reaches_the_browser(course, make, login_as, body_format):
    body = "Safe **text**\n\n" + "\n\n".join(ATTACKS)
    page = make.resource(course.section, kind="page", body=body, body_format=body_format)
    make.resource(course.section, kind="reading", body=body)
    make.resource(course.section, kind="link", body=body)
    course.section.summary = body
    db.session.commit()
    client = login_as(course.learner)
    # The layout's own scripts, on a page showing no author text.
    layout_scripts = Tags(text(client.get(f"/modules/{course.module.id}"))).scripts()

    for path in (f"/resources/{page.id}", f"/modules/{course.module.id}/learn"):
        html = text(client.get(path))
        tags = Tags(html)
        assert "Safe" in html
        assert "<script>alert" not in html.lower()
        assert tags.scripts() == layout_scripts
        assert not tags.named("iframe") and not tags.named("img")
        for tag, attrs in tags.tags:
            assert not any(name.startswith("on") for name in attrs), (tag, attrs)
            assert "style" not in attrs, (tag, attrs)
            for name in ("href", "src", "action"):
                assert not attrs.get(name, "").strip().lower().startswith("javascript:"), attrs


def test_html_typed_as_markdown_is_shown_as_text(course, make, login_as):
    page = make.resource(course.section, kind="page", body="<b>bold?</b>", body_format="markdown")
    html = text(login_as(course.learner).get(f"/resources/{page.id}"))
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html


def test_titles_are_escaped(course, make, login_as):
    make.resource(course.section, kind="page", title="<script>alert('title')</script>")
    html = text(login_as(course.learner).get(f"/modules/{course.module.id}/learn"))
    assert "<script>alert('title')" not in html
    assert "&lt;script&gt;alert('title')&lt;/script&gt;" in html


# --- editing -----------------------------------------------------------------------------------


def test_a_tutor_of_the_cohort_builds_the_content(course, login_as):
    client = login_as(course.tutor)
    module_path = f"/modules/{course.module.id}/learn"
    assert "Add a section" in text(client.get(module_path))

    response = client.post(
        f"{module_path}/sections/new", data={"title": "Week 2: Data", "summary": "Read and reflect"}
    )
    section = db.session.scalar(
        sa.select(ContentSection).where(ContentSection.title == "Week 2: Data")
    )
    assert response.status_code == 302
    assert response.location.endswith(f"{module_path}#section-{section.id}")

    response = client.post(
        f"/sections/{section.id}/resources/new/page",
        data={"title": "Data quality", "body_format": "markdown", "body": "# Why it matters"},
    )
    resource = db.session.scalar(sa.select(Resource).where(Resource.title == "Data quality"))
    assert response.status_code == 302 and resource.section_id == section.id

    response = client.post(
        f"/resources/{resource.id}/edit",
        data={"title": "Data quality matters", "body_format": "html", "body": "<p>Yes</p>",
              "version": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(resource)
    assert (resource.title, resource.body_format, resource.version) == (
        "Data quality matters",
        "html",
        2,
    )
    actions = set(
        db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.actor_id == course.tutor.id)
        )
    )
    assert {
        "content.section_create",
        "content.resource_create",
        "content.resource_update",
    } <= actions


def test_a_stale_resource_edit_is_refused(course, make, login_as):
    resource = make.resource(course.section, kind="page", title="Before")
    response = login_as(course.tutor).post(
        f"/resources/{resource.id}/edit",
        data={"title": "After", "body_format": "markdown", "body": "x", "version": "5"},
    )
    assert response.status_code == 200
    assert "changed by someone else" in text(response)
    db.session.refresh(resource)
    assert resource.title == "Before"


def test_a_link_to_javascript_is_a_form_error(course, login_as):
    response = login_as(course.tutor).post(
        f"/sections/{course.section.id}/resources/new/link",
        data={"title": "Sneaky", "url": "javascript:alert(1)"},
    )
    body = text(response)
    assert response.status_code == 200
    assert "Enter a web address starting with https://" in body and 'href="#url"' in body
    assert count(Resource) == 0


def test_unknown_resource_kinds_are_404(course, login_as):
    assert (
        login_as(course.tutor).get(f"/sections/{course.section.id}/resources/new/video").status_code
        == 404
    )


def test_editors_move_and_delete(course, make, login_as):
    first = make.resource(course.section, title="First")
    second = make.resource(course.section, title="Second")
    other_section = make.section(course.module, title="Week 2")
    client = login_as(course.admin)

    assert client.post(f"/resources/{second.id}/move", data={"direction": "up"}).status_code == 302
    db.session.expire_all()
    assert [r.title for r in db.session.get(ContentSection, course.section.id).resources] == [
        "Second",
        "First",
    ]
    assert (
        client.post(f"/sections/{other_section.id}/move", data={"direction": "up"}).status_code
        == 302
    )
    page = text(client.get(f"/modules/{course.module.id}/learn"))
    assert page.index("Week 2") < page.index("Week 1")

    confirm = text(client.get(f"/resources/{first.id}/delete"))
    assert "Are you sure you want to delete the page “First”?" in confirm
    assert client.post(f"/resources/{first.id}/delete").status_code == 302
    assert client.post(f"/sections/{course.section.id}/delete").status_code == 302
    assert count(Resource) == 0 and count(ContentSection) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/resources/{r}/edit",
        "/sections/{s}/edit",
        "/resources/{r}/delete",
        "/modules/{m}/learn/sections/new",
    ],
)
def test_learners_may_not_edit(course, make, login_as, path):
    resource = make.resource(course.section)
    url = path.format(r=resource.id, s=course.section.id, m=course.module.id)
    client = login_as(course.learner)
    assert client.get(url).status_code == 403
    assert client.post(url, data={"title": "Hacked"}).status_code == 403
    assert (
        client.post(f"/resources/{resource.id}/move", data={"direction": "up"}).status_code == 403
    )
    db.session.refresh(resource)
    assert resource.title != "Hacked" and count(Resource) == 1
