"""Viber REST Bot API client: sends messages, sets the webhook, checks callback signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from omnibot.adapters.async_http import AsyncHttp
from omnibot.adapters.http_errors import server_failure, transport_failure
from omnibot.adapters.http_pool import HttpClient
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import Channel, ChannelState
from omnibot.ports import BotReply, OutgoingMessage, SendReceipt

# The tracking_data of omnibot's share-phone keyboard message. A Viber customer can send any
# contact card; only one sent in reply to this keyboard is taken as the customer's own number.
SHARE_PHONE_TRACKING = "omnibot:share-phone"
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]

_TOO_MANY_REQUESTS = 12
# Statuses that describe the receiver's account; every other non-zero status is about us.
_RECIPIENT_STATES = {
    5: ChannelState.UNREACHABLE,  # receiverNotRegistered
    6: ChannelState.BLOCKED,  # receiverNotSubscribed
    11: ChannelState.UNREACHABLE,  # receiverNoSuitableDevice
}
_KNOWN_STATUSES = set(range(0, 25))


class ViberGateway:
    """One public account's view of the Viber REST API (``{api_url}/<endpoint>``)."""

    channel = Channel.VIBER

    def __init__(self, token: str, api_url: str, sender_name: str, client: HttpClient,
                 async_client: AsyncHttp | None = None) -> None:
        self._base = api_url.rstrip("/") + "/"
        self._headers = {"X-Viber-Auth-Token": token}
        self._sender = {"name": sender_name}
        self._client = client
        self._async_client = async_client

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt:
        body = self.message_body(message)
        body["receiver"] = address
        result = self.call("send_message", body)
        return SendReceipt(provider_message_id=str(result["message_token"]))

    async def send_async(self, address: str, message: OutgoingMessage) -> SendReceipt:
        """``send`` on the event loop of the delivery worker."""
        if self._async_client is None:
            raise RuntimeError("this gateway was built without an asynchronous client")
        body = self.message_body(message)
        body["receiver"] = address
        reply = await self._async_client.post("viber", self._base + "send_message", body, self._headers)
        result = read_body(reply.status, reply.body)
        return SendReceipt(provider_message_id=str(result["message_token"]))

    def message_body(self, message: OutgoingMessage) -> dict[str, Any]:
        """A text message as Viber takes it; also the body of a ``conversation_started`` reply."""
        body: dict[str, Any] = {
            "min_api_version": 1,
            "sender": self._sender,
            "type": "text",
            "text": message.text,
        }
        if message.request_phone:
            body["keyboard"] = share_phone_keyboard(message.request_phone_label)
            # Viber echoes it on the customer's next message: a contact carrying it answers this keyboard.
            body["tracking_data"] = SHARE_PHONE_TRACKING
            body["min_api_version"] = 3  # share-phone needs clients with api_version >= 3
        return body

    def set_webhook(self, url: str) -> None:
        self.call("set_webhook", {"url": url, "event_types": EVENT_TYPES,
                                  "send_name": True, "send_photo": False})

    def call(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST to an endpoint; the body on ``status == 0``, a domain failure otherwise."""
        try:
            response = self._client.post(self._base + endpoint, json=payload,
                                         headers=self._headers)
        except httpx.HTTPError as exc:
            raise transport_failure("viber", exc) from None
        return read_body(response.status_code, response.content)


class ViberWebhook:
    """The Viber side of ``/webhook/viber``."""

    channel = Channel.VIBER
    share_phone_tag: str | None = SHARE_PHONE_TRACKING

    def __init__(self, token: str, gateway: ViberGateway) -> None:
        self._token = token
        self._gateway = gateway

    def authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        return signature_is_valid(body, headers.get("X-Viber-Content-Signature"), self._token)

    def answer(self, reply: BotReply | None) -> dict[str, Any]:
        # Only the answer to conversation_started may carry a message (the welcome): the inbound
        # use case queues every other reply.
        return {"status": 0} if reply is None else self._gateway.message_body(reply.message)


def read_body(status: int, content: bytes) -> dict[str, Any]:
    """The body of a REST API answer with ``status == 0``; a domain failure otherwise."""
    if not 200 <= status < 300:
        raise server_failure("viber", status)
    try:
        body = json.loads(content)
    except ValueError:
        raise server_failure("viber", status) from None
    if not isinstance(body, dict):
        raise server_failure("viber", status)
    if body.get("status") == 0:
        return body
    raise classify(body)


def classify(body: dict[str, Any]) -> PermanentFailure | TransientFailure:
    status = body.get("status")
    reason = f"viber {status}: {body.get('status_message', 'generalError')}"
    if status == _TOO_MANY_REQUESTS or status not in _KNOWN_STATUSES:
        # Viber's table: generalError (unknown status) is transient once, then permanent;
        # the retry policy decides how many times "once" is.
        return TransientFailure(reason, throttled=status == _TOO_MANY_REQUESTS)
    assert isinstance(status, int)
    return PermanentFailure(reason, recipient_state=_RECIPIENT_STATES.get(status))


def share_phone_keyboard(label: str) -> dict[str, Any]:
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [{"ActionType": "share-phone", "ActionBody": "share-phone", "Text": label,
                     "Columns": 6, "Rows": 1}],
    }


def signature_is_valid(raw_body: bytes, signature: str | None, token: str) -> bool:
    """``X-Viber-Content-Signature`` is hex HMAC-SHA256 of the raw body keyed with the token."""
    if not signature:
        return False
    expected = hmac.new(token.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())
