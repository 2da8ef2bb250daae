"""The OpenAPI generator on a tiny route table: schemas from the models, shared replies, a consistent table."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from omnibot.entrypoints.http.openapi import Operation, Param, Reply, build_document, openapi_path
from omnibot.entrypoints.http.schemas import Documented

SCHEMES = {"Key": {"type": "apiKey", "in": "header", "name": "X-Key"}}
INFO = {"title": "t", "version": "1"}


class Item(BaseModel):
    name: str = Field(min_length=1)


class Order(BaseModel):
    items: list[Item]


class Failure(BaseModel):
    code: str


FAILED = Reply("Failed.", Failure, ref="Failed")


def document(*operations: Operation) -> dict[str, object]:
    return build_document(operations, info=INFO, security_schemes=SCHEMES)


def test_body_schema_is_the_models_with_its_defs_moved_to_components() -> None:
    doc = document(Operation("POST", "/orders", "Create", Order, {201: Reply("Made.", Order)}, "Key"))

    body = doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Order"}
    schemas = doc["components"]["schemas"]
    assert schemas["Item"] == Item.model_json_schema()
    assert schemas["Order"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert doc["paths"]["/orders"]["post"]["security"] == [{"Key": []}]


def test_a_shared_reply_is_documented_once_and_referenced() -> None:
    doc = document(
        Operation("GET", "/a", "A", None, {200: Reply("Ok."), 400: FAILED}, None),
        Operation("GET", "/b", "B", None, {200: Reply("Ok."), 400: FAILED}, None),
    )

    assert doc["paths"]["/a"]["get"]["responses"]["400"] == {"$ref": "#/components/responses/Failed"}
    assert doc["components"]["responses"]["Failed"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Failure"}
    assert doc["paths"]["/a"]["get"]["security"] == []


def test_path_parameters_must_match_the_path() -> None:
    with pytest.raises(ValueError, match="path parameters"):
        document(Operation("GET", "/orders/{order_id}", "One", None, {200: Reply("Ok.")}, None))

    doc = document(Operation("GET", "/orders/{order_id}", "One", None, {200: Reply("Ok.")}, None,
                             (Param("order_id", "The order.", location="path"),)))
    assert doc["paths"]["/orders/{order_id}"]["get"]["parameters"][0]["required"] is True


def test_an_inconsistent_table_is_refused() -> None:
    once = Operation("GET", "/a", "A", None, {200: Reply("Ok.")}, None)
    with pytest.raises(ValueError, match="twice"):
        document(once, once)
    with pytest.raises(ValueError, match="security scheme"):
        document(Operation("GET", "/a", "A", None, {200: Reply("Ok.")}, "Nope"))
    with pytest.raises(ValueError, match="named 'Failed'"):
        document(Operation("GET", "/a", "A", None, {400: FAILED}, None),
                 Operation("GET", "/b", "B", None, {400: Reply("Other.", Failure, ref="Failed")}, None))


def test_flask_rules_are_written_as_openapi_paths() -> None:
    assert openapi_path("/v1/notifications/<notification_id>") == "/v1/notifications/{notification_id}"
    assert openapi_path("/v1/contacts/<path:phone>") == "/v1/contacts/{phone}"


def test_documented_keywords_are_in_the_schema_and_left_to_the_code() -> None:
    class Customer(BaseModel):
        phone: Annotated[str, Documented(pattern="^[0-9]+$")]

    doc = document(Operation("POST", "/customers", "Add", Customer, {201: Reply("Made.")}, None))

    assert doc["components"]["schemas"]["Customer"]["properties"]["phone"]["pattern"] == "^[0-9]+$"
    assert Customer(phone="not digits").phone == "not digits"  # the code checks it, with its own error
