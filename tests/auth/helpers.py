"""Reading the parts of a rendered page that people (and screen readers) rely on."""

from __future__ import annotations

import html
import re


def text(fragment: str) -> str:
    """Visible text: tags dropped, entities decoded, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", fragment)
    return " ".join(html.unescape(without_tags).split())


def body(response) -> str:
    return response.get_data(as_text=True)


def page_without_nonce(response) -> str:
    """The page with its per-response script nonce blanked, to compare two answers for sameness."""
    return re.sub(r'nonce="[^"]*"', 'nonce=""', body(response))


def h1(response) -> str:
    headings = re.findall(r"<h1[^>]*>(.*?)</h1>", body(response), re.S)
    assert len(headings) == 1, f"expected one h1, found {len(headings)}"
    return text(headings[0])


def title(response) -> str:
    return text(re.search(r"<title>(.*?)</title>", body(response), re.S).group(1))


def error_summary(response) -> list[tuple[str, str]]:
    """(target, message) for each entry of the NHS.UK error summary, in order."""
    page = body(response)
    match = re.search(r'class="nhsuk-error-summary".*?</ul>', page, re.S)
    if match is None:
        return []
    return [
        (target, text(message))
        for target, message in re.findall(r'<a href="([^"]*)"\s*>(.*?)</a>', match.group(0), re.S)
    ]


def table_rows(response) -> list[str]:
    rows = re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', body(response), re.S)
    return [text(row) for row in rows]


def inputs(response) -> list[dict[str, str]]:
    """Attributes of every <input> on the page."""
    found = []
    for tag in re.findall(r"<input\b[^>]*>", body(response), re.S):
        found.append({k: v for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)})
    return found


def labels_for(response) -> set[str]:
    return set(re.findall(r'<label[^>]*\bfor="([^"]+)"', body(response), re.S))


def link_in(message, prefix: str) -> str:
    """The first link starting with `prefix` in an email's plain-text part."""
    plain = message.get_body(("plain",)).get_content()
    match = re.search(re.escape(prefix) + r"\S+", plain)
    assert match, f"no link starting {prefix} in:\n{plain}"
    return match.group(0)
