"""The header's role-aware navigation. Domains add their entries where they register views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    text: str
    endpoint: str
    #: Shown only when this returns true for the signed-in user (policy predicates).
    visible: Callable[[object], bool]
    #: Endpoint prefix marking the item current (e.g. `organisations.` for every page below it).
    section: str


_items: list[NavItem] = []


def add_nav_item(text: str, endpoint: str, visible: Callable[[object], bool], section: str) -> None:
    if all(item.endpoint != endpoint for item in _items):
        _items.append(NavItem(text, endpoint, visible, section))


def navigation_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    current = request.endpoint or ""
    return [
        {
            "text": item.text,
            "href": url_for(item.endpoint),
            "current": current.startswith(item.section),
        }
        for item in _items
        if item.visible(current_user)
    ]
