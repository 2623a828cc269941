"""Query discipline: every key page makes as many SQL statements for a large world as for a small
one (no N+1), and every foreign key can be found through an index."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

import academy.models  # noqa: F401 - every table in the metadata
from academy.assessment.models import SubmissionReceipt
from academy.extensions import db
from academy.marking import services as marking
from tests.queries import counted_queries


@dataclass
class World:
    learner: object
    tutor: object
    sponsor: object
    admin: object
    trust: object
    cohort: object
    assignment: object
    credential: object


def receipt_for(submission) -> SubmissionReceipt:
    """Handed-in work always has a receipt (the factory's shortcut makes none)."""
    return SubmissionReceipt(submission_id=submission.id, submitted_at=submission.submitted_at,
                             sha256="0" * 64, files=[], late_working_days=0)  # fmt: skip


def world(make, size: int) -> World:
    """A trust whose `size` learners are in a cohort with `size` assignments, every one handed
    in, marked in a mix of states, the first (the whole of the first module) released, so every
    learner has a result and a credential; plus
    `size` more users with roles for the users API. The first learner is the one whose pages are
    read; everything they see grows with `size`."""
    trust = make.organisation()
    cohort = make.cohort(make.programme(modules=[make.module(), make.module()]))
    tutor = make.user("tutor", scope=cohort)
    sponsor = make.user("sponsor", scope=trust)
    admin = make.user("admin")
    learners = [make.learner_in(cohort, organisation=trust) for _ in range(size)]
    assignments = [
        make.assignment(
            cohort,
            delivery=cohort.deliveries[min(n, 1)],
            anonymous=n % 3 == 2,
            title=f"Assignment {n}",
        )  # fmt: skip
        for n in range(size)
    ]
    for n, assignment in enumerate(assignments):
        for m, learner in enumerate(learners):
            submission = make.submission(assignment, learner)
            db.session.add(receipt_for(submission))
            if n == 0 or (n + m) % 3 != 2:
                marking.save_mark(submission, actor=tutor, expected_version=0, mark=55 + m,
                                  complete=n == 0 or (n + m) % 3 == 0)  # fmt: skip
    marking.release(assignments[0], actor=tutor)
    for _ in range(size):
        make.user("learner", organisation=trust)
    db.session.commit()
    credential = make.credential()  # a learner of its own, who passed a module outright
    return World(learners[0], tutor, sponsor, admin, trust, cohort, assignments[0], credential)


PAGES = {
    "learner home": (lambda w: w.learner, lambda w: "/learning"),
    "assignment page": (lambda w: w.learner, lambda w: f"/assignments/{w.assignment.id}"),
    "marking queue": (lambda w: w.tutor, lambda w: "/marking"),
    "gradebook": (lambda w: w.tutor, lambda w: f"/marking/cohorts/{w.cohort.id}/gradebook"),
    "trust dashboard": (lambda w: w.sponsor, lambda w: f"/organisations/{w.trust.id}/dashboard"),
    "credential verification": (None, lambda w: f"/credentials/{w.credential.uuid}"),
}


def statements_for(app, login_as, who, path) -> int:
    client = app.test_client()
    if who is not None:
        login_as(who, the_client=client)
    client.get(path)  # the same warm-up for both worlds: sign-in bookkeeping, first loads
    db.session.expunge_all()  # nothing read for one world may help the other
    with counted_queries() as statements:
        response = client.get(path)
        response.get_data()
    assert response.status_code == 200, path
    return len(statements)


@pytest.mark.parametrize("page", list(PAGES))
def test_each_key_page_makes_as_many_queries_for_a_large_world_as_for_a_small_one(
    app, make, login_as, page
):
    who, path = PAGES[page]
    counts = []
    for size in (2, 5):
        built = world(make, size)
        counts.append(statements_for(app, login_as, who(built) if who else None, path(built)))
    assert counts[0] == counts[1], f"{page}: {counts[0]} statements for 2, {counts[1]} for 5"


def test_the_users_api_makes_as_many_queries_for_many_users_as_for_few(make, api):
    counts = []
    for size in (2, 6):
        built = world(make, size)
        client = api(built.admin)
        client.get("/api/v1/users?per_page=50")
        db.session.expunge_all()
        with counted_queries() as statements:
            response = client.get("/api/v1/users?per_page=50")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


# --- indexes -------------------------------------------------------------------------------------


def unindexed_foreign_keys() -> set[str]:
    """Foreign keys whose first column leads no index, primary key or unique constraint: a
    delete of the parent row, or a filter on the key, reads the whole child table."""
    missing = set()
    for table in db.metadata.sorted_tables:
        leading = {tuple(index.columns)[0].name for index in table.indexes}
        leading |= {column.name for column in table.columns if column.unique}
        for constraint in table.constraints:
            if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint):
                columns = list(constraint.columns)
                if columns:
                    leading.add(columns[0].name)
        for foreign_key in table.foreign_key_constraints:
            first = next(iter(foreign_key.columns)).name
            if first not in leading:
                missing.add(f"{table.name}.{first}")
    return missing


def test_every_foreign_key_has_an_index():
    """Deleting a user or a cohort, erasure and "who did this" lookups all search by foreign key;
    without an index each is a scan of the whole table (and on PostgreSQL a lock held as long)."""
    assert unindexed_foreign_keys() == set()
