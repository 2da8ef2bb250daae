"""The ``InboundStore`` port: a webhook update's reads and writes in one transaction.

The repositories are the same classes every other caller uses, handed the transaction's
connection in place of the engine: their own ``begin()`` and ``connect()`` join it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy.engine import Connection, Dialect, Engine

from omnibot.adapters.db.link_tokens import SqlLinkTokenRepository
from omnibot.adapters.db.outbox import SqlCallbackOutbox, SqlReplyOutbox
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.reconnect import once_more_if_disconnected
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.update_log import SqlUpdateLog
from omnibot.ports import (
    CallbackOutbox,
    ContactRepository,
    InboundUnit,
    LinkTokenRepository,
    ReceiptLog,
    ReplyOutbox,
    UpdateLog,
)

T = TypeVar("T")


class _InTransaction:
    """Stands in for the engine: every ``begin()`` and ``connect()`` is the one open transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect: Dialect = connection.dialect

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self._connection

    connect = begin


@dataclass
class _SqlUnit:
    # The port's types, not the classes': a protocol's settable attribute takes no narrower type.
    contacts: ContactRepository
    tokens: LinkTokenRepository
    updates: UpdateLog
    replies: ReplyOutbox
    receipts: ReceiptLog
    callbacks: CallbackOutbox


class SqlInboundStore:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def run(self, work: Callable[[InboundUnit], T]) -> T:
        return once_more_if_disconnected(lambda: self._run_once(work))

    def _run_once(self, work: Callable[[InboundUnit], T]) -> T:
        with self._engine.begin() as connection:
            # The repositories use nothing of an engine but the two methods it stands in for.
            engine, now = cast(Engine, _InTransaction(connection)), self._now
            unit = _SqlUnit(
                contacts=SqlContactRepository(engine, now), tokens=SqlLinkTokenRepository(engine),
                updates=SqlUpdateLog(engine, now), replies=SqlReplyOutbox(engine, now),
                receipts=SqlDeliveryQueue(engine, now), callbacks=SqlCallbackOutbox(engine, now))
            return work(unit)
