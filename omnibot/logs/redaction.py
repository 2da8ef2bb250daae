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

from omnibot.domain.phone import mask_phone

MASK = "***"
# Shorter values would blank out ordinary words of every line; no real secret is that short.
MIN_SECRET_LENGTH = 4
# E.164: a plus and 7-15 digits, not glued to a longer run of digits or word characters.
_PHONE = re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)")
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class Redactor:
    """Replaces each secret with ``***`` and each E.164 number with its masked form."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        return _PHONE.sub(lambda match: mask_phone(match.group()), text)


class RedactionFilter(logging.Filter):
    """Redacts a record in place: message, extra fields, exception and stack text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line, nor raise into the caller
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self._redact(message), None
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
