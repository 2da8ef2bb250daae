"""The API's route table: every route of the HTTP app, with the models that validate and answer it.

A new route goes here too: ``tests/integration/test_api_document.py`` fails while the app's
``url_map`` and this table disagree. The OpenAPI document and the ``/docs`` page are built from it.
"""

from __future__ import annotations

from functools import cache

from omnibot.entrypoints.http.inbound import TelegramUpdate, ViberCallback
from omnibot.entrypoints.http.openapi import Json, Operation, Param, Reply, build_document
from omnibot.entrypoints.http.responses import (
    ErrorBody,
    Liveness,
    Readiness,
    TelegramAnswer,
    TriggerResult,
    ViberAnswer,
)
from omnibot.entrypoints.http.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    PHONE_PATTERN,
    PHONE_RULE,
    ContactView,
    ErasedView,
    LinkCreate,
    LinkView,
    NotificationCreate,
    NotificationView,
    TriggerRequest,
)

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

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST", "/trigger-notification", "Send a notification now (the seed's contract)", TriggerRequest,
        {200: Reply("What happened; always 200, even when nobody was reached.", TriggerResult),
         400: BAD_REQUEST, 401: UNAUTHORIZED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        API_KEY, (REQUEST_ID,), tag=NOTIFICATIONS, operation_id="triggerNotification",
        examples={"order_ready": {"phone": "+380501234567", "order_id": "ORD-1234", "items": ["Laptop", "Mouse"]}},
        description="Tries Telegram, then Viber, while the caller waits. Extra keys in the body are ignored.",
    ),
    Operation(
        "POST", "/v1/notifications", "Queue a notification", NotificationCreate,
        {200: Reply("The same `Idempotency-Key` and body were seen before: the same notification, nothing "
                    "sent twice.", NotificationView,
                    (LOCATION, Param("Idempotent-Replayed", "`true`.", required=True,
                                     schema={"type": "string", "enum": ["true"]}))),
         202: Reply("Committed; the workers deliver it.", NotificationView, (LOCATION,)),
         400: BAD_REQUEST, 401: UNAUTHORIZED, 409: CONFLICT, 413: TOO_LARGE,
         422: Reply("This `Idempotency-Key` came with a different body (`idempotency_key_reused`).", ErrorBody),
         503: DATABASE_UNAVAILABLE},
        API_KEY,
        (Param("Idempotency-Key", "Makes a retry safe: the same key and body answer the same notification. "
               "1-255 visible ASCII characters, spaces only between them; else `400 invalid_header`.",
               schema={"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
               example="order-ORD-1234-ready"), REQUEST_ID),
        tag=NOTIFICATIONS, operation_id="createNotification",
        examples={
            "order_ready": {"phone": "+380501234567", "order_id": "ORD-1234", "event": "order_ready",
                            "items": ["Laptop"]},
            "text": {"order_id": "ORD-1234", "event": "text", "text": "Your parcel is on its way.",
                     "channels": ["viber", "telegram"], "callback_url": "https://shop.example.com/omnibot/status"},
        },
        description="`phone` and/or `order_id` name the customer. Answered once the notification is committed.",
    ),
    Operation(
        "GET", "/v1/notifications/{notification_id}", "A notification's status and delivery attempts", None,
        {200: Reply("The notification.", NotificationView), 401: UNAUTHORIZED,
         404: Reply("No notification with this id (`not_found`).", ErrorBody), 503: DATABASE_UNAVAILABLE},
        API_KEY, (Param("notification_id", "As answered when it was created.", location="path"), REQUEST_ID),
        tag=NOTIFICATIONS, operation_id="getNotification",
    ),
    Operation(
        "POST", "/v1/links", "Create a signed deep link for a customer's phone", LinkCreate,
        {201: Reply("The link, for the order e-mail or SMS.", LinkView), 400: BAD_REQUEST, 401: UNAUTHORIZED,
         409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        API_KEY, (REQUEST_ID,), tag=CUSTOMERS, operation_id="createLink",
        examples={"order_link": {"phone": "+380501234567", "order_id": "ORD-1234"}},
    ),
    Operation(
        "GET", "/v1/contacts/{phone}", "A customer's record", None,
        {200: Reply("The customer and their messengers.", ContactView), 400: BAD_REQUEST, 401: UNAUTHORIZED,
         404: Reply("No customer with this phone (`not_found`).", ErrorBody), 503: DATABASE_UNAVAILABLE},
        API_KEY, (PHONE, REQUEST_ID), tag=CUSTOMERS, operation_id="getContact",
    ),
    Operation(
        "DELETE", "/v1/contacts/{phone}", "Erase a customer", None,
        {200: Reply("What was erased; `erased` is false when there was no such customer.", ErasedView),
         400: BAD_REQUEST, 401: UNAUTHORIZED, 404: NOT_FOUND, 409: CONFLICT, 503: DATABASE_UNAVAILABLE},
        API_KEY, (PHONE, REQUEST_ID), tag=CUSTOMERS, operation_id="eraseContact",
    ),
    Operation(
        "POST", "/webhook/telegram", "Telegram updates", TelegramUpdate,
        {200: Reply("Handled, or a repeat of an update already handled (answered alike): the reply to the "
                    "customer as a `sendMessage` call Telegram makes for the bot, or `{\"ok\": true}`.",
                    TelegramAnswer),
         400: Reply("Not a JSON update (`malformed_json`, `missing_field`, `invalid_field`).", ErrorBody),
         401: Reply("Missing or wrong `X-Telegram-Bot-Api-Secret-Token` (`unauthorized`).", ErrorBody),
         404: CHANNEL_DISABLED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        TELEGRAM_SECRET, tag=WEBHOOKS, operation_id="telegramWebhook",
        examples={"start": {"update_id": 1, "message": {
            "message_id": 1, "from": {"id": 42, "is_bot": False, "first_name": "Olena"},
            "chat": {"id": 42, "type": "private"}, "text": "/start ORD-1234"}}},
        description="Registered with Telegram by `omnibot set-webhooks`. Unknown fields are ignored.",
    ),
    Operation(
        "POST", "/webhook/viber", "Viber callbacks", ViberCallback,
        {200: Reply("Handled; on `conversation_started`, the welcome message.", ViberAnswer),
         400: Reply("Not a JSON callback (`malformed_json`, `missing_field`, `invalid_field`).", ErrorBody),
         403: Reply("`X-Viber-Content-Signature` does not match the body (`bad_signature`).", ErrorBody),
         404: CHANNEL_DISABLED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        None,
        (Param("X-Viber-Content-Signature", "Hex HMAC-SHA256 of the raw body keyed with `VIBER_AUTH_TOKEN`; "
               "checked before anything is read.", required=True),),
        tag=WEBHOOKS, operation_id="viberWebhook",
        examples={"conversation_started": {"event": "conversation_started", "context": "ORD-1234",
                                           "user": {"id": "01234567890A=", "name": "Olena"}}},
        description="Registered with Viber by `omnibot set-webhooks`. Unknown fields are ignored.",
    ),
    Operation(
        "GET", "/healthz", "Liveness: the process answers", None, {200: Reply("Alive.", Liveness)}, None,
        tag=PROBES, operation_id="healthz",
    ),
    Operation(
        "GET", "/readyz", "Readiness: database reachable and schema current", None,
        {200: Reply("Ready.", Readiness), 503: Reply("Not ready; `database` says why.", Readiness)}, None,
        tag=PROBES, operation_id="readyz",
    ),
    Operation(
        "GET", "/metrics", "Prometheus metrics (README, \"Operating omnibot\")", None,
        {200: Reply("The metrics in Prometheus's text format.", media_type="text/plain")}, None,
        tag=PROBES, operation_id="metrics",
    ),
    Operation(
        "GET", "/openapi.json", "This OpenAPI 3.1 document", None,
        {200: Reply("The document.", schema={"type": "object"})}, None, tag=DOCS, operation_id="openapi",
    ),
    Operation(
        "GET", "/docs", "This document as an HTML page", None,
        {200: Reply("The page.", media_type="text/html")}, None, tag=DOCS, operation_id="docs",
    ),
)

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


@cache
def document() -> Json:
    """The API's OpenAPI document, built once per process."""
    return build_document(OPERATIONS, info=INFO, security_schemes=SECURITY_SCHEMES, tags=TAGS,
                          unattached=(NOT_FOUND, METHOD_NOT_ALLOWED))
