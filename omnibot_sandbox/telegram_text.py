"""What a Telegram message looks like once ``parse_mode`` is applied: plain text plus entities.

The parsers follow Telegram's own (TDLib's ``parse_html``, ``parse_markdown_v2`` and
``parse_markdown``), including their error texts, so a formatting bug in the bot fails here with
the same ``400 can't parse entities: ...`` it would get from Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# TDLib's is_space; "\0" stands for "past the end of the text".
SPACES = " \t\r\n\v\0"
# Characters Telegram trims from both ends of a message's text after parsing.
_TRIMMED = "".join(chr(c) for c in range(33))


class EntityError(ValueError):
    """The text does not parse in its parse_mode; the message is Telegram's."""


class UnsupportedParseMode(ValueError):
    pass


@dataclass
class Rendered:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, as in the Bot API."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def byte_offset(source: str, index: int) -> int:
    """TDLib reports positions as byte offsets into the UTF-8 text."""
    return len(source[:index].encode("utf-8"))


class TextBuilder:
    """Collects the rendered characters and the entities found among them."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0  # UTF-16 length so far
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def text_since(self, part_index: int) -> str:
        return "".join(self.parts[part_index:])

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        """An entity from ``start`` to the current end of the text."""
        self.span(kind, start, self.offset, **extra)

    def span(self, kind: str, start: int, end: int, **extra: Any) -> None:
        if end > start:  # Telegram drops empty entities
            self.entities.append({"type": kind, "offset": start, "length": end - start, **extra})

    def rendered(self) -> Rendered:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return Rendered("".join(self.parts), entities)


def render(text: str, parse_mode: str | None, strict_html: bool = True) -> Rendered:
    """Apply ``parse_mode`` the way Telegram does, then trim as Telegram trims."""
    from omnibot_sandbox import telegram_html, telegram_markdown

    mode = (parse_mode or "").lower()
    if mode == "":
        parsed = Rendered(text)
    elif mode == "html":
        parsed = telegram_html.parse(text, strict=strict_html)
    elif mode == "markdownv2":
        parsed = telegram_markdown.parse_v2(text)
    elif mode == "markdown":
        parsed = telegram_markdown.parse_legacy(text)
    else:
        raise UnsupportedParseMode(parse_mode)
    return _trim(parsed)


def _trim(parsed: Rendered) -> Rendered:
    stripped_left = parsed.text.lstrip(_TRIMMED)
    cut = utf16_len(parsed.text) - utf16_len(stripped_left)
    text = stripped_left.rstrip(_TRIMMED)
    size = utf16_len(text)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - cut, 0)
        end = min(entity["offset"] + entity["length"] - cut, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return Rendered(text, entities)
