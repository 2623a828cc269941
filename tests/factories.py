"""Factories that build rows directly, fast, with realistic values.

They commit, as the data a request finds would have been committed before it; each test's outer
transaction still rolls everything back."""

from __future__ import annotations

import itertools
from datetime import date

from academy.auth import services as auth_services
from academy.auth.models import RoleAssignment, User
from academy.auth.passwords import hash_password
from academy.extensions import db
from academy.organisations.models import Organisation

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH: str | None = None
_sequence = itertools.count(1)


def _password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per run.
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


class Factories:
    def __init__(self, app):
        self.app = app

    def organisation(self, **fields) -> Organisation:
        n = next(_sequence)
        organisation = Organisation(
            ods_code=fields.pop("ods_code", f"T{n:04d}"),
            name=fields.pop("name", f"Test Hospitals NHS Foundation Trust {n}"),
            sector=fields.pop("sector", "acute"),
            nation=fields.pop("nation", "england"),
            **fields,
        )
        db.session.add(organisation)
        db.session.commit()
        return organisation

    def user(self, role: str | None = None, *, organisation=None, scope=None, **fields) -> User:
        """A user, optionally holding `role` (scoped to `scope`: an organisation for sponsors)."""
        n = next(_sequence)
        user = User(
            email=fields.pop("email", f"person{n}@nhs.test"),
            name=fields.pop("name", f"Person {n}"),
            password_hash=fields.pop("password_hash", _password_hash()),
            organisation_id=organisation.id if organisation else None,
            active=fields.pop("active", True),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        if role:
            self.role(user, role, scope=scope)
        return user

    def role(
        self, user, role: str, *, scope=None, valid_from=None, valid_to=None
    ) -> RoleAssignment:
        columns = {}
        if role == "sponsor":
            columns["organisation_id"] = scope.id
        elif role == "tutor" and scope is not None:
            columns["cohort_id"] = scope.id
        elif role == "examiner" and scope is not None:
            columns["programme_id"] = scope.id
        assignment = RoleAssignment(
            user_id=user.id,
            role=role,
            valid_from=valid_from or date(2020, 1, 1),
            valid_to=valid_to,
            **columns,
        )
        db.session.add(assignment)
        db.session.commit()
        db.session.refresh(user)
        return assignment

    def token_for(self, user) -> str:
        with self.app.test_request_context():
            _, secret = auth_services.issue_token(user, label="test")
            db.session.commit()
        return secret


class ApiClient:
    """A test client that sends JSON with a bearer token."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers):
        merged = {"Accept": "application/json"}
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        merged.update(headers or {})
        return merged

    def open(self, method, path, json=None, headers=None, **kw):
        if not path.startswith("/"):
            path = "/api/v1/" + path
        return self.client.open(
            path, method=method, json=json, headers=self._headers(headers), **kw
        )

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.open("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.open("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.open("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)
