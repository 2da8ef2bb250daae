"""Two renderings of one log record: a JSON object per line for machines, plain text for people.

omnibot's log calls read ``log.info("notification.sent id=%s channel=%s", ...)``: an event name,
then ``key=value`` fields. The field names come from that format string, written by a developer,
and each value is rendered from its own argument; the rendered text is never parsed, so a value
holding `` phone=… level=ERROR`` stays inside its own field. A message in any other shape (a
library's) becomes the ``event`` as it is.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# Where the structure found before anything rendered the message travels on the record; the
# leading underscore keeps python-json-logger from emitting it as an extra field.
EVENT_ATTRIBUTE = "_omnibot_event"
_EVENT = re.compile(r"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?:\s+|$)")
_KEY_VALUE = re.compile(r"([A-Za-z_]\w*)=(.*)", re.DOTALL)
# printf conversions as logging's ``msg % args`` reads them; a space flag is left out on purpose:
# such a spec goes uncounted, the count no longer matches the arguments, and the line stays whole.
_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0+]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
_LINE_KEYS = frozenset({"time", "level", "logger", "event", "message", "request_id"})
_OWN_KEYS = _LINE_KEYS | {"exc_info", "stack_info"}
_NEEDS_QUOTES = re.compile(r'[\s="\\]')


@dataclass(frozen=True)
class EventLine:
    """An event, its fields (values as text) and whether the format string held nothing else."""

    event: str
    fields: dict[str, str]
    complete: bool

    def redacted(self, redact: Callable[[str], str]) -> EventLine:
        return EventLine(redact(self.event), {key: redact(value) for key, value in self.fields.items()},
                         self.complete)


def event_of(msg: object, args: Any) -> EventLine | None:
    """The event and fields a format string like ``"notification.sent id=%s"`` names, or None.

    None for any other shape, and for a call whose arguments do not fit its format string (the
    caller then keeps the whole text as it can).
    """
    if not isinstance(msg, str) or isinstance(args, dict):
        return None
    match = _EVENT.match(msg)
    if match is None:
        return None
    args = tuple(args or ())
    specs = [spec for spec in _SPEC.findall(msg) if spec != "%%"] if args else []
    if len(specs) != len(args) or any("*" in spec or "(" in spec for spec in specs):
        return None
    fields: dict[str, str] = {}
    complete, used = True, 0
    for token in msg[match.end():].split():
        field = _KEY_VALUE.fullmatch(token)
        count = sum(1 for spec in _SPEC.findall(token) if spec != "%%") if args else 0
        if field is None:
            complete, used = False, used + count  # free text: kept whole in ``message``
            continue
        key, value = field.groups()
        if args:  # ``url=…/bot%s/send``: the value is this token rendered with its own arguments
            try:
                value = value % args[used:used + count]
            except Exception:  # rendering the whole message fails the same way; its caller copes with that
                return None
            used += count
        fields[key if key not in _OWN_KEYS else f"field_{key}"] = value
    return EventLine(match.group(1), fields, complete)


def captured_event(record: logging.LogRecord) -> EventLine | None:
    """What the redaction filter captured, or (before it, or with no filter) the format string's event."""
    captured = getattr(record, EVENT_ATTRIBUTE, None)
    return captured if isinstance(captured, EventLine) else event_of(record.msg, record.args)


def event_line(record: logging.LogRecord) -> EventLine:
    return captured_event(record) or EventLine(record.getMessage(), {}, True)


class JsonLineFormatter(JsonFormatter):
    """``{"time", "level", "logger", "event", ...fields, "request_id"?}``, one line per record."""

    def __init__(self) -> None:
        super().__init__(reserved_attrs=[*RESERVED_ATTRS, "request_id"], json_ensure_ascii=False)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        line = event_line(record)
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["event"] = line.event
        log_data.update(line.fields)
        extra: dict[str, Any] = {}
        super().add_fields(extra, record, message_dict)  # extra={...} fields, exc_info, stack_info
        extra.pop("message", None)  # the base class adds it as given; keep it only when it says more
        for key, value in extra.items():
            log_data[key if key not in _LINE_KEYS else f"field_{key}"] = value
        if not line.complete:
            log_data["message"] = record.getMessage()  # free text besides the fields: keep it all
        request_id = getattr(record, "request_id", None)
        if request_id:
            log_data["request_id"] = request_id


class TextFormatter(logging.Formatter):
    """``2026-11-26 23:40:00,123 INFO omnibot.services.delivery notification.sent id=… [request_id=…]``.

    A value with spaces, ``=``, quotes or control characters is quoted, so each field stays one.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = event_line(record)
        if line.complete:
            record.message = " ".join([line.event, *(f"{key}={_quoted(value)}" for key, value in line.fields.items())])
        text = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} request_id={request_id}" if request_id else text


def _quoted(value: str) -> str:
    if value and value.isprintable() and not _NEEDS_QUOTES.search(value):
        return value
    return json.dumps(value, ensure_ascii=False)
