"""An OpenAPI 3.1 document generated from a route table and the pydantic models that validate requests.

The table (``operations.OPERATIONS``) names, for every route, the model its body is validated
with and the models of its answers; the JSON schemas come from those models, so the document and
the validation cannot drift apart. A test compares the table with the Flask app's ``url_map``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
_FLASK_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_PATH_VARIABLE = re.compile(r"{([^{}]+)}")

Json = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """A header or path parameter of a request, or a header of a response."""

    name: str
    description: str
    location: Literal["header", "path"] = "header"
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    example: str | None = None


@dataclass(frozen=True)
class Reply:
    """One documented answer; ``model`` is the body's model, serialized as the code serializes it."""

    description: str
    model: type[BaseModel] | None = None
    headers: tuple[Param, ...] = ()
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None  # a body no model describes (the document itself)
    ref: str | None = None  # the name under components/responses, for replies many operations share


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI style: /v1/notifications/{notification_id}
    summary: str
    body_model: type[BaseModel] | None
    responses: Mapping[int, Reply]
    auth: str | None  # a name in the document's security schemes, or None for no credentials
    params: tuple[Param, ...] = ()  # headers and path parameters
    description: str = ""
    tag: str = ""
    operation_id: str = ""
    examples: Mapping[str, Json] = field(default_factory=dict)  # request bodies, by name

    @property
    def key(self) -> tuple[str, str]:
        return self.method.upper(), self.path


def openapi_path(flask_rule: str) -> str:
    """``/v1/notifications/<notification_id>`` (or ``<int:x>``) as OpenAPI writes it."""
    return _FLASK_VARIABLE.sub(r"{\1}", flask_rule)


def build_document(
    operations: Sequence[Operation], *, info: Json, security_schemes: Mapping[str, Json],
    tags: Sequence[Json] = (), unattached: Sequence[Reply] = (),
) -> Json:
    """The OpenAPI 3.1 document of ``operations``; raises ValueError on an inconsistent table.

    ``unattached`` are shared replies of no operation (404 of an unknown route, 405 of a wrong
    method): they are documented under components/responses.
    """
    _check(operations, security_schemes)
    refs, schemas = _model_schemas(operations, unattached)
    shared: dict[str, Json] = {}
    for reply in unattached:
        _reply(reply, refs, shared)
    paths: dict[str, Json] = {}
    for operation in operations:
        item = paths.setdefault(operation.path, {})
        item[operation.method.lower()] = _operation(operation, refs, shared)
    return {
        "openapi": OPENAPI_VERSION,
        "info": dict(info),
        "tags": list(tags),
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": dict(sorted(shared.items())),
            "securitySchemes": dict(security_schemes),
        },
    }


def _check(operations: Sequence[Operation], security_schemes: Mapping[str, Json]) -> None:
    seen: set[tuple[str, str]] = set()
    for operation in operations:
        if operation.key in seen:
            raise ValueError(f"{operation.method} {operation.path} is in the table twice")
        seen.add(operation.key)
        if operation.auth is not None and operation.auth not in security_schemes:
            raise ValueError(f"{operation.method} {operation.path}: no security scheme {operation.auth!r}")
        declared = {p.name for p in operation.params if p.location == "path"}
        if declared != set(_PATH_VARIABLE.findall(operation.path)):
            raise ValueError(f"{operation.method} {operation.path}: path parameters {sorted(declared)} "
                             "do not match the path")


def _model_schemas(
    operations: Sequence[Operation], unattached: Iterable[Reply]
) -> tuple[dict[tuple[type[BaseModel], str], Json], Json]:
    """Every model's JSON schema, with the ``$defs`` of all of them as components/schemas."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    replies = [*unattached]
    for operation in operations:
        if operation.body_model is not None:
            wanted[(operation.body_model, "validation")] = None
        replies.extend(operation.responses.values())
    for reply in replies:
        if reply.model is not None:
            wanted[(reply.model, "serialization")] = None
    refs, definitions = models_json_schema(list(wanted), ref_template=SCHEMA_REF)
    return {key: refs[key] for key in wanted}, definitions.get("$defs", {})


def _operation(operation: Operation, refs: Mapping[tuple[type[BaseModel], str], Json],
               shared: dict[str, Json]) -> Json:
    document: Json = {"operationId": operation.operation_id or _default_id(operation),
                      "summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    if operation.tag:
        document["tags"] = [operation.tag]
    document["security"] = [{operation.auth: []}] if operation.auth else []
    if operation.params:
        document["parameters"] = [_parameter(p) for p in operation.params]
    if operation.body_model is not None:
        media: Json = {"schema": refs[(operation.body_model, "validation")]}
        if operation.examples:
            media["examples"] = {name: {"value": value} for name, value in operation.examples.items()}
        document["requestBody"] = {"required": True, "content": {"application/json": media}}
    document["responses"] = {str(status): _reply(reply, refs, shared)
                             for status, reply in sorted(operation.responses.items())}
    return document


def _parameter(param: Param) -> Json:
    document = {"name": param.name, "in": param.location, "required": param.required or param.location == "path",
                "description": param.description, "schema": dict(param.schema)}
    if param.example is not None:
        document["example"] = param.example
    return document


def _reply(reply: Reply, refs: Mapping[tuple[type[BaseModel], str], Json], shared: dict[str, Json]) -> Json:
    document: Json = {"description": reply.description}
    if reply.headers:
        document["headers"] = {h.name: {"description": h.description, "required": h.required,
                                        "schema": dict(h.schema)} for h in reply.headers}
    schema = refs[(reply.model, "serialization")] if reply.model is not None else reply.schema
    if schema is not None:
        document["content"] = {reply.media_type: {"schema": dict(schema)}}
    elif reply.media_type != "application/json":
        document["content"] = {reply.media_type: {"schema": {"type": "string"}}}
    if reply.ref is None:
        return document
    if shared.setdefault(reply.ref, document) != document:
        raise ValueError(f"two different replies are named {reply.ref!r}")
    return {"$ref": f"#/components/responses/{reply.ref}"}


def _default_id(operation: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", operation.path)
    return operation.method.lower() + "".join(word.capitalize() for word in words)
