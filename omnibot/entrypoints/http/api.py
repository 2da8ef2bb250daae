"""The shop-facing API: the seed's synchronous trigger."""

from __future__ import annotations

import hmac
import json
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from omnibot.bootstrap import Services
from omnibot.domain.errors import InvalidPhone
from omnibot.domain.phone import normalize_phone
from omnibot.entrypoints.http.errors import ApiError, from_validation_error
from omnibot.entrypoints.http.schemas import TriggerRequest

Model = TypeVar("Model", bound=BaseModel)


def blueprint(services: Services) -> Blueprint:
    api = Blueprint("api", __name__)
    keys = [key.encode() for key in services.settings.api_keys()]

    @api.before_request
    def _require_api_key() -> None:
        given = request.headers.get("X-Internal-API-Key", "").encode()
        # Compare with every key, in constant time, so timing tells nothing about any of them.
        matches = [hmac.compare_digest(given, key) for key in keys]
        if not given or not any(matches):
            raise ApiError(401, "unauthorized", "missing or wrong X-Internal-API-Key header")

    @api.post("/trigger-notification")
    def trigger_notification() -> Response:
        body = parse_body(TriggerRequest)
        phone = parse_phone(body.phone, services.settings.default_phone_region)
        notification = services.notifier.trigger(phone, body.order_id, body.items)
        return jsonify({"status": notification.result, "notification_id": notification.id})

    return api


def parse_body(model: type[Model]) -> Model:
    """The request's JSON body as ``model``, or a 400 that names the problem."""
    raw = request.get_data(cache=True)
    try:
        data: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def parse_phone(raw: str, region: str) -> str:
    try:
        return normalize_phone(raw, region)
    except InvalidPhone:
        raise ApiError(400, "invalid_phone", "phone is not a valid phone number", "phone") from None
