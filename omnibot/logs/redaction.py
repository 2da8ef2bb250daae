"""A safety net under every log line: configured secrets and full phone numbers never reach a log.

Code should not log them in the first place (phones go through ``mask_phone``); this filter
catches what slips through: a library that logs a URL with the bot token in it, an exception
message that quotes a header, a phone number inside an error text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from omnibot.domain.errors import InvalidPhone
from omnibot.domain.phone import mask_phone, normalize_phone
from omnibot.logs.formatting import EVENT_ATTRIBUTE, EventLine, captured_event

MASK = "***"
# Shorter values would blank out ordinary words of every line; no real secret is that short.
MIN_SECRET_LENGTH = 4
# Every line pays for this scan, so most lines (no run of 7 digits) stop at a cheap pre-check,
# and only bare runs, the rare case, pay for parsing with phonenumbers.
_DIGITS = re.compile(r"\d{7}")
_PHONE = re.compile(
    r"(?=[+%\d])(?:"  # lets the scan skip every other character quickly
    # E.164 (or its URL-encoded plus): 7-15 digits, not glued to a longer run of digits or word characters.
    r"(?:(?<![\w+])\+|%2[Bb])(?P<e164>\d{7,15})(?!\d)"
    # A number without its plus (380501234567) or national (0501234567): 10-15 digits standing alone,
    # not the group of a uuid or order id (``-``), a fraction (``.``) or part of a longer word.
    r"|(?<![\w+.\-])(?P<bare>\d{10,15})(?![\w\-]|\.\d))")
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class Redactor:
    """Replaces each secret with ``***`` and each phone number with its masked E.164 form.

    A bare run of digits is masked when it is a valid number, national for ``region`` or
    international without its plus; other long numbers (timestamps, counts) stay as they are.
    """

    def __init__(self, secrets: Iterable[str] = (), region: str = "UA") -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._region = region

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        return _PHONE.sub(self._masked, text) if _DIGITS.search(text) else text

    def _masked(self, match: re.Match[str]) -> str:
        if match["e164"]:
            return mask_phone("+" + match["e164"])
        try:
            return mask_phone(normalize_phone(match["bare"], self._region))
        except InvalidPhone:
            return match.group()


class RedactionFilter(logging.Filter):
    """Redacts a record in place: message, extra fields, exception and stack text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        # The fields are taken from the format string and each value redacted alone, before the
        # message is rendered: the formatter never has to split the rendered text again.
        line = captured_event(record)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line, nor raise into the caller
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self._redact(message), None
        setattr(record, EVENT_ATTRIBUTE, line.redacted(self._redact) if line else EventLine(record.msg, {}, True))
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, self._redact(value))
        if record.exc_info:
            # Formatters re-render exc_info; hand them the redacted text instead.
            record.exc_text = self._redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def configured_secrets(settings: Any) -> list[str]:
    """Every secret value in ``settings``: each ``SecretStr`` (lists too) and URL passwords."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, SecretStr):
                found.append(item.get_secret_value())
    token = settings.secret("telegram_bot_token")
    if token and ":" in token:
        found.append(token.split(":", 1)[1])  # the secret half, should it be logged alone
    for url in (settings.database_url, settings.redis_url):
        found.extend(_password(url))
    return found


def _password(url: str | None) -> list[str]:
    if not url:
        return []
    try:
        password = make_url(url).password
    except Exception:  # a URL SQLAlchemy cannot read has no password we could find either
        return []
    return [str(password)] if password else []
