"""The API's OpenAPI document against the real app: every route declared, served, valid, generated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask

from omnibot.adapters.db.engine import make_engine
from omnibot.domain.model import AttemptOutcome, Channel, DeliveryAttempt, Notification, NotificationStatus, Price
from omnibot.entrypoints.http.api.openapi import SCHEMA_REF, declaration, openapi_path, routes
from omnibot.entrypoints.http.api.operations import document
from omnibot.entrypoints.http.api.responses import ErrorBody
from omnibot.entrypoints.http.api.schemas import IDEMPOTENCY_KEY_PATTERN
from tests.integration.apps import sqlite_apps
from tests.sql_notifications import SqlNotificationRepository

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


def api_routes(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every API route the app serves."""
    return {(method, openapi_path(rule.rule)) for rule in app.url_map.iter_rules()
            if rule.endpoint not in NOT_API and rule.endpoint.partition(".")[0] not in NOT_API_BLUEPRINTS
            for method in (rule.methods or set()) - IMPLICIT_METHODS}


def undeclared(app: Flask) -> list[str]:
    """The endpoints of API routes whose view carries no ``@documented`` declaration."""
    return sorted(rule.endpoint for rule in app.url_map.iter_rules()
                  if rule.endpoint not in NOT_API and rule.endpoint.partition(".")[0] not in NOT_API_BLUEPRINTS
                  and declaration(app.view_functions[rule.endpoint]) is None)


def test_every_api_route_declares_its_operation_and_the_document_holds_them_all(app: Flask) -> None:
    assert undeclared(app) == [], "API views without @documented(Operation(...))"
    in_document = {(method.upper(), path) for path, item in document(app)["paths"].items() for method in item}
    assert in_document == api_routes(app)


def test_a_new_route_without_a_declaration_is_caught(app: Flask) -> None:
    app.add_url_rule("/v1/undocumented/<int:n>", "undocumented", lambda n: "", methods=["PUT"])

    assert undeclared(app) == ["undocumented"]


def test_the_document_is_valid_openapi_3_1(app: Flask) -> None:
    doc = json.loads(json.dumps(document(app)))
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()


def test_request_schemas_are_those_of_the_models_that_validate_the_requests(app: Flask) -> None:
    models = [route.operation.body_model for route in routes(app) if route.operation.body_model is not None]
    assert {model.__name__ for model in models} == {
        "TriggerRequest", "NotificationCreate", "LinkCreate", "TelegramUpdate", "ViberCallback"}
    components = document(app)["components"]["schemas"]
    for model in models:
        generated = model.model_json_schema(ref_template=SCHEMA_REF)
        assert components[model.__name__] == {k: v for k, v in generated.items() if k != "$defs"}, model
        for name, definition in generated.get("$defs", {}).items():
            assert components[name] == definition, (model, name)


def test_every_error_answer_is_the_error_schema(app: Flask) -> None:
    for route in routes(app):
        for status, reply in route.operation.responses.items():
            if status >= 400 and route.path != "/readyz":
                assert reply.model is ErrorBody, f"{route.method} {route.path} {status}"


