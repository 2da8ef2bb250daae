"""One chat of a virtual phone, as its app would show it: bubbles both ways, the bot's keyboard, the state.

Telegram's formatting arrives as entities whose offsets count UTF-16 code units (as the Bot API
defines them); they become HTML here, escaped, with links only to http(s) addresses. Deep links to
this sandbox's bots become links the page opens in the same phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from omnibot_sandbox import links
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.errors import ControlError
from omnibot_sandbox.state import TELEGRAM, Customer, ReceivedMessage
from omnibot_sandbox.ui_journal import Sent

SHOWN = 100  # the latest bubbles of a chat the page shows
_URL = re.compile(r"(?:https?|viber|tg)://[^\s<>\"']+")
_TAGS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code", "pre": "code",
         "spoiler": "span"}
_VIBER_MARKUP = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Button:
    """A keyboard button: ``action`` is the control API action it calls, or ``url`` / ``none``."""

    label: str
    action: str
    value: str = ""


@dataclass(frozen=True)
class Bubble:
    side: str  # "in" (from the bot), "out" (the customer's), "event" (a note in the middle)
    html: Markup
    at: float
    buttons: list[list[Button]] = field(default_factory=list)

    @property
    def time(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M:%S")


@dataclass(frozen=True)
class ChatView:
    channel: str
    bubbles: list[Bubble]
    keyboard: list[list[Button]]
    mode: str  # telegram: "start", "blocked" or "chat"; viber: "chat"
    status: str
    received: int  # messages from the bot so far, for the page's unread dot


def chat(customer: Customer, channel: str, sent: list[Sent], config: SandboxConfig) -> ChatView:
    received = customer.received(channel)
    telegram = channel == TELEGRAM
    bubbles = [Bubble("in", render(m, config), m.at, inline_buttons(m) if telegram else []) for m in received]
    bubbles += [Bubble("out" if s.kind == "text" else "event", linkify(s.text, config), s.at) for s in sent]
    bubbles.sort(key=lambda b: (b.at, b.side == "in"))  # the customer's action began before the bot replied
    if telegram:
        account = customer.telegram
        mode = "blocked" if account.blocked else "chat" if account.started else "start"
        status = {"blocked": "you blocked the bot", "start": "not started", "chat": "started"}[mode]
        keyboard = telegram_keyboard(received, sent)
    else:
        mode, status = "chat", "subscribed" if customer.viber.subscribed else "not subscribed"
        keyboard = viber_keyboard(received)
    return ChatView(channel, bubbles[-SHOWN:], keyboard, mode, status, len(received))


def render(message: ReceivedMessage, config: SandboxConfig) -> Markup:
    """A received message's text as HTML: Telegram's entities applied, addresses made links."""
    if message.channel != TELEGRAM or not message.entities:
        return linkify(message.text, config)
    units = message.text.encode("utf-16-le")
    entities = [e for e in message.entities if isinstance(e, dict) and "offset" in e and "length" in e]
    ends = [e["offset"] + e["length"] for e in entities]
    cuts = sorted({0, len(units) // 2, *(e["offset"] for e in entities), *ends})
    html = Markup()
    for start, end in zip(cuts, cuts[1:], strict=False):
        piece = units[2 * start:2 * end].decode("utf-16-le", errors="replace")
        active = [e for e in entities if e["offset"] <= start and end <= e["offset"] + e["length"]]
        href = next((_link_target(e, piece) for e in active if e.get("type") in ("text_link", "url")), None)
        part = _anchor(piece, href, config) if href else linkify(piece, config)
        for entity in active:
            tag = _TAGS.get(str(entity.get("type")))
            if tag:
                css = Markup(' class="spoiler"') if entity["type"] == "spoiler" else Markup()
                part = Markup("<{0}{1}>{2}</{0}>").format(Markup(tag), css, part)
        html += part
    return html


def linkify(text: str, config: SandboxConfig) -> Markup:
    """Escaped text with its addresses as links; deep links to this sandbox's bots open in the phone."""
    html, last = Markup(), 0
    for found in _URL.finditer(text):
        html += escape(text[last:found.start()]) + _anchor(found.group(), found.group(), config)
        last = found.end()
    return html + escape(text[last:])


def _anchor(label: str, url: str, config: SandboxConfig) -> Markup:
    try:
        links.parse(url, config)
    except ControlError:
        if urlsplit(url).scheme not in ("http", "https"):
            return escape(label)
        return Markup('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>').format(url, label)
    return Markup('<a href="#" class="deep-link" data-url="{}">{}</a>').format(url, label)


def _link_target(entity: dict[str, Any], piece: str) -> str | None:
    return str(entity.get("url") or "") if entity.get("type") == "text_link" else piece


def telegram_keyboard(received: list[ReceivedMessage], sent: list[Sent]) -> list[list[Button]]:
    """The reply keyboard in force: the latest one sent, unless removed or (one-time) already used."""
    markup: dict[str, Any] | None = None
    shown_at = 0.0
    for message in received:
        reply_markup = message.reply_markup if isinstance(message.reply_markup, dict) else {}
        if "keyboard" in reply_markup:
            markup, shown_at = reply_markup, message.at
        elif reply_markup.get("remove_keyboard"):
            markup = None
    if markup is None or (markup.get("one_time_keyboard") and any(s.at > shown_at for s in sent)):
        return []
    rows = []
    for row in markup.get("keyboard", []):
        buttons = []
        for button in row:
            label = button if isinstance(button, str) else str(button.get("text", ""))
            if isinstance(button, dict) and button.get("request_contact"):
                buttons.append(Button(label, "telegram/share-contact"))
            elif isinstance(button, dict) and any(key.startswith("request_") for key in button):
                buttons.append(Button(label, "none"))  # location, poll, users: not emulated
            else:
                buttons.append(Button(label, "telegram/text", label))
        rows.append(buttons)
    return rows


def inline_buttons(message: ReceivedMessage) -> list[list[Button]]:
    markup = message.reply_markup if isinstance(message.reply_markup, dict) else {}
    rows = []
    for row in markup.get("inline_keyboard", []):
        rows.append([_url_button(str(b.get("text", "")), str(b.get("url") or "")) for b in row if isinstance(b, dict)])
    return rows


def _url_button(label: str, url: str) -> Button:
    """A button that opens an http(s) address; any other (or none) is shown but does nothing."""
    return Button(label, "url", url) if urlsplit(url).scheme in ("http", "https") else Button(label, "none")


def viber_keyboard(received: list[ReceivedMessage]) -> list[list[Button]]:
    """Viber shows the keyboard of the bot's latest message only; six columns make a row."""
    keyboard = received[-1].keyboard if received else None
    if not isinstance(keyboard, dict):
        return []
    rows: list[list[Button]] = [[]]
    width = 0
    for button in keyboard.get("Buttons", []):
        if not isinstance(button, dict):
            continue
        label = _VIBER_MARKUP.sub("", str(button.get("Text", ""))) or str(button.get("ActionBody", ""))
        kind, body = button.get("ActionType", "reply"), str(button.get("ActionBody", ""))
        action = {"share-phone": Button(label, "viber/share-contact"), "reply": Button(label, "viber/text", body),
                  "open-url": _url_button(label, body)}.get(kind, Button(label, "none"))
        columns = int(button.get("Columns", 6)) if str(button.get("Columns", 6)).isdigit() else 6
        if width + columns > 6 and rows[-1]:
            rows.append([])
            width = 0
        rows[-1].append(action)
        width += columns
    return [row for row in rows if row]
