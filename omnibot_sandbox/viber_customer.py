"""What a customer does in the Viber app, turned into the signed callbacks Viber sends the bot."""

from __future__ import annotations

from typing import Any

from omnibot_sandbox.errors import ControlError
from omnibot_sandbox.state import VIBER, Customer, SandboxState
from omnibot_sandbox.viber_api import ViberBot, viber_user
from omnibot_sandbox.webhooks import not_delivered, silent_report


class ViberCustomers:
    """The Viber side of every virtual customer; each action posts one signed callback."""

    def __init__(self, state: SandboxState, bot: ViberBot) -> None:
        self._state = state
        self._bot = bot

    def open(self, customer: Customer, context: str | None) -> dict[str, Any]:
        """Open the bot's chat (from a deep link): ``conversation_started``, no subscription."""
        with self._state.lock:
            fields: dict[str, Any] = {"type": "open"}
            if context:
                fields["context"] = context
            callback = self._bot.callback("conversation_started", **fields, user=viber_user(customer),
                                          subscribed=customer.viber.subscribed)
        report = self._deliver(callback)
        welcome = report.get("webhook_response")
        if report.get("webhook_status") == 200 and _is_message(welcome):
            # The bot's one permitted answer to conversation_started rides in the response body.
            answer = self._bot.welcome(customer.id, welcome)
            report["welcome_message"] = answer.body
        return report

    def text(self, customer: Customer, text: str) -> dict[str, Any]:
        return self._message(customer, {"type": "text", "text": text})

    def share_contact(self, customer: Customer) -> dict[str, Any]:
        # The share-phone button always shares the customer's own number, without the "+".
        contact = {"name": customer.name, "phone_number": customer.phone.lstrip("+")}
        return self._message(customer, {"type": "contact", "contact": contact})

    def subscribe(self, customer: Customer, silent: bool) -> dict[str, Any]:
        with self._state.lock:
            if customer.viber.subscribed:
                raise ControlError(409, "already_subscribed", f"{customer.id} is already subscribed")
            customer.viber.subscribed = True
            if silent:
                return silent_report(customer.to_json())
            callback = self._bot.callback("subscribed", user=viber_user(customer))
        return self._deliver(callback)

    def unsubscribe(self, customer: Customer, silent: bool) -> dict[str, Any]:
        with self._state.lock:
            if not customer.viber.subscribed:
                raise ControlError(409, "not_subscribed", f"{customer.id} is not subscribed")
            customer.viber.subscribed = False
            if silent:
                return silent_report(customer.to_json())
            callback = self._bot.callback("unsubscribed", user_id=customer.viber.user_id)
        return self._deliver(callback)

    def receipt(self, customer: Customer, event: str, message_token: int | None, desc: str) -> dict[str, Any]:
        """``delivered``, ``seen`` or ``failed`` (with ``desc``) for one of the bot's messages (default: the latest)."""
        with self._state.lock:
            received = customer.received(VIBER)
            tokens = [m.message_token for m in received]
            token = message_token if message_token is not None else (tokens[-1] if tokens else None)
            if token is None or token not in tokens:
                raise ControlError(404, "message_not_found",
                                   f"{customer.id} received no Viber message with that token",
                                   "message_token")
            callback = self._bot.callback(event, user_id=customer.viber.user_id)
            callback["message_token"] = token
            if event == "failed":
                callback["desc"] = desc
        return self._deliver(callback)

    def _message(self, customer: Customer, message: dict[str, Any]) -> dict[str, Any]:
        with self._state.lock:
            # Writing to the bot subscribes the customer: the bot's reply must then get through.
            customer.viber.subscribed = True
            received = customer.received(VIBER)
            if received and received[-1].tracking_data:
                # Viber echoes the tracking_data of the bot's last message in the customer's reply.
                message["tracking_data"] = received[-1].tracking_data
            callback = self._bot.callback("message", sender=viber_user(customer), message=message,
                                          silent=False)
        self._bot.customer_replied(customer)
        return self._deliver(callback)

    def _deliver(self, callback: dict[str, Any]) -> dict[str, Any]:
        event = callback["event"]
        with self._state.lock:
            url = self._state.viber.webhook_url
        if url is None:
            report = not_delivered("no webhook set").to_json()
        elif not self._bot.wants(event):
            report = not_delivered(f"{event} is not in the webhook's event_types").to_json()
        else:
            report = self._bot.post(url, callback).to_json()
        return {**report, "callback": callback}


def _is_message(body: Any) -> bool:
    """Whether a webhook's answer tries to say something (rather than just acknowledge)."""
    return isinstance(body, dict) and any(key in body for key in ("type", "text", "sender", "keyboard"))
