"""The texts omnibot sends, from templates per language: order notifications and the bot's replies.

Templates are TOML files of plain text with ``$placeholders`` (``omnibot/templates/<lang>.toml``);
a shop overrides any key from its own directory without touching code. Values are substituted
as written for Viber and HTML-escaped for Telegram, so an item called ``<b>Sale</b>`` arrives as
those characters, never as markup.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from string import Template

from omnibot.domain.phone import mask_phone
from omnibot.ports import OutgoingMessage

TELEGRAM_TEXT_LIMIT = 4096
VIBER_TEXT_LIMIT = 7000
FALLBACK_LANGUAGE = "en"
_ELLIPSIS = "…"


def load_templates(override_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """language → "section.key" → text: the built-in files, then the shop's on top, key by key."""
    languages: dict[str, dict[str, str]] = {}
    builtin = resources.files("omnibot") / "templates"
    sources = [(entry.name, entry.read_text(encoding="utf-8")) for entry in builtin.iterdir()
               if entry.name.endswith(".toml")]
    if override_dir is not None:
        sources += [(path.name, path.read_text(encoding="utf-8")) for path in sorted(override_dir.glob("*.toml"))]
    for name, text in sources:
        flat = languages.setdefault(name.removesuffix(".toml").lower(), {})
        for section, keys in tomllib.loads(text).items():
            if isinstance(keys, dict):
                flat.update({f"{section}.{key}": str(value) for key, value in keys.items()})
    return languages


class Messages:
    """Renders every text omnibot sends, in the customer's language when it has templates for it."""

    def __init__(self, templates: dict[str, dict[str, str]], default_language: str = "uk") -> None:
        self._templates = templates
        self.default_language = default_language if default_language in templates else FALLBACK_LANGUAGE

    def language_for(self, language: str | None) -> str:
        """``uk-UA`` → ``uk``; a language without templates → the shop's default."""
        primary = (language or "").replace("_", "-").split("-")[0].lower()
        return primary if primary in self._templates else self.default_language

    def text(self, key: str, language: str | None, **values: str) -> str:
        lang = self.language_for(language)
        template = (self._templates[lang].get(key) or self._templates[self.default_language].get(key)
                    or self._templates[FALLBACK_LANGUAGE][key])
        return substitute(template, values)

    def order_ready(self, order_id: str | None, items: Sequence[str], language: str | None) -> OutgoingMessage:
        title_key = "order_ready.title" if order_id else "order_ready.title_no_order"
        lines = [self.text(title_key, language, order_id=order_id or "")]
        html = [f"<b>{escape(lines[0])}</b>"]
        if items:
            header = self.text("order_ready.items_header", language)
            rendered = [self.text("order_ready.item", language, item=item) for item in items]
            lines += [header, *rendered]
            html += [escape(header), *(escape(line) for line in rendered)]
        return OutgoingMessage(text=_truncate("\n".join(lines), VIBER_TEXT_LIMIT), html=_truncate_lines(html))

    def free_text(self, text: str) -> OutgoingMessage:
        """A shop's own text, sent as written (escaped for Telegram, not interpreted).

        Telegram counts characters after entity parsing, so the limit applies before escaping.
        """
        return OutgoingMessage(text=_truncate(text, VIBER_TEXT_LIMIT),
                               html=escape(_truncate(text, TELEGRAM_TEXT_LIMIT)))

    def reply(self, key: str, language: str | None, *, request_phone: bool = False,
              remove_keyboard: bool = False, **values: str) -> OutgoingMessage:
        """One of the bot's own replies (``bot.<key>``)."""
        return OutgoingMessage(
            text=self.text(f"bot.{key}", language, **values),
            request_phone=request_phone,
            request_phone_label=self.text("bot.share_phone_button", language),
            remove_keyboard=remove_keyboard,
        )

    def welcome(self, order_id: str | None, language: str | None) -> OutgoingMessage:
        key = "welcome" if order_id else "welcome_no_order"
        return self.reply(key, language, request_phone=True, order_id=order_id or "")

    def welcome_known(self, order_id: str | None, language: str | None) -> OutgoingMessage:
        key = "welcome_known" if order_id else "welcome_known_no_order"
        return self.reply(key, language, remove_keyboard=True, order_id=order_id or "")

    def linked_by_link(self, phone: str, language: str | None) -> OutgoingMessage:
        return self.reply("link_linked", language, remove_keyboard=True, phone=mask_phone(phone))


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _truncate_lines(lines: list[str]) -> str:
    # Cut whole lines so no tag or entity is split; Telegram counts the text after parsing,
    # so the escaped length is a safe upper bound.
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > TELEGRAM_TEXT_LIMIT - 2:
            kept.append(_ELLIPSIS)
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def substitute(template: str, values: Mapping[str, str]) -> str:
    """``string.Template(template).safe_substitute(values)``, from the template parsed once: the
    worker renders every notification with the same few templates, and the regular expression's
    callback per placeholder was a few percent of its CPU."""
    parts, tail = _parsed(template)
    return "".join([literal + (values.get(name, as_written) if name else "") for literal, name, as_written in parts]
                   + [tail])


@functools.lru_cache(maxsize=512)
def _parsed(template: str) -> tuple[tuple[tuple[str, str | None, str], ...], str]:
    """(literal text, placeholder name or None, the placeholder as written) in order, and the tail."""
    parts: list[tuple[str, str | None, str]] = []
    start = 0
    for match in Template.pattern.finditer(template):
        literal = template[start:match.start()]
        name = match.group("named") or match.group("braced")
        if name:
            parts.append((literal, name, match.group(0)))
        elif match.group("escaped") is not None:
            parts.append((literal + Template.delimiter, None, ""))
        else:  # a lone "$": kept as written, as safe_substitute does
            parts.append((literal + match.group(0), None, ""))
        start = match.end()
    return tuple(parts), template[start:]
