"""The control API under /sandbox: virtual customers, what they received, the API call log, reset."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.errors import ControlError, from_validation_error
from omnibot_sandbox.schemas import NewCustomer
from omnibot_sandbox.state import CHANNELS, Customer, SandboxState

Model = TypeVar("Model", bound=BaseModel)


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object; an empty body counts as ``{}``."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ControlError(400, "malformed_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "malformed_json", "request body must be a JSON object")
    return data


def body(model: type[Model]) -> Model:
    """The request's JSON body as ``model``; an empty body counts as ``{}``.

    Query parameters fill in fields the body lacks, so ``?silent=1`` works with no body at all.
    """
    data = json_object()
    for name in model.model_fields:
        if name not in data and name in request.args:
            data[name] = request.args[name]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error) from None


def customer_or_404(state: SandboxState, customer_id: str) -> Customer:
    with state.lock:
        customer = state.customers.get(customer_id)
    if customer is None:
        raise ControlError(404, "customer_not_found", f"no customer {customer_id!r}")
    return customer


def channel_arg() -> str | None:
    channel = request.args.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise ControlError(400, "invalid_channel", "channel must be telegram or viber", "channel")
    return channel


def blueprint(config: SandboxConfig, state: SandboxState) -> Blueprint:
    control = Blueprint("control", __name__, url_prefix="/sandbox")

    @control.get("")
    def about() -> Response:
        """Who the sandbox pretends to be, for a human finding their way around."""
        return jsonify({
            "telegram": {"bot_username": config.telegram_bot_username,
                         "deep_link": f"https://t.me/{config.telegram_bot_username}?start=<payload>"},
            "viber": {"bot_uri": config.viber_bot_uri,
                      "deep_link": f"viber://pa?chatURI={config.viber_bot_uri}&context=<context>"},
            "customers": len(state.customers),
        })

    @control.post("/customers")
    def create_customer() -> tuple[Response, int]:
        new = body(NewCustomer)
        if state.by_phone(new.phone) is not None:
            raise ControlError(409, "phone_taken", f"a customer with phone {new.phone} exists", "phone")
        customer = state.add_customer(new.name, new.phone, new.language, new.country)
        return jsonify(customer.to_json()), 201

    @control.get("/customers")
    def list_customers() -> Response:
        with state.lock:
            return jsonify([c.to_json() for c in state.customers.values()])

    @control.get("/customers/<customer_id>")
    def get_customer(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        with state.lock:
            return jsonify(customer.to_json())

    @control.delete("/customers/<customer_id>")
    def delete_customer(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        with state.lock:
            state.customers.pop(customer.id, None)
        return jsonify({"deleted": customer.id})

    @control.get("/customers/<customer_id>/messages")
    def messages(customer_id: str) -> Response:
        customer = customer_or_404(state, customer_id)
        channel = channel_arg()
        with state.lock:
            return jsonify([m.to_json() for m in customer.received(channel)])

    @control.get("/requests")
    def requests_log() -> Response:
        channel = channel_arg()
        with state.lock:
            calls = [c.to_json() for c in state.calls if channel is None or c.channel == channel]
            return jsonify({"requests": calls, "counters": state.call_counters()})

    @control.get("/webhooks")
    def webhooks() -> Response:
        with state.lock:
            telegram, viber = state.telegram.webhook, state.viber
            info: dict[str, Any] = {
                "telegram": None if telegram is None else {
                    "url": telegram.url, "has_secret_token": telegram.secret_token is not None,
                    "allowed_updates": state.telegram.allowed_updates,
                    "pending_update_count": len(state.telegram.pending),
                    "last_error_message": telegram.last_error_message},
                "viber": None if viber.webhook_url is None else {
                    "url": viber.webhook_url, "event_types": viber.event_types},
            }
            return jsonify(info)

    @control.post("/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"reset": True})

    return control
