"""The gradebook: what each cell shows, and a query count that does not grow with the cohort."""

from __future__ import annotations

from decimal import Decimal

import pytest

from academy.cohorts.models import Cohort
from academy.extensions import db
from academy.marking import services
from academy.marking.gradebook import HIDDEN, build_gradebook, csv_lines
from tests.queries import counted_queries


def cohort_with(make, learners: int, assignments: int):
    """A cohort whose learners have all handed in every assignment, with a mix of marks in every
    state: released (with results), completed, draft and unmarked, on named and anonymous work."""
    modules = [make.module(), make.module()]
    cohort = make.cohort(make.programme(modules=modules))
    tutor = make.user("tutor", scope=cohort)
    people = [make.learner_in(cohort) for _ in range(learners)]
    work = [
        make.assignment(
            cohort, delivery=cohort.deliveries[n % 2], anonymous=n % 2 == 1, title=f"Assignment {n}"
        )  # fmt: skip
        for n in range(assignments)
    ]
    for n, assignment in enumerate(work):
        for m, person in enumerate(people):
            submission = make.submission(assignment, person)
            if (n + m) % 3 != 2:
                services.save_mark(submission, actor=tutor, expected_version=0,
                                   mark=40 + m, complete=(n + m) % 3 == 0)  # fmt: skip
        services.release(assignment, actor=tutor)
    db.session.commit()
    return cohort, tutor


def test_the_query_count_does_not_grow_with_learners_or_assignments(make, ctx):
    small, _ = cohort_with(make, learners=3, assignments=2)
    large, _ = cohort_with(make, learners=12, assignments=5)
    counts = []
    for cohort_id in (small.id, large.id):
        db.session.expunge_all()  # nothing read for one cohort may help the other
        cohort = db.session.get(Cohort, cohort_id)
        with counted_queries() as statements:
            book = build_gradebook(cohort)
            "".join(csv_lines(book))
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert len(book.rows) == 12 and len(book.assignments) == 5


@pytest.mark.parametrize("path", ["gradebook", "gradebook.csv"])
def test_the_pages_make_as_many_queries_for_a_large_cohort_as_for_a_small_one(
    make, app, login_as, path
):
    small, _ = cohort_with(make, learners=3, assignments=2)
    large, _ = cohort_with(make, learners=12, assignments=5)
    client = login_as(make.user("admin"), the_client=app.test_client())
    counts = []
    for cohort_id in (small.id, large.id):
        client.get(f"/marking/cohorts/{cohort_id}/{path}")  # the same warm-up for both
        db.session.expunge_all()
        with counted_queries() as statements:
            response = client.get(f"/marking/cohorts/{cohort_id}/{path}")
            response.get_data()
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_cells_hide_anonymous_work_until_release(make, ctx):
    cohort = make.cohort()
    tutor = make.user("tutor", scope=cohort)
    learner = make.learner_in(cohort)
    named = make.assignment(cohort, title="Named")
    anonymous = make.assignment(cohort, title="Anonymous", anonymous=True)
    services.save_mark(make.submission(named, learner), actor=tutor, expected_version=0, mark=61)
    hidden = services.save_mark(make.submission(anonymous, learner), actor=tutor,
                                expected_version=0, mark=73)  # fmt: skip
    db.session.commit()

    (row,) = build_gradebook(cohort).rows
    by_title = dict(zip([a.title for a in build_gradebook(cohort).assignments], row.cells,
                        strict=True))  # fmt: skip
    assert (by_title["Named"].mark, by_title["Named"].label) == (Decimal(61), "Marked")
    assert by_title["Named"].submission_id is not None
    assert by_title["Anonymous"].mark is None and by_title["Anonymous"].submission_id is None
    assert by_title["Anonymous"].label == HIDDEN

    services.release(anonymous, actor=tutor)
    db.session.commit()
    (row,) = build_gradebook(cohort).rows
    released = row.cells[[a.title for a in build_gradebook(cohort).assignments].index("Anonymous")]
    assert (released.mark, released.released, released.submission_id) == (
        Decimal(73),
        True,
        hidden.submission_id,
    )
    (result,) = row.results
    assert result is not None and result.status == "incomplete"


def test_learners_without_work_show_as_not_submitted(make, ctx):
    cohort = make.cohort()
    make.learner_in(cohort)
    make.assignment(cohort)
    (row,) = build_gradebook(cohort).rows
    assert [cell.label for cell in row.cells] == ["Not submitted"]
    assert row.results == [None]
