"""What only the composition root asks of the database: its schema, the counts behind ``/metrics``,
the retention chore, closing it (``StoreUpkeep`` in ``bootstrap``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db import migrate
from omnibot.adapters.db.retention import SqlRetention
from omnibot.adapters.db.tables import delivery_attempts
from omnibot.domain.model import AttemptOutcome, Channel


class _Closable(Protocol):
    def close(self) -> None: ...


class SqlStoreUpkeep:
    def __init__(self, engine: Engine, *also_close: _Closable) -> None:
        self._engine = engine
        self._also_close = also_close

    def schema_is_current(self) -> bool:
        return migrate.is_current(self._engine)

    def sent_since(self, channel: Channel, since: datetime) -> int:
        return _sent_since(self._engine, channel, since)

    def billed_since(self, since: datetime) -> dict[tuple[Channel, str], Decimal]:
        return _billed_since(self._engine, since)

    def purge(self, older_than: datetime) -> None:
        SqlRetention(self._engine).purge(older_than)

    def close(self) -> None:
        """Close what uses the engine first (the queue's writer, the wake-up's connection), then the engine."""
        for closable in self._also_close:
            closable.close()
        self._engine.dispose()


def _sent_since(engine: Engine, channel: Channel, since: datetime) -> int:
    """Messages ``channel`` accepted from ``since`` on (Viber bills per message past its free quota)."""
    query = (sa.select(sa.func.count()).select_from(delivery_attempts)
             .where(delivery_attempts.c.channel == channel.value,
                    delivery_attempts.c.outcome == AttemptOutcome.SENT.value,
                    delivery_attempts.c.created_at >= since))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _billed_since(engine: Engine, since: datetime) -> dict[tuple[Channel, str], Decimal]:
    """What the sends messengers billed from ``since`` on cost, by channel and currency."""
    attempts = delivery_attempts.c
    query = (sa.select(attempts.channel, attempts.price_currency, sa.func.sum(attempts.price_amount))
             .where(attempts.price_amount.is_not(None), attempts.created_at >= since)
             .group_by(attempts.channel, attempts.price_currency))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {(Channel(channel), currency): Decimal(amount) for channel, currency, amount in rows}
