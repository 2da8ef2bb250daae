"""What the API's operations share (credentials, tags, common errors and headers), and the app's document.

Each route declares its own operation on its view (``@documented(Operation(...))``) with these
pieces; ``tests/integration/test_api_document.py`` fails while an API route declares none. The
OpenAPI document and the ``/docs`` page are built from the app's routes.
"""

from __future__ import annotations

from flask import Flask

from omnibot.entrypoints.http.api.openapi import Json, Param, Reply, build_document
from omnibot.entrypoints.http.api.responses import ErrorBody
from omnibot.entrypoints.http.api.schemas import PHONE_PATTERN, PHONE_RULE

API_KEY = "ApiKey"
TELEGRAM_SECRET = "TelegramSecretToken"
SECURITY_SCHEMES: dict[str, Json] = {
    API_KEY: {"type": "apiKey", "in": "header", "name": "X-Internal-API-Key",
              "description": "One of the keys of `INTERNAL_API_KEY` (several during a rotation)."},
    TELEGRAM_SECRET: {"type": "apiKey", "in": "header", "name": "X-Telegram-Bot-Api-Secret-Token",
                      "description": "The secret `omnibot set-webhooks` registered and Telegram echoes on "
                                     "every update: `TELEGRAM_WEBHOOK_SECRET`, or one derived from the bot "
                                     "token when it is unset. Always checked."},
}

# Errors many operations share: documented once, under components/responses.
BAD_REQUEST = Reply("The body is not a JSON object or nests too deep (`malformed_json`), a field is missing "
                    "(`missing_field`) or invalid (`invalid_field`, `invalid_request`), a text holds NUL or a lone "
                    "surrogate (`invalid_character`), a phone does not parse (`invalid_phone`), a `callback_url` "
                    "aims at a non-public address or holds credentials (`invalid_callback_url`), or a header is "
                    "invalid (`invalid_header`).",
                    ErrorBody, ref="BadRequest")
UNAUTHORIZED = Reply("Missing or wrong `X-Internal-API-Key` (`unauthorized`).", ErrorBody, ref="Unauthorized")
NOT_FOUND = Reply("No such route (`not_found`).", ErrorBody, ref="NotFound")
METHOD_NOT_ALLOWED = Reply(
    "The path exists, the method does not (`method_not_allowed`).", ErrorBody, ref="MethodNotAllowed",
    headers=(Param("Allow", "The methods the path takes.", required=True),))
CONFLICT = Reply("Two requests raced for the same customer or record (`conflict`): retry.", ErrorBody,
                 ref="Conflict")
TOO_LARGE = Reply("The body is over `MAX_BODY_BYTES`, 1 MiB by default (`request_entity_too_large`).", ErrorBody,
                  ref="PayloadTooLarge")
DATABASE_UNAVAILABLE = Reply(
    "The database cannot commit (`database_unavailable`): nothing was stored, retry.", ErrorBody,
    ref="DatabaseUnavailable", headers=(Param("Retry-After", "Seconds to wait.", required=True),))

LOCATION = Param("Location", "`/v1/notifications/{id}`.", required=True)
REQUEST_ID = Param("X-Request-ID", "Your id of the request, kept (64 characters at most) in omnibot's log.")
PHONE = Param("phone", PHONE_RULE, location="path", schema={"type": "string", "pattern": PHONE_PATTERN},
              example="+380501234567")
CHANNEL_DISABLED = Reply("This messenger is not configured on this omnibot (`channel_disabled`).", ErrorBody)

NOTIFICATIONS, CUSTOMERS, WEBHOOKS, PROBES, DOCS = "notifications", "customers", "webhooks", "probes", "documentation"
TAGS = [
    {"name": NOTIFICATIONS, "description": "Tell a customer their order is ready."},
    {"name": CUSTOMERS, "description": "Deep links that bind a messenger to a phone; a customer's record."},
    {"name": WEBHOOKS, "description": "Updates the messengers post to omnibot; not for shops."},
    {"name": PROBES, "description": "Liveness and readiness for orchestrators."},
    {"name": DOCS, "description": "This document, as JSON and as a page."},
]

INFO: Json = {
    "title": "omnibot",
    "version": "1",
    "summary": "Order notifications through Telegram first and Viber as fallback.",
    "description": (
        "Shop-facing calls take the `X-Internal-API-Key` header. Every error is JSON "
        "`{\"error\": {\"code\", \"message\", \"field\"?}}`; an unknown route is `404 not_found`, a wrong "
        "method `405 method_not_allowed` (see components/responses)."
    ),
}


def document(app: Flask) -> Json:
    """The OpenAPI document of ``app``'s routes, built once per app."""
    built: Json | None = app.extensions.get("omnibot.openapi")
    if built is None:
        built = app.extensions["omnibot.openapi"] = build_document(
            app, info=INFO, security_schemes=SECURITY_SCHEMES, tags=TAGS, unattached=(NOT_FOUND, METHOD_NOT_ALLOWED))
    return built
