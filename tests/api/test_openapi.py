"""The OpenAPI document and its docs page."""

from __future__ import annotations

import re

import pytest

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
DOC_ENDPOINTS = {"/api/v1/openapi.json", "/api/v1/docs"}


@pytest.fixture
def spec(api):
    response = api().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def openapi_path(rule: str) -> str:
    """`/users/<int(min=1):user_id>` is `/users/{user_id}` in OpenAPI."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_operations(app) -> list[tuple[str, str]]:
    operations = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in DOC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - SKIPPED_METHODS):
            operations.append((openapi_path(rule.rule), method.lower()))
    return operations


def test_every_api_route_is_documented(app, spec):
    operations = api_operations(app)
    assert len(operations) >= 11  # tokens x2, me, users x4, roles x2, organisations x4
    missing = [op for op in operations if op[1] not in spec["paths"].get(op[0], {})]
    assert missing == []


def test_every_documented_operation_exists(app, spec):
    routes = set(api_operations(app))
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert documented <= routes


def test_operations_document_bodies_answers_and_errors(app, spec):
    for path, method in api_operations(app):
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (path, method)
        if method in {"post", "patch"}:
            # JSON, or multipart/form-data for file uploads.
            content = operation["requestBody"]["content"]
            body = (content.get("application/json") or content["multipart/form-data"])["schema"]
            assert body["$ref"].startswith("#/components/schemas/"), (path, method)
            assert "422" in responses, (path, method)
        if operation.get("security") != []:
            assert "401" in responses, (path, method)


def test_the_error_body_is_documented(spec):
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "errors"} <= set(error)
    stale = spec["paths"]["/api/v1/organisations/{organisation_id}"]["patch"]["responses"]["409"]
    schema_name = stale["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "current" in spec["components"]["schemas"][schema_name]["properties"]


def test_lists_document_their_pagination_headers_and_parameters(spec):
    for path in ("/api/v1/users", "/api/v1/organisations"):
        operation = spec["paths"][path]["get"]
        assert {"X-Total-Count", "Link"} <= set(operation["responses"]["200"]["headers"])
        assert {"page", "per_page"} <= {p["name"] for p in operation["parameters"]}
        per_page = next(p for p in operation["parameters"] if p["name"] == "per_page")
        assert per_page["schema"]["maximum"] == 200


def test_bearer_authentication_is_the_default_and_token_creation_is_open(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert spec["security"] == [{"bearerAuth": []}]
    create_token = spec["paths"]["/api/v1/auth/tokens"]["post"]
    assert create_token["security"] == []
    assert "Retry-After" in create_token["responses"]["429"]["headers"]


def test_the_docs_page_uses_only_local_assets(api):
    response = api().get("/api/v1/docs")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui/swagger-ui.css" in html
    assert "/api/v1/openapi.json" in html
    for external in ("cdn", "unpkg", "jsdelivr", "http://", "https://"):
        assert external not in html.lower()
