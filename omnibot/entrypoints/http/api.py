"""The shop-facing API: the seed's synchronous trigger and the queued, idempotent ``/v1``."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for
from pydantic import BaseModel, ValidationError

from omnibot.bootstrap import Services
from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Channel, Notification
from omnibot.domain.phone import normalize_phone
from omnibot.entrypoints.http.errors import ApiError, from_validation_error
from omnibot.entrypoints.http.nul_bytes import field_with_nul
from omnibot.entrypoints.http.schemas import AttemptView, NotificationCreate, NotificationView, TriggerRequest
from omnibot.services.notify import NotificationRequest

Model = TypeVar("Model", bound=BaseModel)
IDEMPOTENCY_KEY_MAX = 255


def blueprint(services: Services) -> Blueprint:
    api = Blueprint("api", __name__)
    region = services.settings.default_phone_region
    api.before_request(require_api_key(services.settings.api_keys()))

    @api.post("/trigger-notification")
    def trigger_notification() -> Response:
        body = parse_body(TriggerRequest)
        phone = parse_phone(body.phone, region)
        notification = services.notifier.trigger(phone, body.order_id, body.items, request_id=g.request_id)
        return jsonify({"status": notification.result, "notification_id": notification.id})

    @api.post("/v1/notifications")
    def create_notification() -> tuple[Response, int, dict[str, str]]:
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not (1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX
                                                and idempotency_key.isprintable()):
            raise ApiError(400, "invalid_header",
                           f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} printable characters")
        body = parse_body(NotificationCreate)
        notification, created = services.notifier.submit(
            NotificationRequest(
                phone=parse_phone(body.phone, region) if body.phone else None,
                order_id=body.order_id, items=body.items, event=body.resolved_event, text=body.text,
                channels=None if body.channels is None else [Channel(c) for c in body.channels],
                callback_url=None if body.callback_url is None else str(body.callback_url),
            ),
            idempotency_key=idempotency_key, request_id=g.request_id,
        )
        headers = {"Location": url_for("api.get_notification", notification_id=notification.id)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return jsonify(view(notification)), 202 if created else 200, headers

    @api.get("/v1/notifications/<notification_id>")
    def get_notification(notification_id: str) -> Response:
        notification = services.notifications.get(notification_id) if is_notification_id(notification_id) else None
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
        attempts=[AttemptView(at=a.created_at, channel=a.channel, outcome=a.outcome, error=a.error)
                  for a in notification.attempts],
    ).model_dump(mode="json")


def is_notification_id(candidate: str) -> bool:
    """Could be one of our ids (a UUID's 36 characters at most, nothing unprintable); else a 404 at once."""
    return len(candidate) <= 36 and candidate.isprintable()


def parse_body(model: type[Model]) -> Model:
    """The request's JSON body as ``model``, or a 400 that names the problem."""
    raw = request.get_data(cache=True)
    try:
        data: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    if (field := field_with_nul(data)) is not None:
        raise ApiError(400, "invalid_character", "text may not contain the NUL character (\\u0000)", field)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def parse_phone(raw: str, region: str) -> str:
    try:
        return normalize_phone(raw, region)
    except InvalidPhone:
        raise ApiError(400, "invalid_phone", "phone is not a valid phone number", "phone") from None
