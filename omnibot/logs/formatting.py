"""Two renderings of one log record: a JSON object per line for machines, plain text for people.

omnibot's log calls read ``log.info("notification.sent id=%s channel=%s", ...)``: an event name,
then ``key=value`` fields. The JSON formatter splits that message into ``event`` and fields, so
``{"event": "notification.sent", "id": "…", "channel": "telegram"}`` is searchable without
rewriting the calls. A message in any other shape (a library's) becomes the ``event`` as it is.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

_EVENT = re.compile(r"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?:\s+|$)")
_FIELD = re.compile(r"([A-Za-z_]\w*)=(\S*)")
_OWN_KEYS = frozenset({"time", "level", "logger", "event", "message", "request_id", "exc_info", "stack_info"})


def split_message(message: str) -> tuple[str, dict[str, str], bool]:
    """``(event, fields, complete)``: ``complete`` is False when some text was not a field."""
    match = _EVENT.match(message)
    if match is None:
        return message, {}, True
    rest = message[match.end():]
    fields = {key if key not in _OWN_KEYS else f"field_{key}": value for key, value in _FIELD.findall(rest)}
    return match.group(1), fields, not _FIELD.sub("", rest).strip()


class JsonLineFormatter(JsonFormatter):
    """``{"time", "level", "logger", "event", ...fields, "request_id"?}``, one line per record."""

    def __init__(self) -> None:
        super().__init__(reserved_attrs=[*RESERVED_ATTRS, "request_id"], json_ensure_ascii=False)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        event, fields, complete = split_message(record.message)
        log_data["event"] = event
        log_data.update(fields)
        super().add_fields(log_data, record, message_dict)  # extra={...} fields, exc_info, stack_info
        log_data.pop("message", None)  # the base class adds it as given; keep it only when it says more
        if not complete:
            log_data["message"] = record.message  # a value with spaces: keep the whole text too
        request_id = getattr(record, "request_id", None)
        if request_id:
            log_data["request_id"] = request_id


class TextFormatter(logging.Formatter):
    """``2026-11-26 23:40:00,123 INFO omnibot.services.delivery notification.sent id=… [request_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        text = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} request_id={request_id}" if request_id else text
