"""Telegram sends with and without a price, stored as a worker leaves them: the month's billed sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omnibot.adapters.db.engine import make_engine
from omnibot.adapters.db.repository import SqlNotificationRepository
from omnibot.domain.model import AttemptOutcome, Channel, DeliveryAttempt, Notification, NotificationStatus, Price

STARS = Price(Decimal("0.1"), "XTR")


def start_of_month_minus_a_second() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(seconds=1)


def store_sends(database_url: str, sends: list[tuple[datetime, list[Price | None]]]) -> None:
    """One sent notification per entry, with an attempt per price (None: a free send)."""
    engine = make_engine(database_url)
    for n, (at, prices) in enumerate(sends):
        SqlNotificationRepository(engine).add(Notification(
            id=f"00000000-0000-0000-0000-{n:012d}", phone="+380501234567", order_id=None, items=["Lamp"],
            status=NotificationStatus.SENT, channel=Channel.TELEGRAM, created_at=at, updated_at=at,
            attempts=[DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT, created_at=at, price=price)
                      for price in prices]))
    engine.dispose()
