"""Schemathesis fuzzes every operation in `/api/v1/openapi.json` with an admin's token: no input
makes the API answer 5xx, every answer matches the response schema the document promises, and its
status code is one the document lists: bad input gets a clear 4xx JSON error, never a crash.

Runs are bounded and reproducible: a fixed number of examples per operation, derandomized, with
no example database, so a failure here fails the same way on the next run and in CI."""

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from academy.core.storage import storage
from academy.extensions import db

OPENAPI = "/api/v1/openapi.json"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def admin_headers(make):
    """Fresh headers per call: an operation that revokes the caller's own tokens (signing out
    everywhere) must not leave every later operation fuzzing only the 401 branch."""
    admin = make.user("admin")
    return lambda: {"Authorization": f"Bearer {make.token_for(admin)}"}


@pytest.fixture
def existing_ids(make):
    """Real ids for path parameters: random integers only ever reach the 404 branch, so each
    id-taking operation is also fuzzed against rows that exist (its body and query still random)."""
    cohort = make.cohort()
    learner = make.learner_in(cohort)
    credential = make.credential(learner, cohort)
    assignment = make.assignment(cohort, title="Fuzzed assignment")
    submission = make.submission(assignment, make.learner_in(cohort))
    blob = storage().save(io.BytesIO(b"%PDF-1.7 an essay"), max_size=1024)
    submission.files[0].sha256, submission.files[0].size = blob.sha256, blob.size
    db.session.commit()
    return {
        "module_id": cohort.deliveries[0].module_id,
        "programme_id": cohort.programme_id,
        "assignment_id": assignment.id,
        "submission_id": submission.id,
        "file_id": submission.files[0].id,
        "credential_id": credential.id,
        "user_id": learner.id,
        "organisation_id": learner.organisation_id,
    }


def fuzz(operation, headers, mode, path_parameters=None):
    @FUZZ
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    def run(case):
        # Buffered, so Werkzeug closes a streamed download's file: Schemathesis reads the body of a
        # file response without closing it, which the suite's warnings-as-errors would fail.
        response = case.call(headers=headers, buffered=True)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def runs(operation, existing_ids):
    """Valid and invalid requests; for an id-taking operation against rows that exist, plus
    valid requests with random ids to cover its 404 answer."""
    names = {parameter.name for parameter in operation.path_parameters}
    pinned = {name: existing_ids[name] for name in names if name in existing_ids}
    if not pinned:
        return [("", mode, None) for mode in GenerationMode]
    return [
        *(("existing ids", mode, pinned) for mode in GenerationMode),
        ("random ids", GenerationMode.POSITIVE, None),
    ]


def test_no_operation_breaks_its_contract(app, admin_headers, existing_ids):
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    failures = {}
    for operation in operations:
        for ids, mode, path_parameters in runs(operation, existing_ids):
            try:
                fuzz(operation, admin_headers(), mode, path_parameters)
            except (Exception, BaseExceptionGroup) as error:  # report every operation's failure
                run = ", ".join(filter(None, [mode.value, ids]))
                failures[f"{operation.label} ({run})"] = f"{type(error).__name__}: {error}"
    assert not failures, "\n\n".join(f"{label}\n{message}" for label, message in failures.items())
