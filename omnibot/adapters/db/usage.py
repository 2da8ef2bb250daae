"""Counts over the delivery history, for the operators' metrics."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db.tables import delivery_attempts
from omnibot.domain.model import AttemptOutcome, Channel


def sent_since(engine: Engine, channel: Channel, since: datetime) -> int:
    """Messages ``channel`` accepted from ``since`` on (Viber bills per message past its free quota)."""
    query = (sa.select(sa.func.count()).select_from(delivery_attempts)
             .where(delivery_attempts.c.channel == channel.value,
                    delivery_attempts.c.outcome == AttemptOutcome.SENT.value,
                    delivery_attempts.c.created_at >= since))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def billed_since(engine: Engine, since: datetime) -> dict[tuple[Channel, str], Decimal]:
    """What the sends messengers billed from ``since`` on cost, by channel and currency."""
    attempts = delivery_attempts.c
    query = (sa.select(attempts.channel, attempts.price_currency, sa.func.sum(attempts.price_amount))
             .where(attempts.price_amount.is_not(None), attempts.created_at >= since)
             .group_by(attempts.channel, attempts.price_currency))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {(Channel(channel), currency): Decimal(amount) for channel, currency, amount in rows}
