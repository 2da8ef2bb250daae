"""Counts over the delivery history, for the operators' metrics."""

from __future__ import annotations

from datetime import datetime

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
