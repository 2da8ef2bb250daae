"""The ``ViberLedger`` port: the month's Viber messages counted in one row, taken atomically.

A reservation is one conditional ``UPDATE … WHERE used < limit``: the database's row lock orders
workers racing for the month's last message, and only one of them sees its row come back. It runs
in autocommit, a round trip of its own, so the row is held for no longer than the statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from omnibot.adapters.db.reconnect import once_more_if_disconnected
from omnibot.adapters.db.tables import viber_ledger
from omnibot.domain.model import Billing

_LEDGER = viber_ledger.c
_COUNTER = {Billing.FREE_QUOTA: _LEDGER.free_quota_used, Billing.BILLABLE: _LEDGER.billable_used}


@functools.cache
def _take(billing: Billing) -> sa.Update:
    counter = _COUNTER[billing]
    return (viber_ledger.update()
            .where(_LEDGER.month == sa.bindparam("of_month"), counter < sa.bindparam("limit"))
            .values({counter.name: counter + 1, "updated_at": sa.bindparam("now")})
            .returning(_LEDGER.month))


@functools.cache
def _give_back(billing: Billing) -> sa.Update:
    counter = _COUNTER[billing]
    return (viber_ledger.update()
            .where(_LEDGER.month == sa.bindparam("of_month"), counter > 0)
            .values({counter.name: counter - 1, "updated_at": sa.bindparam("now")}))


@functools.cache
def _open_month(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(viber_ledger).values(month=sa.bindparam("of_month"), free_quota_used=0, billable_used=0,
                                       updated_at=sa.bindparam("now")).on_conflict_do_nothing()


class SqlViberLedger:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def reserve(self, month: str, free_quota: int, budget: int) -> Billing | None:
        return once_more_if_disconnected(lambda: self._reserve(month, free_quota, budget))

    def _reserve(self, month: str, free_quota: int, budget: int) -> Billing | None:
        with self._engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            for attempt in range(2):
                for billing, limit in ((Billing.FREE_QUOTA, free_quota), (Billing.BILLABLE, budget)):
                    if limit > 0 and self._took(connection, billing, month, limit):
                        return billing
                if attempt == 0:
                    self._open(connection, month)  # the month's first send finds no row yet
        return None

    def _took(self, connection: Connection, billing: Billing, month: str, limit: int) -> bool:
        return connection.execute(_take(billing), {"of_month": month, "limit": limit, "now": self._now()}).first() \
            is not None

    def _open(self, connection: Connection, month: str) -> None:
        connection.execute(_open_month(connection.dialect.name), {"of_month": month, "now": self._now()})

    def give_back(self, month: str, billing: Billing) -> None:
        if billing not in _COUNTER:
            return
        # Not run twice after a lost connection: a second decrement would free a message never taken.
        with self._engine.begin() as connection:
            connection.execute(_give_back(billing), {"of_month": month, "now": self._now()})

    def used(self, month: str) -> tuple[int, int]:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(_LEDGER.free_quota_used, _LEDGER.billable_used)
                                     .where(_LEDGER.month == month)).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))
