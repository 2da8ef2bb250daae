"""Process-wide logging: one line per event, at INFO; JSON lines unless stderr is a terminal.

``LOG_FORMAT=json|text`` overrides the choice. Every line passes the request-id filter (the id of
the HTTP request or of the notification being delivered) and the redaction filter (configured
secrets and full phone numbers are masked, whatever logged them).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, TextIO

from omnibot.logs.context import RequestIdFilter
from omnibot.logs.formatting import JsonLineFormatter, TextFormatter
from omnibot.logs.redaction import RedactionFilter, Redactor, configured_secrets

if TYPE_CHECKING:
    from omnibot.settings import Settings

# Libraries that log each request at INFO, URLs included (Telegram's URL carries the bot token).
_QUIET = ("httpx", "httpcore")


def configure(settings: Settings | None = None, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Install omnibot's handler on the root logger (again: replacing the one installed before)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.set_name("omnibot")
    handler.addFilter(RequestIdFilter())
    redactor = Redactor(configured_secrets(settings), settings.default_phone_region) if settings else Redactor()
    handler.addFilter(RedactionFilter(redactor))
    choice = log_format(settings.log_format if settings else None, stream)
    handler.setFormatter(JsonLineFormatter() if choice == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "omnibot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings become log lines too, not bare stderr text
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def log_format(configured: str | None, stream: TextIO) -> str:
    """``configured`` if set; otherwise text for a person at a terminal, JSON for everything else."""
    if configured:
        return configured
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"
