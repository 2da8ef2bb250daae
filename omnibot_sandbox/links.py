"""Deep links a customer can click: which messenger they open and what they carry."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.errors import ControlError
from omnibot_sandbox.state import TELEGRAM, VIBER

_TELEGRAM_HOSTS = {"t.me", "telegram.me", "www.t.me", "telegram.dog"}


@dataclass(frozen=True)
class DeepLink:
    channel: str
    # Telegram's start payload or Viber's context; None when the link carries none.
    payload: str | None


def parse(url: str, config: SandboxConfig) -> DeepLink:
    parts = urlsplit(url.strip())
    query = _query(parts.query)
    if parts.scheme in ("http", "https") and (parts.hostname or "") in _TELEGRAM_HOSTS:
        return _telegram(parts.path.strip("/"), query, config)
    if parts.scheme == "tg" and parts.netloc == "resolve":
        return _telegram(query.get("domain", ""), query, config)
    if parts.scheme == "viber" and parts.netloc == "pa":
        uri = query.get("chatURI", "")
        if uri.lower() != config.viber_bot_uri.lower():
            raise _wrong(f"the link opens Viber bot {uri!r}, not {config.viber_bot_uri!r}")
        return DeepLink(VIBER, query.get("context") or None)
    raise _wrong("not a Telegram (https://t.me/<bot>?start=...) or Viber (viber://pa?chatURI=...) link")


def _telegram(username: str, query: dict[str, str], config: SandboxConfig) -> DeepLink:
    if username.lower() != config.telegram_bot_username.lower():
        raise _wrong(f"the link opens Telegram bot {username!r}, not {config.telegram_bot_username!r}")
    if "startgroup" in query:
        raise _wrong("?startgroup= adds the bot to a group; the sandbox has only private chats")
    return DeepLink(TELEGRAM, query.get("start") or None)


def _query(query: str) -> dict[str, str]:
    # Plain percent-decoding: a "+" in a context or payload stays a "+", as the apps pass it on.
    pairs = (item.partition("=") for item in query.split("&") if item)
    return {unquote(key): unquote(value) for key, _, value in pairs}


def _wrong(message: str) -> ControlError:
    return ControlError(400, "unsupported_link", message, "url")
