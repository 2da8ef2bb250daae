"""Surviving a pooled connection that died while it sat idle, without a ping before every use.

A ping on each checkout costs a round trip on every request to find the rare dead connection
(after PostgreSQL restarts, or a proxy or firewall closes a connection idle too long). Instead,
the first statement on such a connection fails at once, without having run; SQLAlchemy then
invalidates that connection and, since its neighbours are likely dead too, every connection the
pool opened before it. Work that is safe to repeat runs once more, on a fresh connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from omnibot.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


def once_more_if_disconnected(work: Callable[[], T]) -> T:
    """``work()``, run a second time if the first failed on a dead connection.

    Only a failure SQLAlchemy recognised as a lost connection (``StoreUnavailable.lost_connection``)
    is retried, once: the pool it invalidated hands the second try a new connection, so a second
    failure is a real outage and propagates. Every other error propagates unchanged. ``work``
    must be safe to run twice: a read, or a write that cannot apply twice.
    """
    try:
        return work()
    except StoreUnavailable as exc:
        if not exc.lost_connection:
            raise
        # The class of the driver's error only: its message may quote the statement's values.
        log.warning("db.reconnected error=%s", exc.reason)
    return work()
