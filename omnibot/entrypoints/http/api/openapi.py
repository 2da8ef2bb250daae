"""An OpenAPI 3.1 document generated from a Flask app's routes and the pydantic models that validate requests.

Each view carries its own declaration (``@documented(Operation(...))``): the models its body is
validated with and the models of its answers. The document walks the app's ``url_map``, so a
route's method and path are written once, in its Flask rule; the JSON schemas come from the
models, so the document and the validation cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
_FLASK_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_PATH_VARIABLE = re.compile(r"{([^{}]+)}")
_IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})  # Flask answers them for every rule
_DECLARATION = "__openapi_operation__"

View = TypeVar("View", bound=Callable[..., Any])

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
    """What a view declares about itself; its method and path come from its Flask rule."""

    summary: str
    body_model: type[BaseModel] | None
    responses: Mapping[int, Reply]
    auth: str | None  # a name in the document's security schemes, or None for no credentials
    params: tuple[Param, ...] = ()  # headers and path parameters
    description: str = ""
    tag: str = ""
    operation_id: str = ""
    examples: Mapping[str, Json] = field(default_factory=dict)  # request bodies, by name


@dataclass(frozen=True)
class Route:
    """A declared operation where the app serves it."""

    method: str
    path: str  # OpenAPI style: /v1/notifications/{notification_id}
    operation: Operation


def documented(operation: Operation) -> Callable[[View], View]:
    """Attaches ``operation`` to a view, which is returned unchanged (and still registered as it is)."""

    def declare(view: View) -> View:
        setattr(view, _DECLARATION, operation)
        return view

    return declare


def declaration(view: Callable[..., Any]) -> Operation | None:
    """The operation a view declares with ``@documented``, or None for a view left out of the document."""
    operation = getattr(view, _DECLARATION, None)
    return operation if isinstance(operation, Operation) else None


def routes(app: Flask) -> list[Route]:
    """Every declared operation of ``app``, in the order of its ``url_map``; undeclared views are skipped."""
    found = []
    for rule in app.url_map.iter_rules():
        operation = declaration(app.view_functions[rule.endpoint])
        if operation is None:
            continue
        path = openapi_path(rule.rule)
        # A set: sorted, so a view serving several methods is documented in the same order every time.
        for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS):
            found.append(Route(method, path, operation))
    return found


def openapi_path(flask_rule: str) -> str:
    """``/v1/notifications/<notification_id>`` (or ``<int:x>``) as OpenAPI writes it."""
    return _FLASK_VARIABLE.sub(r"{\1}", flask_rule)


def build_document(
    app: Flask, *, info: Json, security_schemes: Mapping[str, Json],
    tags: Sequence[Json] = (), unattached: Sequence[Reply] = (),
) -> Json:
    """The OpenAPI 3.1 document of ``app``'s declared routes; raises ValueError on inconsistent declarations.

    Operations are listed by tag, in the order of ``tags``, then in the order the app registered
    them. ``unattached`` are shared replies of no operation (404 of an unknown route, 405 of a
    wrong method): they are documented under components/responses.
    """
    order = {tag["name"]: position for position, tag in enumerate(tags)}
    declared = sorted(routes(app), key=lambda route: order.get(route.operation.tag, len(order)))
    _check(declared, security_schemes)
    refs, schemas = _model_schemas([route.operation for route in declared], unattached)
    shared: dict[str, Json] = {}
    for reply in unattached:
        _reply(reply, refs, shared)
    paths: dict[str, Json] = {}
    for route in declared:
        item = paths.setdefault(route.path, {})
        item[route.method.lower()] = _operation(route, refs, shared)
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


def _check(declared: Sequence[Route], security_schemes: Mapping[str, Json]) -> None:
    seen: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for route in declared:
        operation, name = route.operation, f"{route.method} {route.path}"
        if (route.method, route.path) in seen:
            raise ValueError(f"{name} is declared twice")
        seen.add((route.method, route.path))
        # One declaration on a view serving several methods would give them all its operationId.
        if (operation_id := _operation_id(route)) in ids:
            raise ValueError(f"{name}: operationId {operation_id!r} is taken")
        ids.add(operation_id)
        if operation.auth is not None and operation.auth not in security_schemes:
            raise ValueError(f"{name}: no security scheme {operation.auth!r}")
        params = {p.name for p in operation.params if p.location == "path"}
        if params != set(_PATH_VARIABLE.findall(route.path)):
            raise ValueError(f"{name}: path parameters {sorted(params)} do not match the path")


def _model_schemas(
    operations: Iterable[Operation], unattached: Iterable[Reply]
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


def _operation(route: Route, refs: Mapping[tuple[type[BaseModel], str], Json], shared: dict[str, Json]) -> Json:
    operation = route.operation
    document: Json = {"operationId": _operation_id(route), "summary": operation.summary}
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


def _operation_id(route: Route) -> str:
    if route.operation.operation_id:
        return route.operation.operation_id
    words = re.findall(r"[A-Za-z0-9]+", route.path)
    return route.method.lower() + "".join(word.capitalize() for word in words)
