"""Telegram Bot API client: sends messages and sets the webhook, classifying every failure."""

from __future__ import annotations

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

# Failures that are about this customer's account, not about us or the bot.
_RECIPIENT_STATES = {
    "bot was blocked by the user": ChannelState.BLOCKED,
    "user is deactivated": ChannelState.UNREACHABLE,
    "bot can't initiate conversation with a user": ChannelState.UNREACHABLE,
    "chat not found": ChannelState.UNREACHABLE,
}


class TelegramGateway:
    """One bot token's view of the Telegram Bot API (``{api_url}/bot<token>/<method>``)."""

    channel = Channel.TELEGRAM

    def __init__(self, token: str, api_url: str, client: HttpClient, async_client: AsyncHttp | None = None,
                 paid_broadcast: bool = False) -> None:
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._client = client
        self._async_client = async_client
        self._paid_broadcast = paid_broadcast

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt:
        result = self.call("sendMessage", self.message_payload(address, message))
        return SendReceipt(provider_message_id=str(result["message_id"]))

    async def send_async(self, address: str, message: OutgoingMessage) -> SendReceipt:
        """``send`` on the event loop of the delivery worker."""
        if self._async_client is None:
            raise RuntimeError("this gateway was built without an asynchronous client")
        reply = await self._async_client.post("telegram", self._base + "sendMessage",
                                              self.message_payload(address, message))
        result = read_result(reply.status, reply.body)
        return SendReceipt(provider_message_id=str(result["message_id"]))

    def message_payload(self, address: str, message: OutgoingMessage) -> dict[str, Any]:
        """The ``sendMessage`` parameters for one message to one chat."""
        payload = send_message_parameters(address, message)
        if self._paid_broadcast:
            # Up to 1,000 messages a second; Telegram bills only those above the bot's free 30/s.
            payload["allow_paid_broadcast"] = True
        return payload

    def set_webhook(self, url: str, secret_token: str | None) -> None:
        payload: dict[str, Any] = {
            "url": url,
            "allowed_updates": ["message", "my_chat_member"],
        }
        if secret_token:
            payload["secret_token"] = secret_token
        self.call("setWebhook", payload)

    def get_me(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("getMe", {})
        return result

    def call(self, method: str, payload: dict[str, Any]) -> Any:
        """Call a Bot API method; the ``result`` on success, a domain failure otherwise."""
        try:
            response = self._client.post(self._base + method, json=payload)
        except httpx.HTTPError as exc:
            raise transport_failure("telegram", exc) from None
        return read_result(response.status_code, response.content)


class TelegramWebhook:
    """The Telegram side of ``/webhook/telegram``."""

    channel = Channel.TELEGRAM
    share_phone_tag: str | None = None

    def __init__(self, secret_token: str) -> None:
        self._secret = secret_token.encode()

    def authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        # Always checked: without it anyone could post a "contact" and take over a customer's chat.
        given = headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return hmac.compare_digest(given.encode(), self._secret)

    def answer(self, reply: BotReply | None) -> dict[str, Any]:
        # Telegram makes the one Bot API call a webhook's answer carries, as if the bot had made it.
        if reply is None:
            return {"ok": True}
        return {"method": "sendMessage", **send_message_parameters(reply.address, reply.message)}


def send_message_parameters(address: str, message: OutgoingMessage) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "chat_id": int(address),
        "text": message.html or message.text,
        "link_preview_options": {"is_disabled": True},
    }
    if message.html:
        parameters["parse_mode"] = "HTML"
    markup = reply_markup(message)
    if markup:
        parameters["reply_markup"] = markup
    return parameters


def read_result(status: int, content: bytes) -> Any:
    """The ``result`` of a Bot API answer; a domain failure when it is not ``{"ok": true}``."""
    try:
        body = json.loads(content)
    except ValueError:
        raise server_failure("telegram", status) from None
    if not isinstance(body, dict):
        raise server_failure("telegram", status)
    if 200 <= status < 300 and body.get("ok") is True:
        return body.get("result")
    raise classify(body, status)


def classify(body: dict[str, Any], status: int) -> PermanentFailure | TransientFailure:
    """Turn an ``{"ok": false, ...}`` envelope into a permanent or transient failure."""
    code = body.get("error_code", status)
    description = str(body.get("description", "")) or f"HTTP {status}"
    reason = f"telegram {code}: {description}"
    if code == 429:
        retry_after = (body.get("parameters") or {}).get("retry_after")
        return TransientFailure(reason, retry_after=float(retry_after) if retry_after else None, throttled=True)
    if not isinstance(code, int) or code >= 500:
        return TransientFailure(reason)
    lowered = description.lower()
    for fragment, state in _RECIPIENT_STATES.items():
        if fragment in lowered:
            return PermanentFailure(reason, recipient_state=state)
    return PermanentFailure(reason)


def reply_markup(message: OutgoingMessage) -> dict[str, Any] | None:
    if message.request_phone:
        button = {"text": message.request_phone_label, "request_contact": True}
        return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}
    if message.remove_keyboard:
        return {"remove_keyboard": True}
    return None
