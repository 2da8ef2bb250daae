"""Sends with and without a price, stored as a worker leaves them: the month's billed Telegram and Viber sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from omnibot.adapters.db.engine import make_engine
from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Price,
)
from tests.sql_notifications import NotificationRepository, SqlNotificationRepository

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


@dataclass(frozen=True)
class ViberSend:
    """One Viber attempt as the delivery engine records it: billed one way, priced when billable."""

    at: datetime
    billing: Billing | None  # None: a send from before omnibot recorded billing
    price: Price | None = None
    outcome: AttemptOutcome = AttemptOutcome.SENT


def store_viber_sends(engine: Engine, sends: list[ViberSend]) -> None:
    """One notification per send, with that send as its only attempt."""
    add_viber_sends(SqlNotificationRepository(engine), sends)


def add_viber_sends(repository: NotificationRepository, sends: list[ViberSend]) -> None:
    """``store_viber_sends`` through any notifications repository, the in-memory one included."""
    for n, send in enumerate(sends):
        sent = send.outcome is AttemptOutcome.SENT
        repository.add(Notification(
            id=f"00000000-0000-0000-0005-{n:012d}", phone="+380501234567", order_id=None, items=["Lamp"],
            status=NotificationStatus.SENT if sent else NotificationStatus.FAILED,
            channel=Channel.VIBER if sent else None, created_at=send.at, updated_at=send.at,
            attempts=[DeliveryAttempt(Channel.VIBER, send.outcome, created_at=send.at, price=send.price,
                                      billing=send.billing)]))
