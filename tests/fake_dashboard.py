"""``DashboardQueries`` over the in-memory repositories, read as ``SqlDashboardQueries`` reads the tables.

The contract suite (``tests/integration/test_admin_queries.py``) runs against both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
from omnibot.ports.dashboard import (
    BilledSends,
    ContactRow,
    DayViber,
    HourDeliveryTimes,
    HourOutcomes,
    NotificationFilter,
    NotificationRow,
    Page,
)
from tests.fakes import InMemoryContactRepository, InMemoryNotificationRepository

R = TypeVar("R")
T = TypeVar("T")
_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)


class InMemoryDashboardQueries:
    """The dashboard's read side, scanning what the in-memory repositories keep."""

    def __init__(self, notifications: InMemoryNotificationRepository, contacts: InMemoryContactRepository) -> None:
        self._notifications = notifications
        self._contacts = contacts

    def notifications(self, where: NotificationFilter, page: int = 1, size: int = 50) -> Page[NotificationRow]:
        """Newest first."""
        found = [n for n in self._notifications.stored() if _matches(n, where)]
        found.sort(key=lambda n: (_at(n.created_at), n.id), reverse=True)
        return _page(found, page, size, _notification_row)

    def sent_by_channel(self, since: datetime) -> dict[Channel, int]:
        counts = dict.fromkeys(Channel, 0)
        for attempt in self._attempts():
            if attempt.outcome is AttemptOutcome.SENT and _at(attempt.created_at) >= since:
                counts[attempt.channel] += 1
        return counts

    def billed_since(self, channel: Channel, currency: str, since: datetime) -> BilledSends:
        # As the SQL: every attempt priced in the currency, whatever its outcome.
        prices = [attempt.price.amount for attempt in self._attempts()
                  if attempt.channel is channel and attempt.price is not None and attempt.price.currency == currency
                  and _at(attempt.created_at) >= since]
        return BilledSends(len(prices), sum(prices, Decimal(0)))

    def failed_since(self, since: datetime) -> int:
        return sum(1 for n in self._notifications.stored()
                   if n.status is NotificationStatus.FAILED and _at(n.created_at) >= since)

    def status_counts(self) -> dict[NotificationStatus, int]:
        counts = dict.fromkeys(NotificationStatus, 0)
        for notification in self._notifications.stored():
            counts[notification.status] += 1
        return counts

    def outcomes_per_hour(self, first_hour: datetime, hours: int) -> list[HourOutcomes]:
        """Every hour from ``first_hour`` on, an hour with nothing in it included as zeros."""
        window = _window(first_hour, hours, _HOUR)
        sent = {start: dict.fromkeys(Channel, 0) for start in window}
        failed = dict.fromkeys(window, 0)
        for attempt in self._attempts():
            start = _bucket(attempt.created_at, window, _HOUR)
            if attempt.outcome is AttemptOutcome.SENT and start is not None:
                sent[start][attempt.channel] += 1
        for notification in self._notifications.stored():
            start = _bucket(notification.created_at, window, _HOUR)
            if notification.status is NotificationStatus.FAILED and start is not None:
                failed[start] += 1
        return [HourOutcomes(start, sent[start], failed[start]) for start in window]

    def time_to_deliver_per_hour(self, first_hour: datetime, hours: int) -> list[HourDeliveryTimes]:
        """Every hour from ``first_hour`` on; p50 and p95 of the messages a messenger accepted in it."""
        window = _window(first_hour, hours, _HOUR)
        took: dict[datetime, list[float]] = {start: [] for start in window}
        for notification in self._notifications.stored():
            for attempt in notification.attempts:
                start = _bucket(attempt.created_at, window, _HOUR)
                if attempt.outcome is AttemptOutcome.SENT and start is not None:
                    took[start].append((_at(attempt.created_at) - _at(notification.created_at)).total_seconds())
        return [HourDeliveryTimes(start, len(seconds), _nearest_rank(seconds, 50), _nearest_rank(seconds, 95))
                for start, seconds in took.items()]

    def viber_per_day(self, first_day: datetime, days: int) -> list[DayViber]:
        """Every day from ``first_day`` on, a day with nothing sent included as zeros."""
        window = _window(first_day, days, _DAY)
        sent: dict[datetime, dict[Billing | None, int]] = {start: dict.fromkeys((*Billing, None), 0)
                                                           for start in window}
        spent: dict[datetime, dict[str, Decimal]] = {start: {} for start in window}
        for attempt in self._attempts():
            start = _bucket(attempt.created_at, window, _DAY)
            if attempt.channel is not Channel.VIBER or attempt.outcome is not AttemptOutcome.SENT or start is None:
                continue
            sent[start][None if attempt.billing is None else Billing(attempt.billing)] += 1
            if attempt.price is not None:
                currency = attempt.price.currency
                spent[start][currency] = spent[start].get(currency, Decimal(0)) + attempt.price.amount
        return [DayViber(start, sent[start], spent[start]) for start in window]

    def contacts(self, phone_digits: str | None = None, page: int = 1, size: int = 50) -> Page[ContactRow]:
        """Newest first; ``phone_digits`` keeps the customers whose number holds those digits."""
        found = [c for c in self._contacts.stored() if not phone_digits or _holds_digits(c.phone, phone_digits)]
        found.sort(key=lambda c: (_at(c.created_at), c.id or 0), reverse=True)
        return _page(found, page, size, _contact_row)

    def contact(self, contact_id: int) -> ContactRow | None:
        found = self._contacts.get(contact_id)
        return None if found is None else _contact_row(found)

    def _attempts(self) -> Iterator[DeliveryAttempt]:
        for notification in self._notifications.stored():
            yield from notification.attempts


