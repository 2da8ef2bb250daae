"""The emulated Viber REST Bot API: ``POST /pa/<endpoint>``, answered the way Viber answers.

Viber answers HTTP 200 for API errors; the outcome is the body's ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.dispatch import ApiAnswer, ApiCall, Dispatcher
from omnibot_sandbox.responses import respond
from omnibot_sandbox.state import VIBER, Customer, ReceivedMessage, SandboxState
from omnibot_sandbox.viber_billing import Billing
from omnibot_sandbox.webhooks import Delivery, WebhookPoster, encode, viber_signature

CHAT_HOSTNAME = "SN-CHAT-05_"
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
# Viber sends these whatever event_types says.
MANDATORY_EVENTS = {"message", "subscribed", "unsubscribed"}
STATUS_MESSAGES = {
    0: "ok", 1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData",
    5: "receiverNotRegistered", 6: "receiverNotSubscribed", 7: "publicAccountBlocked",
    8: "publicAccountNotFound", 9: "publicAccountSuspended", 10: "webhookNotSet",
    11: "receiverNoSuitableDevice", 12: "tooManyRequests", 13: "apiVersionNotSupported",
    14: "incompatibleWithVersion", 15: "publicAccountNotAuthorized", 16: "inchatReplyMessageNotAllowed",
    17: "publicAccountIsNotInline", 18: "noPublicChat", 19: "cannotSendBroadcast",
    20: "broadcastNotAllowed", 21: "unsupportedCountry", 22: "paymentUnsupported",
    23: "freeMessagesExceeded", 24: "noBalance",
}
GENERAL_ERROR = "generalError"
MAX_SENDER_NAME = 28
MAX_TEXT = 7000
MAX_TRACKING_DATA = 4096


class ViberError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(STATUS_MESSAGES[status])
        self.status = status


def viber_user(customer: Customer) -> dict[str, Any]:
    """The ``user``/``sender`` object of callbacks, as Viber describes a person."""
    return {"id": customer.viber.user_id, "name": customer.name,
            "avatar": f"https://sandbox.omnibot.invalid/avatars/{customer.id}.jpg",
            "language": customer.language, "country": customer.country,
            "api_version": customer.viber.api_version}


class ViberBot:
    """One public account: its token, its webhook and the endpoints omnibot calls."""

    def __init__(self, config: SandboxConfig, state: SandboxState, dispatcher: Dispatcher,
                 poster: WebhookPoster) -> None:
        self._config = config
        self._state = state
        self._dispatcher = dispatcher
        self._poster = poster
        self._endpoints: dict[str, Callable[[ApiCall], dict[str, Any]]] = {
            "set_webhook": lambda call: self.set_webhook(call.params),
            "send_message": lambda call: self.send_message(call.params, call.billing),
            "get_account_info": lambda call: self.get_account_info(call.params),
            "get_user_details": lambda call: self.get_user_details(call.params),
        }

    def call(self, endpoint: str, body: dict[str, Any] | None, header_token: str | None) -> ApiAnswer:
        """Run one API call; ``body`` is None when the request body was not a JSON object."""
        sends = endpoint == "send_message"
        receiver = (body or {}).get("receiver") if sends else None
        call = ApiCall(VIBER, endpoint, body or {}, recipient=receiver if isinstance(receiver, str) else None,
                       chatbot_message=sends)
        return self._dispatcher.handle(call, lambda c: self._execute(c, body is None, header_token))

    def _execute(self, call: ApiCall, unreadable: bool, header_token: str | None) -> ApiAnswer:
        handler = self._endpoints.get(call.method)
        if handler is None:
            return _answer({"status": 3, "status_message": f"unknown endpoint {call.method}"}, http=404)
        try:
            token = header_token or call.params.get("auth_token")
            if token != self._config.viber_token:
                raise ViberError(2)
            if unreadable:
                raise ViberError(3)
            result = handler(call)
        except ViberError as error:
            result = outcome(error.status)
        return _answer({**result, "chat_hostname": CHAT_HOSTNAME})

    def welcome(self, customer_id: str, body: Any) -> ApiAnswer:
        """The one message a bot may put in its answer to ``conversation_started``."""
        def record(call: ApiCall) -> ApiAnswer:
            try:
                fields = self._message_fields(call.params)
            except ViberError as error:
                return _answer(outcome(error.status))
            with self._state.lock:
                customer = self._state.customers.get(customer_id)
                if customer is None:
                    return _answer(outcome(5))
                token = self._record(customer, fields, via="webhook_response")
            return _answer(outcome(0, message_token=token))

        params = body if isinstance(body, dict) else {}
        with self._state.lock:
            customer = self._state.customers.get(customer_id)
            recipient = customer.viber.user_id if customer is not None else None
        return self._dispatcher.handle(ApiCall(VIBER, "conversation_started_reply", params,
                                               via="webhook_response", recipient=recipient), record)

    def customer_replied(self, customer: Customer) -> None:
        """The customer wrote to the bot: Viber's hourly cap on messages to them starts over, and
        a session opens in which what the bot sends them is free."""
        self._state.traffic.customer_replied(customer.viber.user_id)

    def wants(self, event: str) -> bool:
        with self._state.lock:
            return event in MANDATORY_EVENTS or event in self._state.viber.event_types

    def callback(self, event: str, **fields: Any) -> dict[str, Any]:
        """A callback's common fields: event, timestamp (ms), chat_hostname, message_token."""
        return {"event": event, "timestamp": int(self._state.clock() * 1000),
                "chat_hostname": CHAT_HOSTNAME, "message_token": self._state.next_message_token(),
                **fields}

    def post(self, url: str, payload: dict[str, Any]) -> Delivery:
        body = encode(payload)
        signature = viber_signature(body, self._config.viber_token)
        return self._poster.post(url, body, {"X-Viber-Content-Signature": signature})

    # --- endpoints --------------------------------------------------------------------------

    def set_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        url = params.get("url")
        if url is None:
            raise ViberError(4)
        if not isinstance(url, str):
            raise ViberError(3)
        if url == "":
            with self._state.lock:
                self._state.viber.webhook_url, self._state.viber.event_types = None, []
            return outcome(0)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ViberError(1)
        event_types = params.get("event_types", EVENT_TYPES)
        if not isinstance(event_types, list) or not all(e in EVENT_TYPES for e in event_types):
            raise ViberError(3)
        # Viber proves the URL before accepting it: a signed "webhook" callback must get HTTP 200.
        delivery = self.post(url, self.callback("webhook"))
        if delivery.status != 200:
            raise ViberError(1)
        with self._state.lock:
            self._state.viber.webhook_url, self._state.viber.event_types = url, list(event_types)
        return outcome(0, event_types=list(event_types))

    def send_message(self, params: dict[str, Any], billing: Billing | None = None) -> dict[str, Any]:
        with self._state.lock:
            if self._state.viber.webhook_url is None:
                raise ViberError(10)
        receiver = params.get("receiver")
        if receiver is None or receiver == "":
            raise ViberError(4)
        if not isinstance(receiver, str):
            raise ViberError(3)
        fields = self._message_fields(params)
        with self._state.lock:
            customer = self._state.by_viber_id(receiver)
            if customer is None:
                raise ViberError(5)
            if not customer.viber.subscribed:
                raise ViberError(6)
            token = self._record(customer, fields, via="api", billing=billing)
        if billing is None:
            return outcome(0, message_token=token)
        return outcome(0, message_token=token, billing_status=billing.status)

    def get_account_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._state.lock:
            viber = self._state.viber
            subscribers = sum(1 for c in self._state.customers.values() if c.viber.subscribed)
            return outcome(
                0, id="pa:5730000000000000001",
                name=self._config.viber_account_name, uri=self._config.viber_bot_uri,
                icon="https://sandbox.omnibot.invalid/icon.png",
                background="https://sandbox.omnibot.invalid/background.png",
                category="Shopping", subcategory="Online store",
                location={"lon": 30.5234, "lat": 50.4501}, country="UA",
                webhook=viber.webhook_url or "", event_types=list(viber.event_types),
                subscribers_count=subscribers,
                members=[{"id": "01234567890A=", "name": "Sandbox Admin", "role": "admin"}],
            )

    def get_user_details(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("id")
        if user_id is None or user_id == "":
            raise ViberError(4)
        if not isinstance(user_id, str):
            raise ViberError(3)
        customer = self._state.by_viber_id(user_id)
        if customer is None:
            raise ViberError(5)
        user = {**viber_user(customer), "primary_device_os": "Android 14", "viber_version": "24.8.0.0",
                "mcc": 255, "mnc": 1, "device_type": "Pixel 8"}
        return outcome(0, message_token=self._state.next_message_token(), user=user)

    # --- helpers ----------------------------------------------------------------------------

    def _message_fields(self, params: dict[str, Any]) -> dict[str, Any]:
        """A text message's fields, checked as Viber checks them (missingData vs badData)."""
        sender, kind, text = params.get("sender"), params.get("type"), params.get("text")
        if sender is None or kind is None or text is None or text == "":
            raise ViberError(4)
        if not isinstance(sender, dict) or not isinstance(sender.get("name"), str):
            raise ViberError(4 if isinstance(sender, dict) and "name" not in sender else 3)
        if len(sender["name"]) > MAX_SENDER_NAME or kind != "text" or not isinstance(text, str):
            raise ViberError(3)
        if len(text) > MAX_TEXT:
            raise ViberError(3)
        tracking = params.get("tracking_data")
        if tracking is not None and (not isinstance(tracking, str) or len(tracking) > MAX_TRACKING_DATA):
            raise ViberError(3)
        keyboard = params.get("keyboard")
        if keyboard is not None and not (isinstance(keyboard, dict) and keyboard.get("Type") == "keyboard"
                                         and isinstance(keyboard.get("Buttons"), list)):
            raise ViberError(3)
        version = params.get("min_api_version", 1)
        if isinstance(version, bool) or not isinstance(version, int | str) or not str(version).isdigit():
            raise ViberError(3)
        return {"text": text, "sender": sender, "keyboard": keyboard, "tracking_data": tracking}

    def _record(self, customer: Customer, fields: dict[str, Any], via: str,
                billing: Billing | None = None) -> int:
        token = self._state.next_message_token()
        customer.messages.append(ReceivedMessage(
            channel=VIBER, text=fields["text"], raw_text=fields["text"], at=self._state.clock(),
            message_token=token, keyboard=fields["keyboard"], sender=fields["sender"],
            tracking_data=fields["tracking_data"], via=via,
            billing=billing.kind if billing else None, billing_status=billing.status if billing else None))
        return token


def outcome(status: int, **fields: Any) -> dict[str, Any]:
    """A Viber answer body: status, its status_message, then any fields of the result."""
    return {"status": status, "status_message": STATUS_MESSAGES[status], **fields}


def _answer(body: dict[str, Any], http: int = 200) -> ApiAnswer:
    status = body.get("status")
    return ApiAnswer(http, body, ok=status == 0, code=status if isinstance(status, int) else None,
                     message=body.get("status_message"))


def blueprint(bot: ViberBot) -> Blueprint:
    api = Blueprint("viber_api", __name__)

    @api.post("/pa/<endpoint>")
    def call(endpoint: str) -> Response:
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        return respond(bot.call(endpoint, body if isinstance(body, dict) else None,
                                request.headers.get("X-Viber-Auth-Token")))

    return api
