"""The OpenAPI generator on tiny apps: schemas from the models, shared replies, consistent declarations."""

from __future__ import annotations

from typing import Annotated

import pytest
from flask import Flask
from pydantic import BaseModel, Field

from omnibot.entrypoints.http.api.openapi import Operation, Param, Reply, build_document, documented, openapi_path
from omnibot.entrypoints.http.api.schemas import Documented

SCHEMES = {"Key": {"type": "apiKey", "in": "header", "name": "X-Key"}}
INFO = {"title": "t", "version": "1"}
Route = tuple[str, str, Operation | None]  # method, Flask rule, the view's declaration (None: undeclared)


class Item(BaseModel):
    name: str = Field(min_length=1)


class Order(BaseModel):
    items: list[Item]


class Failure(BaseModel):
    code: str


FAILED = Reply("Failed.", Failure, ref="Failed")


def app_of(*routes: Route) -> Flask:
    app = Flask(__name__)
    for number, (method, rule, operation) in enumerate(routes):
        def view(**_: object) -> str:
            return ""
        app.add_url_rule(rule, f"view{number}", view if operation is None else documented(operation)(view),
                         methods=[method])
    return app


def document(*routes: Route, tags: tuple[dict[str, str], ...] = ()) -> dict[str, object]:
    return build_document(app_of(*routes), info=INFO, security_schemes=SCHEMES, tags=tags)


def test_body_schema_is_the_models_with_its_defs_moved_to_components() -> None:
    doc = document(("POST", "/orders", Operation("Create", Order, {201: Reply("Made.", Order)}, "Key")))

    body = doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Order"}
    schemas = doc["components"]["schemas"]
    assert schemas["Item"] == Item.model_json_schema()
    assert schemas["Order"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert doc["paths"]["/orders"]["post"]["security"] == [{"Key": []}]


def test_a_shared_reply_is_documented_once_and_referenced() -> None:
    doc = document(
        ("GET", "/a", Operation("A", None, {200: Reply("Ok."), 400: FAILED}, None)),
        ("GET", "/b", Operation("B", None, {200: Reply("Ok."), 400: FAILED}, None)),
    )

    assert doc["paths"]["/a"]["get"]["responses"]["400"] == {"$ref": "#/components/responses/Failed"}
    assert doc["components"]["responses"]["Failed"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Failure"}
    assert doc["paths"]["/a"]["get"]["security"] == []


def test_path_parameters_must_match_the_path() -> None:
    with pytest.raises(ValueError, match="path parameters"):
        document(("GET", "/orders/<order_id>", Operation("One", None, {200: Reply("Ok.")}, None)))

    doc = document(("GET", "/orders/<int:order_id>", Operation("One", None, {200: Reply("Ok.")}, None,
                                                               (Param("order_id", "The order.", location="path"),))))
    assert doc["paths"]["/orders/{order_id}"]["get"]["parameters"][0]["required"] is True


def test_inconsistent_declarations_are_refused() -> None:
    once = Operation("A", None, {200: Reply("Ok.")}, None)
    with pytest.raises(ValueError, match="twice"):
        document(("GET", "/a", once), ("GET", "/a", Operation("A again", None, {200: Reply("Ok.")}, None)))
    with pytest.raises(ValueError, match="operationId 'same' is taken"):
        document(("GET", "/a", Operation("A", None, {200: Reply("Ok.")}, None, operation_id="same")),
                 ("GET", "/b", Operation("B", None, {200: Reply("Ok.")}, None, operation_id="same")))
    with pytest.raises(ValueError, match="security scheme"):
        document(("GET", "/a", Operation("A", None, {200: Reply("Ok.")}, "Nope")))
    with pytest.raises(ValueError, match="named 'Failed'"):
        document(("GET", "/a", Operation("A", None, {400: FAILED}, None)),
                 ("GET", "/b", Operation("B", None, {400: Reply("Other.", Failure, ref="Failed")}, None)))


def test_the_document_holds_the_declared_views_and_leaves_the_others_out() -> None:
    doc = document(("GET", "/a", Operation("A", None, {200: Reply("Ok.")}, None)), ("POST", "/hidden", None),
                   ("PUT", "/a", Operation("Put A", None, {204: Reply("Done.")}, None)))

    assert doc["paths"] == {"/a": {"get": {"operationId": "getA", "summary": "A", "security": [],
                                           "responses": {"200": {"description": "Ok."}}},
                                   "put": {"operationId": "putA", "summary": "Put A", "security": [],
                                           "responses": {"204": {"description": "Done."}}}}}


def test_a_view_serving_several_methods_is_documented_once_per_method() -> None:
    app = Flask(__name__)
    app.add_url_rule("/a", "a", documented(Operation("A", None, {200: Reply("Ok.")}, None))(lambda: ""),
                     methods=["PUT", "GET"])

    doc = build_document(app, info=INFO, security_schemes=SCHEMES)

    # HEAD and OPTIONS, which Flask answers for every rule, are not operations of their own.
    assert [(method, op["operationId"]) for method, op in doc["paths"]["/a"].items()] == [
        ("get", "getA"), ("put", "putA")]


def test_operations_follow_their_tags_order_then_the_apps_order() -> None:
    def tagged(tag: str) -> Operation:
        return Operation(tag, None, {200: Reply("Ok.")}, None, tag=tag)

    doc = document(("GET", "/probe", tagged("probes")), ("GET", "/untagged", tagged("")),
                   ("GET", "/first", tagged("orders")), ("GET", "/second", tagged("orders")),
                   tags=({"name": "orders"}, {"name": "probes"}))

    assert list(doc["paths"]) == ["/first", "/second", "/probe", "/untagged"]


def test_flask_rules_are_written_as_openapi_paths() -> None:
    assert openapi_path("/v1/notifications/<notification_id>") == "/v1/notifications/{notification_id}"
    assert openapi_path("/v1/contacts/<path:phone>") == "/v1/contacts/{phone}"


def test_documented_keywords_are_in_the_schema_and_left_to_the_code() -> None:
    class Customer(BaseModel):
        phone: Annotated[str, Documented(pattern="^[0-9]+$")]

    doc = document(("POST", "/customers", Operation("Add", Customer, {201: Reply("Made.")}, None)))

    assert doc["components"]["schemas"]["Customer"]["properties"]["phone"]["pattern"] == "^[0-9]+$"
    assert Customer(phone="not digits").phone == "not digits"  # the code checks it, with its own error
