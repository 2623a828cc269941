"""List pagination. The API: `?page=&per_page=`, `X-Total-Count` and an RFC 8288 `Link`. The
HTML lists: `page_of`, a Flask-SQLAlchemy page for templates/macros/pagination.html."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import request
from marshmallow import Schema, fields, validate

from academy.extensions import db

MAX_PER_PAGE = 200
#: Rows on one page of an HTML list.
HTML_PER_PAGE = 50


class PageArgs(Schema):
    # Bounded so the OFFSET it becomes always fits the database's integer types.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


PAGINATION_HEADERS = {
    "X-Total-Count": {"description": "Items in the whole list", "schema": {"type": "integer"}},
    "Link": {
        "description": "RFC 8288 links: first, prev, next, last",
        "schema": {"type": "string"},
    },
}


def paginate(stmt: sa.Select, args: dict):
    """Run `stmt` for one page; return `(items, 200, headers)` for a flask-smorest view."""
    page, per_page = args["page"], args["per_page"]
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    )
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique().all()
    return items, 200, pagination_headers(total, page, per_page)


def pagination_headers(total: int, page: int, per_page: int) -> dict[str, str]:
    last = max(1, math.ceil(total / per_page))
    query = request.args.to_dict()

    def link(number: int, rel: str) -> str:
        query.update(page=str(number), per_page=str(per_page))
        return f'<{request.base_url}?{urlencode(query)}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
    links.append(link(last, "last"))
    return {"X-Total-Count": str(total), "Link": ", ".join(links)}


def page_of(stmt: sa.Select, per_page: int = HTML_PER_PAGE):
    """One page of `stmt` for an HTML list, numbered by `?page=`: a missing, unreadable or
    too-small number is page 1, and a page past the end is empty rather than a 404."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
