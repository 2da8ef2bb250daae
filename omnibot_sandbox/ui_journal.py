"""What each virtual customer did on their phone: the customer's half of every chat on the phones page.

The sandbox remembers what the bot sent; this journal remembers what the customer "typed", as the
control API's customer actions are called (from the page, a test or anyone's curl), so the page can
show a conversation. It only listens to the app's requests: the sandbox's state is never touched.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, g, request

from omnibot_sandbox import links
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.errors import ControlError
from omnibot_sandbox.state import TELEGRAM, VIBER, SandboxState

PER_CUSTOMER = 500  # entries kept per customer; a long load test must not grow the page without end


@dataclass(frozen=True)
class Sent:
    """One thing the customer did: ``kind`` is ``text`` (a bubble of theirs) or ``event`` (a note)."""

    channel: str
    kind: str
    text: str
    at: float


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, deque[Sent]] = {}
        self.changes = 0  # grows with every change, for the page's "anything new?" check

    def record(self, customer_id: str, entry: Sent) -> None:
        with self._lock:
            self._entries.setdefault(customer_id, deque(maxlen=PER_CUSTOMER)).append(entry)
            self.changes += 1

    def entries(self, customer_id: str, channel: str) -> list[Sent]:
        with self._lock:
            return [e for e in self._entries.get(customer_id, ()) if e.channel == channel]

    def forget(self, customer_id: str) -> None:
        with self._lock:
            self._entries.pop(customer_id, None)
            self.changes += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.changes += 1

    def listen(self, blueprint: Blueprint, config: SandboxConfig, state: SandboxState) -> None:
        """Record every successful customer action of the app the blueprint is registered on."""

        @blueprint.before_app_request
        def _started() -> None:
            # The bot answers inside the action, so the customer's bubble takes the time the action began.
            if (request.endpoint or "").startswith("actions."):
                g.sandbox_action_at = state.clock()

        @blueprint.after_app_request
        def _finished(response: Response) -> Response:
            endpoint = request.endpoint or ""
            if response.status_code >= 400 or not endpoint.startswith(("actions.", "control.")):
                return response
            customer_id = (request.view_args or {}).get("customer_id")
            if endpoint == "control.reset":
                self.clear()
            elif endpoint == "control.delete_customer" and customer_id:
                self.forget(customer_id)
            elif customer_id and "sandbox_action_at" in g:
                entry = describe(endpoint.removeprefix("actions."), _body(), config)
                if entry is not None:
                    channel, kind, text = entry
                    self.record(customer_id, Sent(channel, kind, text, g.sandbox_action_at))
            return response


def describe(action: str, body: dict[str, Any], config: SandboxConfig) -> tuple[str, str, str] | None:
    """(channel, kind, text) of a customer action, as the customer's own chat would show it."""
    silent = " (the bot was not told)" if body.get("silent") in (True, "1", "true") else ""
    if action == "open_link":
        try:
            link = links.parse(str(body.get("url", "")), config)
        except ControlError:
            return None
        if link.channel == TELEGRAM:
            return TELEGRAM, "text", "/start" + (f" {link.payload}" if link.payload else "")
        return VIBER, "event", "Opened the chat" + (f" from a link ({link.payload})" if link.payload else "")
    simple = {
        "telegram_start": (TELEGRAM, "text", "/start" + (f" {body['payload']}" if body.get("payload") else "")),
        "telegram_text": (TELEGRAM, "text", str(body.get("text", ""))),
        "telegram_block": (TELEGRAM, "event", "You blocked the bot" + silent),
        "telegram_unblock": (TELEGRAM, "event", "You unblocked the bot" + silent),
        "viber_open": (VIBER, "event", "Opened the chat" + (f" ({body['context']})" if body.get("context") else "")),
        "viber_text": (VIBER, "text", str(body.get("text", ""))),
        "viber_contact": (VIBER, "event", "You shared your phone number"),
        "viber_subscribe": (VIBER, "event", "You subscribed" + silent),
        "viber_unsubscribe": (VIBER, "event", "You unsubscribed" + silent),
    }
    if action == "telegram_contact":
        if body.get("own", True) in (True, "1", "true"):
            return TELEGRAM, "event", "You shared your phone number"
        return TELEGRAM, "event", f"You shared a contact: {body.get('name') or ''} {body.get('phone') or ''}".strip()
    return simple.get(action)  # receipts (delivered/seen) are not things a person sees


def _body() -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(cache=True) or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    merged: dict[str, Any] = dict(request.args)
    if isinstance(data, dict):
        merged.update(data)
    return merged
