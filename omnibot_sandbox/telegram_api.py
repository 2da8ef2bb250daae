"""The emulated Telegram Bot API: ``/bot<token>/<method>``, answered the way Telegram answers."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from omnibot_sandbox import telegram_params as params_of
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.dispatch import ApiAnswer, ApiCall, Dispatcher
from omnibot_sandbox.responses import respond
from omnibot_sandbox.state import TELEGRAM, Customer, ReceivedMessage, SandboxState, TelegramWebhook
from omnibot_sandbox.telegram_params import TelegramError
from omnibot_sandbox.telegram_text import EntityError, UnsupportedParseMode, render

MAX_TEXT_LENGTH = 4096
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
# Telegram's default when allowed_updates is empty: everything but these.
_NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
_LONG_POLL_LIMIT = 50.0


class TelegramBot:
    """One bot: its token, its webhook and the methods omnibot calls."""

    def __init__(self, config: SandboxConfig, state: SandboxState, dispatcher: Dispatcher) -> None:
        self._config = config
        self._state = state
        self._dispatcher = dispatcher
        self._updates_queued = threading.Condition(state.lock)
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self.get_me, "sendMessage": self.send_message, "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook, "getWebhookInfo": self.get_webhook_info,
            "getUpdates": self.get_updates,
        }
        self._canonical = {name.lower(): name for name in self._methods}

    def call(self, token: str, method: str, params: dict[str, Any], via: str = "http",
             unreadable: str | None = None) -> ApiAnswer:
        """Run one Bot API call through the dispatcher; ``unreadable`` explains a bad body."""
        name = self._canonical.get(method.lower(), method)
        call = ApiCall(TELEGRAM, name, params, via, recipient=_recipient(name, params),
                       paid_broadcast=name == "sendMessage" and params_of.boolean(params, "allow_paid_broadcast"))
        return self._dispatcher.handle(call, lambda c: self._execute(token, c, unreadable))

    def _execute(self, token: str, call: ApiCall, unreadable: str | None) -> ApiAnswer:
        try:
            if not _TOKEN_SHAPE.fullmatch(token):
                raise TelegramError(404, "Not Found")
            if token != self._config.telegram_token:
                raise TelegramError(401, "Unauthorized")
            method = self._methods.get(call.method)
            if method is None:
                raise TelegramError(404, "Not Found")
            if unreadable:
                raise TelegramError(400, unreadable)
            # A message remembers whether it came in a webhook's answer.
            result = self.send_message(call.params, call.via) if call.method == "sendMessage" else method(call.params)
        except TelegramError as error:
            body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return ApiAnswer(error.code, body, ok=False, code=error.code, message=error.description)
        if isinstance(result, tuple):  # (result, description), as setWebhook answers
            return ApiAnswer(200, {"ok": True, "result": result[0], "description": result[1]}, ok=True)
        return ApiAnswer(200, {"ok": True, "result": result}, ok=True)

    # --- what updates reach the bot -------------------------------------------------------

    def wants(self, update_type: str) -> bool:
        with self._state.lock:
            allowed = self._state.telegram.allowed_updates
            return update_type in allowed if allowed else update_type not in _NOT_BY_DEFAULT

    def queue(self, update: dict[str, Any]) -> None:
        """Keep an update for getUpdates (or for the next delivery once a webhook is set)."""
        with self._updates_queued:
            self._state.telegram.pending.append(update)
            self._updates_queued.notify_all()

    def bot_user(self) -> dict[str, Any]:
        return {"id": self._config.telegram_bot_id, "is_bot": True,
                "first_name": self._config.telegram_bot_name,
                "username": self._config.telegram_bot_username}

    # --- methods ----------------------------------------------------------------------------

    def get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    def send_message(self, params: dict[str, Any], via: str = "http") -> dict[str, Any]:
        chat_id = params_of.chat_id(params)
        customer = self._state.by_telegram_id(chat_id) if chat_id is not None else None
        if customer is None:
            raise TelegramError(400, "Bad Request: chat not found")
        raw = params.get("text")
        text = "" if raw is None else str(raw)
        parse_mode = str(params.get("parse_mode") or "") or None
        markup = params_of.reply_markup(params)
        try:
            rendered = render(text, parse_mode, self._config.strict_html)
        except UnsupportedParseMode:
            raise TelegramError(400, "Bad Request: unsupported parse_mode") from None
        except EntityError as error:
            raise TelegramError(400, f"Bad Request: can't parse entities: {error}") from None
        if not rendered.text:
            raise TelegramError(400, "Bad Request: message text is empty")
        if len(rendered.text) > MAX_TEXT_LENGTH:
            raise TelegramError(400, "Bad Request: message is too long")
        with self._state.lock:
            account = customer.telegram
            if self._state.customers.get(customer.id) is not customer:  # deleted meanwhile
                raise TelegramError(400, "Bad Request: chat not found")
            if account.blocked:
                raise TelegramError(403, "Forbidden: bot was blocked by the user")
            if not account.started:
                raise TelegramError(403, "Forbidden: bot can't initiate conversation with a user")
            account.last_message_id += 1
            message_id, now = account.last_message_id, self._state.clock()
            customer.messages.append(ReceivedMessage(
                channel=TELEGRAM, text=rendered.text, raw_text=text, at=now, message_id=message_id,
                parse_mode=parse_mode, reply_markup=markup, entities=rendered.entities,
                via="webhook_response" if via == "webhook_response" else "api"))
        message: dict[str, Any] = {
            "message_id": message_id, "from": self.bot_user(),
            "chat": private_chat(customer), "date": int(now), "text": rendered.text,
        }
        if rendered.entities:
            message["entities"] = rendered.entities
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes only inline keyboards
        return message

    def set_webhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        url = str(params.get("url") or "").strip()
        if not url:
            return self.delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TelegramError(400, "Bad Request: invalid webhook URL specified")
        secret = str(params.get("secret_token") or "") or None
        if secret is not None and len(secret) > 256:
            raise TelegramError(400, "Bad Request: secret token is too long")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise TelegramError(400, "Bad Request: secret token contains unallowed characters")
        allowed = self._allowed_updates(params)
        connections = min(max(params_of.integer(params, "max_connections", 40) or 40, 1), 100)
        ip_address = str(params.get("ip_address") or "") or None
        with self._state.lock:
            bot = self._state.telegram
            fresh = TelegramWebhook(url, secret, connections, ip_address)
            old = bot.webhook
            unchanged = old is not None and (old.url, old.secret_token, old.max_connections) == (
                url, secret, connections)
            if not unchanged:
                bot.webhook = fresh
            if allowed is not None:
                bot.allowed_updates = allowed
            if params_of.boolean(params, "drop_pending_updates"):
                bot.pending.clear()
        return True, "Webhook is already set" if unchanged else "Webhook was set"

    def delete_webhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        with self._state.lock:
            bot = self._state.telegram
            existed = bot.webhook is not None
            bot.webhook = None
            if params_of.boolean(params, "drop_pending_updates"):
                bot.pending.clear()
        return True, "Webhook was deleted" if existed else "Webhook is already deleted"

    def get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._state.lock:
            bot = self._state.telegram
            hook = bot.webhook
            info: dict[str, Any] = {"url": hook.url if hook else "", "has_custom_certificate": False,
                                    "pending_update_count": len(bot.pending)}
            if hook is not None:
                if hook.ip_address:
                    info["ip_address"] = hook.ip_address
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message
                info["max_connections"] = hook.max_connections
            if bot.allowed_updates:
                info["allowed_updates"] = list(bot.allowed_updates)
            return info

    def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params_of.integer(params, "offset")
        limit = min(max(params_of.integer(params, "limit", 100) or 100, 1), 100)
        timeout = min(float(params_of.integer(params, "timeout", 0) or 0), _LONG_POLL_LIMIT)
        allowed = self._allowed_updates(params)
        with self._updates_queued:
            bot = self._state.telegram
            if bot.webhook is not None:
                raise TelegramError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                         "use deleteWebhook to delete the webhook first")
            if allowed is not None:
                bot.allowed_updates = allowed
            if offset is not None and offset < 0:
                while len(bot.pending) > -offset:
                    bot.pending.popleft()
            elif offset:
                while bot.pending and bot.pending[0]["update_id"] < offset:
                    bot.pending.popleft()
            if not bot.pending and timeout > 0:
                self._updates_queued.wait(timeout)
            return list(bot.pending)[:limit]

    def _allowed_updates(self, params: dict[str, Any]) -> list[str] | None:
        value = params_of.json_value(params, "allowed_updates", "Bad Request: can't parse allowed_updates")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TelegramError(400, "Bad Request: allowed_updates must be an Array of Strings")
        return value


def _recipient(method: str, params: dict[str, Any]) -> str | None:
    """The chat a sendMessage goes to, spelled one way whether it came as 42 or "42"."""
    raw = params.get("chat_id")
    if method != "sendMessage" or raw is None or raw == "":
        return None
    parsed = params_of.chat_id(params)
    return str(raw if parsed is None else parsed)


def private_chat(customer: Customer) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": customer.telegram.user_id, "first_name": customer.first_name}
    if customer.last_name:
        chat["last_name"] = customer.last_name
    chat["type"] = "private"
    return chat


def blueprint(bot: TelegramBot) -> Blueprint:
    api = Blueprint("telegram_api", __name__)

    @api.route("/bot<token>/<method>", methods=["GET", "POST"])
    def call(token: str, method: str) -> Response:
        params, unreadable = params_of.from_request(request)
        return respond(bot.call(token, method, params, unreadable=unreadable))

    return api
