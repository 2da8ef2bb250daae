"""The request id of the work at hand, so every log line it produces can be followed.

An HTTP request binds its id (the caller's ``X-Request-ID``, or a new one) for its duration; a
worker binds the id stored on the notification while it delivers it. ``contextvars`` keep the
value per thread, so the worker's thread pool and gunicorn's threads never mix them up.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_REQUEST_ID: ContextVar[str | None] = ContextVar("omnibot_request_id", default=None)
# What a caller may choose: no spaces, quotes or newlines that could forge a log line.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9_.:@/=-]{1,64}")


def request_id_from(incoming: str | None) -> str:
    """The caller's request id when it is a plain token of at most 64 characters, else a new one."""
    if incoming and _ACCEPTABLE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def bind(request_id: str | None) -> Token[str | None]:
    return _REQUEST_ID.set(request_id)


def unbind(token: Token[str | None]) -> None:
    _REQUEST_ID.reset(token)


@contextmanager
def request_id(value: str | None) -> Iterator[None]:
    """Log lines written inside the block carry ``value`` as their ``request_id``."""
    token = bind(value)
    try:
        yield
    finally:
        unbind(token)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the bound request id, unless the call passed its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _REQUEST_ID.get()
        return True
