"""Reading Bot API parameters the way Telegram does, from any of the four request encodings."""

from __future__ import annotations

import json
from typing import Any

from flask import Request


class TelegramError(Exception):
    """A Bot API failure: ``error_code`` (also the HTTP status) and Telegram's description."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def from_request(request: Request) -> tuple[dict[str, Any], str | None]:
    """All parameters of a call, and a description of what was unreadable if something was."""
    params: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        raw = request.get_data(cache=True)
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return params, "Bad Request: can't parse JSON object"
            if not isinstance(body, dict):
                return params, "Bad Request: JSON object expected"
            params.update(body)
    else:
        # Form-encoded and multipart bodies carry every value as a string.
        params.update(request.form.items())
    return params, None


def json_value(params: dict[str, Any], name: str, error: str) -> Any:
    """A JSON-typed parameter, which form and query encodings pass as a JSON string."""
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise TelegramError(400, error) from None
    return value


def boolean(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def integer(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TelegramError(400, f"Bad Request: invalid {name} specified") from None


def chat_id(params: dict[str, Any]) -> int | None:
    """The target chat's id; ``None`` for an @username, which no sandbox chat has."""
    value = params.get("chat_id")
    if value is None or value == "":
        raise TelegramError(400, "Bad Request: chat_id is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return None


def reply_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The reply_markup, checked for the shape of one of Telegram's four markup objects."""
    error = "Bad Request: can't parse reply keyboard markup JSON object"
    markup = json_value(params, "reply_markup", error)
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise TelegramError(400, error)
    for field in ("keyboard", "inline_keyboard"):
        if field in markup and not _is_button_grid(markup[field], inline=field == "inline_keyboard"):
            raise TelegramError(400, f'Bad Request: field "{field}" must be an Array of Arrays of buttons')
    if not any(key in markup for key in ("keyboard", "inline_keyboard", "remove_keyboard", "force_reply")):
        raise TelegramError(400, error)
    return markup


def _is_button_grid(rows: Any, inline: bool) -> bool:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return False
    for button in (b for row in rows for b in row):
        if isinstance(button, str) and not inline:
            continue
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            return False
    return True
