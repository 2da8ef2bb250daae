"""What kind of update a webhook brought, in a short fixed vocabulary fit for a metric's label."""

from __future__ import annotations

from omnibot.entrypoints.http.webhooks.payloads import TelegramUpdate, ViberCallback

REJECTED = "rejected"  # a wrong secret or signature
_COMMANDS = {"/start": "start", "/stop": "stop"}
_VIBER_EVENTS = frozenset({"conversation_started", "subscribed", "unsubscribed", "delivered", "seen", "failed",
                           "message", "webhook"})


def telegram(update: TelegramUpdate) -> str:
    if update.my_chat_member is not None:
        return "my_chat_member"
    message = update.message
    if message is None:
        return "other"
    if message.contact is not None:
        return "contact"
    text = (message.text or "").strip()
    if not text:
        return "other"
    return _COMMANDS.get(text.partition(" ")[0].split("@")[0], "text")


def viber(callback: ViberCallback) -> str:
    if callback.event == "message" and callback.message is not None and callback.message.type == "contact":
        return "contact"
    return callback.event if callback.event in _VIBER_EVENTS else "other"