def test_the_document_and_the_page_need_no_api_key(app: Flask) -> None:
    client = app.test_client()

    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(json.dumps(document(app)))

    page = client.get("/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    for path, item in document(app)["paths"].items():
        for method, operation in item.items():
            assert f'<section id="{operation["operationId"]}">' in html, (method, path)
            assert f"<code>{path}</code>" in html
    # Offline and CSP-safe: nothing to run, nothing fetched from elsewhere.
    assert "<script" not in html
    assert 'src="http' not in html and 'href="http' not in html


def body_schema(app: Flask, operation_path: str) -> jsonschema_rs.Validator:
    """The request body schema the document gives ``POST operation_path``, with its components."""
    doc = json.loads(json.dumps(document(app)))
    body = doc["paths"][operation_path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return with_components(body, doc)


def answer_schema(app: Flask, operation_path: str, status: int) -> jsonschema_rs.Validator:
    """The schema the document gives the body of ``GET operation_path``'s ``status`` answer."""
    doc = json.loads(json.dumps(document(app)))
    answer = doc["paths"][operation_path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    return with_components(answer, doc)


def with_components(schema: dict[str, object], doc: dict[str, object]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
                                        "components": doc["components"]})


# Bodies the server refuses with a 400 for a rule beyond the fields' types: the document must refuse them too.
REFUSED = [
    ("/v1/notifications", {}),
    ("/v1/notifications", {"phone": None, "order_id": None, "items": ["Tea"]}),
    ("/v1/notifications", {"order_id": "ORD-1", "event": "text"}),
    ("/v1/notifications", {"order_id": "ORD-1", "event": "text", "text": None}),
    ("/v1/notifications", {"order_id": "ORD-1", "channels": ["viber", "viber"]}),
    ("/v1/notifications", {"phone": "call me maybe"}),
    ("/v1/notifications", {"order_id": "ORD\u00001"}),
    ("/v1/links", {"phone": "+380 50 abc"}),
    ("/v1/links", {"phone": "+380501234567", "order_id": "\u0000"}),
    ("/trigger-notification", {"phone": "+380501234567", "items": ["Mu\u0000g"]}),
    ("/trigger-notification", {"phone": "+380501234567", "note\u0000": 1}),
    ("/trigger-notification", {"phone": "+380501234567", "extra": {"deep": ["x\u0000"]}}),
]
# Bodies in the spellings the document describes: the server takes them.
TAKEN = [
    ("/v1/notifications", {"order_id": "ORD-1"}, 202),
    ("/v1/notifications", {"phone": "050 123-45-67", "event": "text", "text": "Hi", "channels": ["viber"]}, 202),
    ("/v1/notifications", {"phone": "(050) 123 45 67", "order_id": "ORD-2", "event": "order_ready"}, 202),
    ("/v1/links", {"phone": "+38 (050) 123-45-67", "ttl_seconds": 3600}, 201),
    ("/trigger-notification", {"phone": "380501234567", "extra": {"deep": ["x", 1, None]}}, 200),
]


@pytest.mark.parametrize(("path", "body"), REFUSED, ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
def test_bodies_the_server_refuses_are_outside_the_document(app: Flask, path: str, body: dict[str, object]) -> None:
    answer = app.test_client().post(path, json=body, headers={"X-Internal-API-Key": "docs-key"})

    assert answer.status_code == 400, answer.json
    assert not body_schema(app, path).is_valid(body)


@pytest.mark.parametrize(("path", "body", "status"), TAKEN,
                         ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v))
def test_bodies_the_document_describes_are_taken(app: Flask, path: str, body: dict[str, object],
                                                 status: int) -> None:
    assert body_schema(app, path).is_valid(body)

    answer = app.test_client().post(path, json=body, headers={"X-Internal-API-Key": "docs-key"})
    assert answer.status_code == status, answer.json


def test_the_idempotency_answers_are_documented_with_the_error_body(app: Flask) -> None:
    create = document(app)["paths"]["/v1/notifications"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")

    assert key["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN
    assert create["responses"]["400"] == {"$ref": "#/components/responses/BadRequest"}
    assert "invalid_header" in document(app)["components"]["responses"]["BadRequest"]["description"]
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}


def test_an_attempts_price_is_a_decimal_string_or_null_as_documented(app: Flask, tmp_path: Path) -> None:
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'docs.sqlite3'}")
    SqlNotificationRepository(engine).add(Notification(
        id="00000000-0000-0000-0000-000000000042", phone="+380501234567", order_id="ORD-42", items=["Tea"],
        status=NotificationStatus.SENT, channel=Channel.TELEGRAM, created_at=at, updated_at=at,
        attempts=[DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.TRANSIENT_FAILURE, error="timeout", created_at=at),
                  DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT, created_at=at,
                                  price=Price(Decimal("0.1"), "XTR"))]))
    engine.dispose()

    answer = app.test_client().get("/v1/notifications/00000000-0000-0000-0000-000000000042",
                                   headers={"X-Internal-API-Key": "docs-key"})

    assert answer.status_code == 200, answer.json
    # Stored as NUMERIC(12, 4), answered as written: "0.1", not "0.1000" nor the float 0.1.
    assert [a["price"] for a in answer.json["attempts"]] == [None, {"amount": "0.1", "currency": "XTR"}]
    assert answer_schema(app, "/v1/notifications/{notification_id}", 200).is_valid(answer.json)
    assert not answer_schema(app, "/v1/notifications/{notification_id}", 200).is_valid(
        {**answer.json, "attempts": [{**answer.json["attempts"][1], "price": {"amount": 0.1, "currency": "XTR"}}]})
