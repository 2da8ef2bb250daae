"""The operators' dashboard's read side: filtered, paginated lists, counts and series of what was sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from omnibot.domain.model import Billing, Channel, ChannelState, NotificationStatus

T = TypeVar("T")


@dataclass(frozen=True)
class NotificationFilter:
    """What the notifications list is narrowed to; ``None`` means any."""

    status: NotificationStatus | None = None
    channel: Channel | None = None  # the messenger that accepted it
    since: datetime | None = None
    until: datetime | None = None
    phone: str | None = None  # exact E.164
    phone_digits: str | None = None  # digits anywhere in the number (a partial search)
    contact_id: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class NotificationRow:
    id: str
    created_at: datetime
    updated_at: datetime
    phone: str | None
    order_id: str | None
    event: str
    status: NotificationStatus
    channel: Channel | None
    result: str | None
    attempts: int
    request_id: str | None


@dataclass(frozen=True)
class ContactRow:
    id: int
    phone: str | None
    first_name: str | None
    last_name: str | None
    language: str | None
    phone_verified: bool
    telegram: ChannelState | None  # None: no Telegram account linked
    viber: ChannelState | None
    created_at: datetime


@dataclass(frozen=True)
class HourOutcomes:
    """One hour's messages each messenger accepted (by time sent) and notifications failed (by time accepted)."""

    hour: datetime  # its start, UTC
    sent: dict[Channel, int]
    failed: int


@dataclass(frozen=True)
class HourDeliveryTimes:
    """How long one hour's deliveries took, from accepting the notification to a messenger accepting it.

    Nearest-rank percentiles in seconds; ``None`` in an hour with no delivery.
    """

    hour: datetime  # its start, UTC, for deliveries made within it
    deliveries: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class DayViber:
    """One day's Viber messages sent, by how Viber bills each, and what the billed ones cost."""

    day: datetime  # its start, UTC
    sent: dict[Billing | None, int]  # None: sent before omnibot recorded the billing (migration 0008)
    spent: dict[str, Decimal]  # by currency; empty while no VIBER_MESSAGE_PRICE is configured

    @property
    def billable(self) -> int:
        return self.sent[Billing.BILLABLE]

    @property
    def free(self) -> int:
        return self.sent[Billing.FREE_SESSION] + self.sent[Billing.FREE_QUOTA]


@dataclass(frozen=True)
class BilledSends:
    """The sends a messenger billed in one currency over a period, and what they cost together."""

    messages: int
    amount: Decimal


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


class DashboardQueries(Protocol):
    """Reads only; the hourly series in UTC hours, the daily ones in UTC days."""

    def notifications(self, where: NotificationFilter, page: int = 1, size: int = 50) -> Page[NotificationRow]:
        """Newest first."""
        ...

    def sent_by_channel(self, since: datetime) -> dict[Channel, int]:
        """Messages each messenger accepted from ``since`` on, every channel present."""
        ...

    def billed_since(self, channel: Channel, currency: str, since: datetime) -> BilledSends:
        """Sends ``channel`` billed in ``currency`` from ``since`` on (Telegram's paid broadcasts: ``XTR``)."""
        ...

    def failed_since(self, since: datetime) -> int: ...

    def status_counts(self) -> dict[NotificationStatus, int]:
        """Every status present, zero included."""
        ...

    def outcomes_per_hour(self, first_hour: datetime, hours: int) -> list[HourOutcomes]:
        """Every hour from ``first_hour`` on, an hour with nothing in it included as zeros."""
        ...

    def time_to_deliver_per_hour(self, first_hour: datetime, hours: int) -> list[HourDeliveryTimes]: ...

    def viber_per_day(self, first_day: datetime, days: int) -> list[DayViber]: ...

    def contacts(self, phone_digits: str | None = None, page: int = 1, size: int = 50) -> Page[ContactRow]:
        """Newest first; ``phone_digits`` keeps the customers whose number holds those digits."""
        ...

    def contact(self, contact_id: int) -> ContactRow | None: ...