def _at(moment: datetime | None) -> datetime:
    """A stored time: the repositories set every one on ``add``."""
    assert moment is not None, "the repositories stamp every stored row"
    return moment


def _matches(notification: Notification, where: NotificationFilter) -> bool:
    created_at = _at(notification.created_at)
    return ((where.status is None or notification.status is where.status)
            and (where.channel is None or notification.channel is where.channel)
            and (where.since is None or created_at >= where.since)
            and (where.until is None or created_at < where.until)
            and (where.phone is None or notification.phone == where.phone)
            and (not where.phone_digits or _holds_digits(notification.phone, where.phone_digits))
            and (where.contact_id is None or notification.contact_id == where.contact_id)
            and (where.request_id is None or notification.request_id == where.request_id))


def _holds_digits(phone: str | None, typed: str) -> bool:
    """As ``LIKE '%<digits>%'``: only the digits typed count, and a number must be there to hold them."""
    return phone is not None and "".join(ch for ch in typed if ch.isdigit()) in phone


def _window(first: datetime, count: int, step: timedelta) -> list[datetime]:
    """The starts of ``count`` UTC hours or days, from the one holding ``first``."""
    start = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if step == _DAY:
        start = start.replace(hour=0)
    return [start + step * n for n in range(count)]


def _bucket(moment: datetime | None, window: list[datetime], step: timedelta) -> datetime | None:
    """The start of the window's hour or day ``moment`` falls in, in UTC; None outside the window."""
    at = _at(moment)
    if not window or not window[0] <= at < window[-1] + step:
        return None
    return window[0] + step * ((at - window[0]) // step)


def _nearest_rank(values: list[float], percent: int) -> float | None:
    """The smallest value whose rank reaches ``percent``% of the count, as the SQL's integer comparison."""
    if not values:
        return None
    return sorted(values)[max(1, math.ceil(percent * len(values) / 100)) - 1]


def _page(rows: list[R], page: int, size: int, convert: Callable[[R], T]) -> Page[T]:
    page = max(1, page)
    start = (page - 1) * size
    window = rows[start:start + size + 1]
    return Page([convert(row) for row in window[:size]], page, size, len(window) > size)


def _notification_row(notification: Notification) -> NotificationRow:
    return NotificationRow(
        id=notification.id, created_at=_at(notification.created_at), updated_at=_at(notification.updated_at),
        phone=notification.phone, order_id=notification.order_id, event=notification.event,
        status=notification.status, channel=notification.channel, result=notification.result,
        attempts=len(notification.attempts), request_id=notification.request_id)


def _contact_row(contact: Contact) -> ContactRow:
    assert contact.id is not None
    return ContactRow(
        id=contact.id, phone=contact.phone, first_name=contact.first_name, last_name=contact.last_name,
        language=contact.language, phone_verified=bool(contact.phone_verified),
        telegram=None if contact.telegram_chat_id is None else contact.telegram_state,
        viber=None if contact.viber_user_id is None else contact.viber_state,
        created_at=_at(contact.created_at))
