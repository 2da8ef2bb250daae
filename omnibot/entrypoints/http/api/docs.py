"""``GET /openapi.json`` and ``GET /docs``: the API's document, as JSON and as a plain HTML page.

The page is rendered on the server from the same document, with no script and nothing fetched
from elsewhere, so it works offline and behind any content security policy.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template_string
from markupsafe import Markup, escape

from omnibot.entrypoints.http.api.openapi import Json, Operation, Reply, documented
from omnibot.entrypoints.http.api.operations import DOCS, document

_SCHEMA_PREFIX = "#/components/schemas/"
_CONSTRAINTS = {
    "minLength": "length ≥ {}", "maxLength": "length ≤ {}", "minItems": "≥ {} items", "maxItems": "≤ {} items",
    "minimum": "≥ {}", "maximum": "≤ {}", "pattern": "matches `{}`",
}
_CODE = re.compile(r"``?([^`]+)``?")


def blueprint() -> Blueprint:
    docs = Blueprint("docs", __name__)

    @docs.get("/openapi.json")
    @documented(Operation("This OpenAPI 3.1 document", None, {200: Reply("The document.", schema={"type": "object"})},
                          None, tag=DOCS, operation_id="openapi"))
    def openapi_json() -> Response:
        return jsonify(document(current_app))

    @docs.get("/docs")
    @documented(Operation("This document as an HTML page", None, {200: Reply("The page.", media_type="text/html")},
                          None, tag=DOCS, operation_id="docs"))
    def docs_page() -> str:
        return render_page(document(current_app))

    return docs


def render_page(doc: Json) -> str:
    operations = [(method.upper(), path, operation) for path, item in doc["paths"].items()
                  for method, operation in item.items()]
    return render_template_string(_PAGE, doc=doc, operations=operations, fields=fields, type_of=type_of,
                                  reply=lambda r: _resolve(doc, r), md=inline_code)


def inline_code(text: str) -> Markup:
    """Escaped text with its `backquoted` spans as <code>, the only markup the descriptions use."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


def fields(schema: Json) -> list[tuple[str, Markup, bool, list[str]]]:
    """(name, type, required, notes) of an object schema's properties; notes may hold `code`."""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        notes = [prop["description"]] if "description" in prop else []
        for option in (prop, *prop.get("anyOf", ())):  # `string | null` keeps its limits in the option
            notes += [text.format(option[key]) for key, text in _CONSTRAINTS.items() if key in option]
        if "default" in prop and prop["default"] is not None:
            notes.append(f"default `{prop['default']}`")
        rows.append((name, type_of(prop), name in required, notes))
    return rows


def type_of(schema: Json) -> Markup:
    """A short label of a schema: ``string (uri)``, ``array of Item``, ``one of a, b``, with links."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(_SCHEMA_PREFIX)
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return Markup(" | ").join(type_of(option) for option in schema[key])
    if "enum" in schema:
        return Markup("one of ") + Markup(", ").join(_code(v) for v in schema["enum"])
    if "const" in schema:
        return _code(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return Markup("array of ") + type_of(schema.get("items", {}))
    return escape(f"{kind} ({schema['format']})" if "format" in schema else str(kind))


def _resolve(doc: Json, reply: Json) -> Json:
    if "$ref" in reply:
        resolved: Json = doc["components"]["responses"][reply["$ref"].rsplit("/", 1)[1]]
        return resolved
    return reply


def _code(value: Any) -> Markup:
    return Markup("<code>{}</code>").format(value if isinstance(value, str) else json.dumps(value))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ doc.info.title }} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
.method{font-weight:bold;font-family:monospace;padding:0 .4em;border-radius:3px;background:#e8eefc}
section{border-top:1px solid #ccc;margin-top:1.5rem}
</style></head><body>
<h1>{{ doc.info.title }} API</h1>
<p>{{ doc.info.summary }}</p><p>{{ md(doc.info.description) }}</p>
<p>The machine-readable document: <a href="openapi.json"><code>/openapi.json</code></a> (OpenAPI {{ doc.openapi }}).</p>
<h2>Operations</h2>
<ul>{% for method, path, op in operations %}
<li><a href="#{{ op.operationId }}"><span class="method">{{ method }}</span> <code>{{ path }}</code></a>
  {{ op.summary }}</li>{% endfor %}
</ul>
{% for method, path, op in operations %}
<section id="{{ op.operationId }}">
<h3><span class="method">{{ method }}</span> <code>{{ path }}</code></h3>
<p><strong>{{ op.summary }}</strong>{% if op.description %}. {{ md(op.description) }}{% endif %}</p>
{% if op.security %}<p>Credentials: {% for scheme in op.security %}{% for name in scheme %}
  <code>{{ doc.components.securitySchemes[name].name }}</code> header{% endfor %}{% endfor %}</p>
{% else %}<p>No credentials.</p>{% endif %}
{% if op.parameters %}<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Notes</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td>
<td>{{ "yes" if p.required else "no" }}</td><td>{{ md(p.description) }}</td></tr>{% endfor %}</table>{% endif %}
{% if op.requestBody %}<p>Body (JSON): {{ type_of(op.requestBody.content["application/json"].schema) }}</p>{% endif %}
<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>
{% for status, r in op.responses.items() %}{% set r = reply(r) %}
<tr><td>{{ status }}</td><td>{{ md(r.description) }}</td>
<td>{% for media, content in (r.content or {}).items() %}{{ type_of(content.schema) }}
  <small>{{ media }}</small>{% endfor %}</td></tr>{% endfor %}</table>
</section>{% endfor %}
<h2>Schemas</h2>
{% for name, schema in doc.components.schemas.items() %}
<section id="schema-{{ name }}"><h3>{{ name }}</h3>
{% if schema.description %}<p>{{ md(schema.description) }}</p>{% endif %}
{% if schema.properties %}<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Notes</th></tr>
{% for field, kind, required, notes in fields(schema) %}<tr><td><code>{{ field }}</code></td><td>{{ kind }}</td>
<td>{{ "yes" if required else "no" }}</td><td>{% for note in notes %}{{ md(note) }}{% if not loop.last %}; {% endif %}
{% endfor %}</td></tr>{% endfor %}</table>
{% else %}<p>{{ type_of(schema) }}</p>{% endif %}
</section>{% endfor %}
</body></html>
"""
