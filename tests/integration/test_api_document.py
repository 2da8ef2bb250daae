"""The API's OpenAPI document against the real app: every route documented, served, valid, generated."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from pydantic import BaseModel

from omnibot.entrypoints.http.openapi import SCHEMA_REF, Operation, openapi_path
from omnibot.entrypoints.http.operations import OPERATIONS, document
from omnibot.entrypoints.http.responses import ErrorBody
from tests.integration.apps import sqlite_apps

# Flask's own static route (the app has no static folder): not part of the API.
NOT_API = {"static"}
# Blueprints of pages for people, not endpoints for shops: the operators' dashboard under /admin.
NOT_API_BLUEPRINTS = {"admin"}
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def app(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.chdir(tmp_path)
    with sqlite_apps(tmp_path / "docs.sqlite3", internal_api_key="docs-key", viber_auth_token="docs-viber-token",
                     viber_api_url="http://127.0.0.1:9/pa") as make:
        yield make()


def routes(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every API route the app serves."""
    return {(method, openapi_path(rule.rule)) for rule in app.url_map.iter_rules()
            if rule.endpoint not in NOT_API and rule.endpoint.partition(".")[0] not in NOT_API_BLUEPRINTS
            for method in (rule.methods or set()) - IMPLICIT_METHODS}


def documented(operations: tuple[Operation, ...] = OPERATIONS) -> set[tuple[str, str]]:
    return {operation.key for operation in operations}


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    assert sorted(routes(app) - documented()) == [], "routes missing from operations.OPERATIONS"
    assert sorted(documented() - routes(app)) == [], "documented routes the app does not serve"


def test_a_new_route_without_documentation_is_caught(app: Flask) -> None:
    app.add_url_rule("/v1/undocumented/<int:n>", "undocumented", lambda n: "", methods=["PUT"])

    assert routes(app) - documented() == {("PUT", "/v1/undocumented/{n}")}


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = json.loads(json.dumps(document()))
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.body_model], ids=lambda op: op.path)
def test_request_schemas_are_those_of_the_models_that_validate_the_requests(operation: Operation) -> None:
    model: type[BaseModel] = operation.body_model  # type: ignore[assignment]
    generated = model.model_json_schema(ref_template=SCHEMA_REF)
    components = document()["components"]["schemas"]

    assert components[model.__name__] == {k: v for k, v in generated.items() if k != "$defs"}
    for name, definition in generated.get("$defs", {}).items():
        assert components[name] == definition


def test_every_error_answer_is_the_error_schema() -> None:
    for operation in OPERATIONS:
        for status, reply in operation.responses.items():
            if status >= 400 and operation.path != "/readyz":
                assert reply.model is ErrorBody, f"{operation.method} {operation.path} {status}"


def test_the_document_and_the_page_need_no_api_key(app: Flask) -> None:
    client = app.test_client()

    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(json.dumps(document()))

    page = client.get("/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            assert f'<section id="{operation["operationId"]}">' in html, (method, path)
            assert f"<code>{path}</code>" in html
    # Offline and CSP-safe: nothing to run, nothing fetched from elsewhere.
    assert "<script" not in html
    assert 'src="http' not in html and 'href="http' not in html
