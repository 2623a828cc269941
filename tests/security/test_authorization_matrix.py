"""The authorization matrix: every route of the app's URL map, HTML and API, called by each actor
of tests/security/matrix_world.py with every id filled by an object of cohort A / learner A's
world, and the outcome compared with the explicit table in authorization_table.py. A route
without an entry fails the suite (ASVS 5.0 8.1.1 and 8.2.2: access rules documented, and
enforced on every object a function reaches).

GETs must answer exactly what the table says. State-changing methods are sent with an empty
form (HTML) or the smallest body the API's schema accepts (matrix_world.API_BODIES): an actor
the table refuses must get exactly that refusal, and the request must change nothing (no audit
event); an actor the table allows must get past the authorization checks (any answer but a
refusal or a server error: a form error, a 409 and a redirect all show the request reached the
object). Each request runs in a savepoint that is rolled back, with the session cookie put
back, so no request changes what the next one finds.
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.extensions import db
from tests.security import authorization_table as table
from tests.security import matrix_world
from tests.security.matrix_world import ACTORS

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
REFUSALS = table.REFUSALS


def _requests(app):
    """(rule, method) for every route and method the app answers, API and HTML."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _outcome(response):
    """The status code, or "login" for the refusal of a page that needs signing in: a redirect
    to the sign-in page that comes back here after (a plain redirect to /sign-in, as after
    signing out, is a 302 like any other)."""
    if response.status_code in (301, 302, 303, 307, 308):
        location = urlsplit(response.headers.get("Location", ""))
        if location.path == "/sign-in" and "next" in parse_qs(location.query):
            return table.LOGIN
    return response.status_code


@contextmanager
def _rolled_back():
    """Whatever the request writes is undone: the session under test commits to savepoints of
    the test's connection (tests/conftest.py), so one more savepoint around it catches all."""
    db.session.remove()
    savepoint = db.session.get_bind().begin_nested()
    try:
        yield
    finally:
        db.session.remove()
        if savepoint.is_active:
            savepoint.rollback()


@contextmanager
def _cookies_kept(client, app):
    """Put the session (and remember) cookies back afterwards: a sign-out, a password change or
    an MFA change would otherwise sign the actor out for every later request."""
    names = (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", ""))
    kept = {name: client.get_cookie(name) for name in names if name}
    try:
        yield
    finally:
        for name, cookie in kept.items():
            if cookie is None:
                client.delete_cookie(name)
            else:
                client.set_cookie(name, cookie.value, path=cookie.path)


def _audit_events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def _body(world, endpoint, method, is_api, api_headers) -> dict:
    """What to send: nothing for reads; for changes an empty form (HTML views authorize before
    they validate), or for the API the smallest body its schema accepts."""
    if method not in STATE_CHANGING:
        return {"headers": api_headers} if is_api else {}
    if not is_api:
        return {"data": {}}
    if endpoint in matrix_world.API_FILES:
        return {"headers": api_headers, **matrix_world.API_FILES[endpoint](world.values)}
    body = matrix_world.API_BODIES.get(endpoint, lambda v: {})(world.values)
    return {"headers": api_headers, "json": None if method == "DELETE" else body}


def _describe(rule, method) -> str:
    return f"{rule.endpoint} {method} {rule.rule}"


def test_the_table_names_every_route_and_nothing_else(app):
    routes: dict[str, list] = {}
    for rule, method in _requests(app):
        routes.setdefault(rule.endpoint, []).append((method, rule.rule))
    missing = sorted(set(routes) - set(table.EXPECTED))
    stale = sorted(set(table.EXPECTED) - set(routes))
    lines = [
        f"  {endpoint}: {', '.join(sorted({m for m, _ in routes[endpoint]}))} "
        f"{sorted({r for _, r in routes[endpoint]})}"
        for endpoint in missing
    ]
    assert not missing, (
        "These routes have no entry in tests/security/authorization_table.py; add one saying "
        "what each actor (" + ", ".join(ACTORS) + ") must get, after reading the view's "
        "policy checks:\n" + "\n".join(lines)
    )
    assert not stale, f"Entries for routes that no longer exist: {stale}"
    for endpoint, pairs in routes.items():
        for method, _ in pairs:
            gaps = [actor for actor in ACTORS if table.expected(endpoint, method, actor) is None]
            assert not gaps, f"{endpoint} {method}: no outcome for {gaps}"


def _refused(expected) -> bool:
    return expected in REFUSALS or isinstance(expected, table.Exactly)


def _check(expected, actual, method) -> bool:
    if isinstance(actual, int) and actual >= 500:
        return False
    if method not in STATE_CHANGING or _refused(expected):
        return actual == expected
    # Allowed to reach the object: anything but a refusal (the small body may well be invalid).
    return actual not in REFUSALS


@pytest.mark.parametrize("actor", ACTORS)
def test_each_route_answers_the_actor_as_the_table_says(app, make, login_as, actor):
    world = matrix_world.build(make, app)
    user = world.users[actor]
    html = app.test_client()
    api = app.test_client()
    api_headers = {"Accept": "application/json"}
    if user is not None:
        login_as(user, the_client=html)
        api_headers["Authorization"] = f"Bearer {make.token_for(user)}"
    failures = []
    for rule, method in _requests(app):
        if rule.endpoint not in table.EXPECTED:
            continue  # reported by test_the_table_names_every_route_and_nothing_else
        expected = table.expected(rule.endpoint, method, actor)
        with app.test_request_context():
            url = world.url(rule)
        is_api = rule.rule.startswith("/api/")
        client = api if is_api else html
        with _rolled_back(), _cookies_kept(client, app):
            before = _audit_events() if method in STATE_CHANGING else None
            response = client.open(
                url, method=method, **_body(world, rule.endpoint, method, is_api, api_headers)
            )
            actual = _outcome(response)
            response.close()
            if before is not None and _refused(expected) and _audit_events() != before:
                failures.append(
                    f"{_describe(rule, method)}: must be refused ({expected}), yet it answered "
                    f"{actual} and wrote an audit event"
                )
        if not _check(expected, actual, method):
            failures.append(f"{_describe(rule, method)} ({url}): expected {expected}, got {actual}")
    assert not failures, f"{actor}: {len(failures)} route(s) off the table:\n" + "\n".join(failures)
