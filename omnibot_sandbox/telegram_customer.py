"""What a customer does in the Telegram app, turned into the updates Telegram sends the bot."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.errors import ControlError
from omnibot_sandbox.state import Customer, SandboxState
from omnibot_sandbox.telegram_api import TelegramBot, private_chat
from omnibot_sandbox.webhooks import Delivery, WebhookPoster, encode, silent_report

START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COMMAND = re.compile(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?")


class TelegramCustomers:
    """The Telegram side of every virtual customer; each action becomes one or more updates."""

    def __init__(self, config: SandboxConfig, state: SandboxState, bot: TelegramBot,
                 poster: WebhookPoster) -> None:
        self._config = config
        self._state = state
        self._bot = bot
        self._poster = poster

    # --- actions ----------------------------------------------------------------------------

    def start(self, customer: Customer, payload: str | None) -> dict[str, Any]:
        """Tap Start, from a deep link (``/start <payload>``) or in the chat (``/start``)."""
        if payload is not None and not START_PAYLOAD.fullmatch(payload):
            raise ControlError(400, "invalid_start_payload",
                               "Telegram passes only start payloads of 1-64 characters A-Z a-z 0-9 _ -",
                               "payload")
        with self._state.lock:
            updates = []
            if customer.telegram.blocked:
                # Restarting a blocked bot unblocks it first, and the bot hears of both.
                updates.append(self._membership(customer, old="kicked", new="member"))
            customer.telegram.started, customer.telegram.blocked = True, False
            updates.append(self._message(customer, text="/start" + (f" {payload}" if payload else "")))
        return self._deliver(updates)

    def text(self, customer: Customer, text: str) -> dict[str, Any]:
        with self._state.lock:
            self._require_chat(customer)
            update = self._message(customer, text=text)
        return self._deliver([update])

    def share_contact(self, customer: Customer, own: bool, phone: str | None,
                      name: str | None) -> dict[str, Any]:
        with self._state.lock:
            self._require_chat(customer)
            if own:
                if phone is not None:
                    raise ControlError(400, "invalid_request",
                                       "own contact shares the customer's phone; pass own=false for another",
                                       "phone")
                contact = {"phone_number": customer.phone.lstrip("+"), "first_name": customer.first_name,
                           "user_id": customer.telegram.user_id}
                if customer.last_name:
                    contact["last_name"] = customer.last_name
            else:
                if phone is None:
                    raise ControlError(400, "invalid_request", "someone else's contact needs a phone",
                                       "phone")
                contact = {"phone_number": phone.lstrip("+"), "first_name": name or "Contact",
                           "user_id": self._other_user_id(customer, phone)}
            update = self._message(customer, contact=contact)
        return self._deliver([update])

    def block(self, customer: Customer, silent: bool) -> dict[str, Any]:
        with self._state.lock:
            if customer.telegram.blocked:
                raise ControlError(409, "already_blocked", f"{customer.id} has already blocked the bot")
            customer.telegram.blocked = True
            if silent:
                return silent_report(customer.to_json())
            update = self._membership(customer, old="member", new="kicked")
        return self._deliver([update])

    def unblock(self, customer: Customer, silent: bool) -> dict[str, Any]:
        with self._state.lock:
            if not customer.telegram.blocked:
                raise ControlError(409, "not_blocked", f"{customer.id} has not blocked the bot")
            customer.telegram.blocked = False
            if silent:
                return silent_report(customer.to_json())
            update = self._membership(customer, old="kicked", new="member")
        return self._deliver([update])

    # --- update shapes ----------------------------------------------------------------------

    def _user(self, customer: Customer) -> dict[str, Any]:
        user: dict[str, Any] = {"id": customer.telegram.user_id, "is_bot": False,
                                "first_name": customer.first_name}
        if customer.last_name:
            user["last_name"] = customer.last_name
        user["language_code"] = customer.language
        return user

    def _message(self, customer: Customer, **content: Any) -> dict[str, Any]:
        customer.telegram.last_message_id += 1  # one numbering per private chat, both directions
        message: dict[str, Any] = {
            "message_id": customer.telegram.last_message_id, "from": self._user(customer),
            "chat": private_chat(customer), "date": int(self._state.clock()), **content,
        }
        command = _COMMAND.match(content.get("text", ""))
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return {"update_id": self._state.next_update_id(), "message": message}

    def _membership(self, customer: Customer, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            entry: dict[str, Any] = {"user": self._bot.bot_user(), "status": status}
            if status == "kicked":
                entry["until_date"] = 0
            return entry

        return {"update_id": self._state.next_update_id(), "my_chat_member": {
            "chat": private_chat(customer), "from": self._user(customer),
            "date": int(self._state.clock()),
            "old_chat_member": member(old), "new_chat_member": member(new),
        }}

    def _other_user_id(self, customer: Customer, phone: str) -> int:
        """The contact's Telegram id: another sandbox customer's, or a stable made-up one."""
        other = self._state.by_phone("+" + phone.lstrip("+"))
        if other is not None and other.id != customer.id:
            return other.telegram.user_id
        digits = "".join(ch for ch in phone if ch.isdigit())
        return 700_000_000 + int(digits[-8:] or "0")

    def _require_chat(self, customer: Customer) -> None:
        # The Telegram app shows a Start (or Restart) button, not a text box, in these states.
        if customer.telegram.blocked:
            raise ControlError(409, "bot_blocked", f"{customer.id} has blocked the bot; unblock first")
        if not customer.telegram.started:
            raise ControlError(409, "not_started", f"{customer.id} has not started the bot yet")

    # --- delivery ---------------------------------------------------------------------------

    def _deliver(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Post the updates (after any still pending) if a webhook is set, else queue them.

        The answer reports the last update; earlier ones posted on the way go in ``preceding``.
        """
        reports: dict[int, dict[str, Any]] = {}
        wanted = []
        with self._state.lock:
            for update in updates:
                kind = "message" if "message" in update else "my_chat_member"
                if self._bot.wants(kind):
                    wanted.append(update)
                else:
                    reports[update["update_id"]] = {
                        "delivered": False, "reason": f"{kind} is not in allowed_updates", "update": update}
            hook = self._state.telegram.webhook
            if hook is None:
                for update in wanted:
                    self._bot.queue(update)
                    reports[update["update_id"]] = {
                        "delivered": False, "reason": "no webhook set", "queued": True, "update": update}
                return _summary([reports[u["update_id"]] for u in updates])
            # Updates queued while there was no webhook go first, as Telegram delivers in order.
            backlog = list(self._state.telegram.pending)
            self._state.telegram.pending.clear()
            url, secret = hook.url, hook.secret_token
        earlier = [self._post(url, secret, update) for update in backlog]
        for update in wanted:
            reports[update["update_id"]] = self._post(url, secret, update)
        return _summary(earlier + [reports[u["update_id"]] for u in updates])

    def _post(self, url: str, secret: str | None, update: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        delivery = self._poster.post(url, encode(update), headers)
        self._note_outcome(url, delivery)
        report = {**delivery.to_json(), "update": update}
        answer = delivery.response
        if delivery.accepted and isinstance(answer, dict) and isinstance(answer.get("method"), str):
            # A method call in the webhook's answer is executed; its result goes nowhere.
            params = {key: value for key, value in answer.items() if key != "method"}
            result = self._bot.call(self._config.telegram_token, answer["method"], params,
                                    via="webhook_response")
            report["webhook_method"] = {"method": answer["method"], **result.body}
        return report

    def _note_outcome(self, url: str, delivery: Delivery) -> None:
        """getWebhookInfo shows the last failure, as Telegram's does."""
        if delivery.accepted:
            return
        if delivery.status is not None:
            message = f"Wrong response from the webhook: {delivery.status} {_phrase(delivery.status)}"
        else:
            message = delivery.reason or "Connection failed"
        with self._state.lock:
            hook = self._state.telegram.webhook
            if hook is not None and hook.url == url:
                hook.last_error_date, hook.last_error_message = int(self._state.clock()), message


def _summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    result = dict(reports[-1])
    if len(reports) > 1:
        result["preceding"] = reports[:-1]
    return result


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
