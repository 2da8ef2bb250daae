"""The shop-facing API: the seed's synchronous trigger and the queued, idempotent ``/v1``."""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for
from pydantic import BaseModel, HttpUrl, ValidationError

from omnibot.bootstrap import Services
from omnibot.domain.callback_targets import CallbackRefused, check_url
from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Channel, Notification, Price
from omnibot.domain.phone import normalize_phone
from omnibot.entrypoints.http import json_text
from omnibot.entrypoints.http.api.openapi import Operation, Param, Reply, documented
from omnibot.entrypoints.http.api.operations import (
    API_KEY,
    BAD_REQUEST,
    CONFLICT,
    DATABASE_UNAVAILABLE,
    LOCATION,
    NOTIFICATIONS,
    REQUEST_ID,
    TOO_LARGE,
    UNAUTHORIZED,
)
from omnibot.entrypoints.http.api.responses import ErrorBody, TriggerResult
from omnibot.entrypoints.http.api.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    AttemptView,
    NotificationCreate,
    NotificationView,
    PriceView,
    TriggerRequest,
)
from omnibot.entrypoints.http.errors import ApiError, from_validation_error
from omnibot.services.notify import NotificationRequest

Model = TypeVar("Model", bound=BaseModel)
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def blueprint(services: Services) -> Blueprint:
    api = Blueprint("api", __name__)
    region = services.settings.default_phone_region
    api.before_request(require_api_key(services.settings.api_keys()))

    @api.post("/trigger-notification")
    @documented(Operation(
        "Send a notification now (the seed's contract)", TriggerRequest,
        {200: Reply("What happened; always 200, even when nobody was reached.", TriggerResult),
         400: BAD_REQUEST, 401: UNAUTHORIZED, 409: CONFLICT, 413: TOO_LARGE, 503: DATABASE_UNAVAILABLE},
        API_KEY, (REQUEST_ID,), tag=NOTIFICATIONS, operation_id="triggerNotification",
        examples={"order_ready": {"phone": "+380501234567", "order_id": "ORD-1234", "items": ["Laptop", "Mouse"]}},
        description="Tries Telegram, then Viber, while the caller waits. Extra keys in the body are ignored.",
    ))
    def trigger_notification() -> Response:
        body = parse_body(TriggerRequest)
        phone = parse_phone(body.phone, region)
        notification = services.notifier.trigger(phone, body.order_id, body.items, request_id=g.request_id)
        return jsonify({"status": notification.result, "notification_id": notification.id})

    @api.post("/v1/notifications")
    @documented(Operation(
        "Queue a notification", NotificationCreate,
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
    ))
    def create_notification() -> tuple[Response, int, dict[str, str]]:
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiError(400, "invalid_header", "Idempotency-Key must be 1-255 visible ASCII characters "
                           "(spaces only between them)", "Idempotency-Key")
        body = parse_body(NotificationCreate)
        if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
            raise ApiError(400, "invalid_field", "expires_at is in the past: nothing could be sent", "expires_at")
        notification, created = services.notifier.submit(
            NotificationRequest(
                phone=parse_phone(body.phone, region) if body.phone else None,
                order_id=body.order_id, items=body.items, event=body.resolved_event, text=body.text,
                channels=None if body.channels is None else [Channel(c) for c in body.channels],
                callback_url=parse_callback_url(body.callback_url, services.settings.callback_allow_private),
                expires_at=body.expires_at, ttl_seconds=body.ttl_seconds, priority=body.priority,
            ),
            idempotency_key=idempotency_key, request_id=g.request_id,
        )
        headers = {"Location": url_for("api.get_notification", notification_id=notification.id)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return jsonify(view(notification)), 202 if created else 200, headers

    @api.get("/v1/notifications/<notification_id>")
    @documented(Operation(
        "A notification's status and delivery attempts", None,
        {200: Reply("The notification.", NotificationView), 401: UNAUTHORIZED,
         404: Reply("No notification with this id (`not_found`).", ErrorBody), 503: DATABASE_UNAVAILABLE},
        API_KEY, (Param("notification_id", "As answered when it was created.", location="path"), REQUEST_ID),
        tag=NOTIFICATIONS, operation_id="getNotification",
    ))
    def get_notification(notification_id: str) -> Response:
        notification = (services.store.queue.get(notification_id)
                        if is_notification_id(notification_id) else None)
        if notification is None:
            raise ApiError(404, "not_found", f"no notification with id {notification_id!r}")
        return jsonify(view(notification))

    return api


def require_api_key(api_keys: list[str]) -> Callable[[], None]:
    """A before-request check of ``X-Internal-API-Key`` against every configured key."""
    keys = [key.encode() for key in api_keys]

    def check() -> None:
        given = request.headers.get("X-Internal-API-Key", "").encode()
        # Compare with every key, in constant time, so timing tells nothing about any of them.
        matches = [hmac.compare_digest(given, key) for key in keys]
        if not given or not any(matches):
            raise ApiError(401, "unauthorized", "missing or wrong X-Internal-API-Key header")
        g.setdefault("request_id", request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex)

    return check


def view(notification: Notification) -> dict[str, Any]:
    return NotificationView(
        id=notification.id, status=notification.status, channel=notification.channel,
        result=notification.result, phone=notification.phone, order_id=notification.order_id,
        event=notification.event, created_at=notification.created_at, updated_at=notification.updated_at,
        next_attempt_at=notification.next_attempt_at if not notification.status.is_final else None,
        expires_at=notification.expires_at, priority=notification.priority,
        attempts=[AttemptView(at=a.created_at, channel=a.channel, outcome=a.outcome, error=a.error,
                              price=None if a.price is None else price_view(a.price), billable=a.billable,
                              billing=a.billing)
                  for a in notification.attempts],
    ).model_dump(mode="json")


def price_view(price: Price) -> PriceView:
    return PriceView(amount=decimal_text(price.amount), currency=price.currency)


def decimal_text(amount: Decimal) -> str:
    """``amount`` without exponent or trailing zeros: the database's ``0.1000`` is ``0.1``, ``100`` stays ``100``."""
    return format(amount.normalize(), "f")


def is_notification_id(candidate: str) -> bool:
    """Could be one of our ids (a UUID's 36 characters at most, nothing unprintable); else a 404 at once."""
    return len(candidate) <= 36 and candidate.isprintable()


def parse_callback_url(url: HttpUrl | None, allow_private: bool) -> str | None:
    """``url`` as stored, or a 400 when callbacks may not go there (a private address, credentials).

    A host name passes here and is judged by the worker on each POST, on the addresses it resolves to.
    """
    if url is None:
        return None
    try:
        check_url(str(url), allow_private)
    except CallbackRefused as refused:
        raise ApiError(400, "invalid_callback_url", refused.reason, "callback_url") from None
    return str(url)


def parse_body(model: type[Model]) -> Model:
    """The request's JSON body as ``model``, or a 400 that names the problem."""
    raw = request.get_data(cache=True)
    try:
        data: Any = json_text.load(raw) if raw else None
    except json_text.JsonRejected as rejected:
        raise ApiError(400, "malformed_json", rejected.message) from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    if (unstorable := json_text.unstorable_field(data)) is not None:
        field, problem = unstorable
        raise ApiError(400, "invalid_character", problem, field)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def parse_phone(raw: str, region: str) -> str:
    try:
        return normalize_phone(raw, region)
    except InvalidPhone:
        raise ApiError(400, "invalid_phone", "phone is not a valid phone number", "phone") from None
