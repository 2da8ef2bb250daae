"""Read models of the operators' dashboard: filtered, paginated lists and counts, in SQLAlchemy Core.

Reads only, each in one short connection. Lists ask for one row more than a page to know whether
another page follows, instead of counting the whole table. The hourly series group by the UTC hour
written as text (``2026-04-01 13``), the daily ones by the UTC day (``2026-04-01``), which both
databases can make from a timestamp.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db.tables import contacts, delivery_attempts, notifications
from omnibot.domain.model import AttemptOutcome, Billing, Channel, ChannelState, NotificationStatus
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

T = TypeVar("T")


class SqlDashboardQueries:
    """The dashboard's read side in SQLAlchemy Core, on SQLite and PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def notifications(self, where: NotificationFilter, page: int = 1, size: int = 50) -> Page[NotificationRow]:
        """Newest first."""
        attempts = (sa.select(sa.func.count()).select_from(delivery_attempts)
                    .where(delivery_attempts.c.notification_id == notifications.c.id).scalar_subquery())
        query = (sa.select(notifications.c.id, notifications.c.created_at, notifications.c.updated_at,
                           notifications.c.phone, notifications.c.order_id, notifications.c.event,
                           notifications.c.status, notifications.c.channel, notifications.c.result,
                           notifications.c.request_id, attempts.label("attempts"))
                 .where(*_conditions(where))
                 .order_by(notifications.c.created_at.desc(), notifications.c.id.desc()))
        return self._page(query, page, size, _notification_row)

    def sent_by_channel(self, since: datetime) -> dict[Channel, int]:
        """Messages each messenger accepted from ``since`` on (what Viber bills past its free quota)."""
        query = (sa.select(delivery_attempts.c.channel, sa.func.count())
                 .where(delivery_attempts.c.outcome == AttemptOutcome.SENT.value,
                        delivery_attempts.c.created_at >= since)
                 .group_by(delivery_attempts.c.channel))
        with self._engine.connect() as connection:
            found = {Channel(channel): int(count) for channel, count in connection.execute(query)}
        return {channel: found.get(channel, 0) for channel in Channel}

    def billed_since(self, channel: Channel, currency: str, since: datetime) -> BilledSends:
        """Sends ``channel`` billed in ``currency`` from ``since`` on (Telegram's paid broadcasts: ``XTR``)."""
        attempts = delivery_attempts.c
        query = (sa.select(sa.func.count(), sa.func.sum(attempts.price_amount))
                 .where(attempts.channel == channel.value, attempts.price_currency == currency,
                        attempts.created_at >= since))
        with self._engine.connect() as connection:
            messages, amount = connection.execute(query).one()
        return BilledSends(int(messages), Decimal(amount or 0))

    def failed_since(self, since: datetime) -> int:
        query = (sa.select(sa.func.count()).select_from(notifications)
                 .where(notifications.c.status == NotificationStatus.FAILED.value,
                        notifications.c.created_at >= since))
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def status_counts(self) -> dict[NotificationStatus, int]:
        query = sa.select(notifications.c.status, sa.func.count()).group_by(notifications.c.status)
        with self._engine.connect() as connection:
            found = {NotificationStatus(status): int(count) for status, count in connection.execute(query)}
        return {status: found.get(status, 0) for status in NotificationStatus}

    def outcomes_per_hour(self, first_hour: datetime, hours: int) -> list[HourOutcomes]:
        """Every hour from ``first_hour`` on, an hour with nothing in it included as zeros."""
        window = _hours(first_hour, hours)
        attempts, failed = delivery_attempts.c, notifications.c
        sent = (sa.select(self._utc_hour(attempts.created_at).label("hour"), attempts.channel.label("series"))
                .where(attempts.outcome == AttemptOutcome.SENT.value, *_within(attempts.created_at, window, _HOUR)))
        failures = (sa.select(self._utc_hour(failed.created_at).label("hour"), sa.literal("failed").label("series"))
                    .where(failed.status == NotificationStatus.FAILED.value,
                           *_within(failed.created_at, window, _HOUR)))
        rows = sa.union_all(sent, failures).subquery()
        query = sa.select(rows.c.hour, rows.c.series, sa.func.count()).group_by(rows.c.hour, rows.c.series)
        with self._engine.connect() as connection:
            counts = {(hour, series): int(count) for hour, series, count in connection.execute(query)}
        return [HourOutcomes(hour, {channel: counts.get((key, channel.value), 0) for channel in Channel},
                             counts.get((key, "failed"), 0)) for hour, key in window]

    def time_to_deliver_per_hour(self, first_hour: datetime, hours: int) -> list[HourDeliveryTimes]:
        """Every hour from ``first_hour`` on; p50 and p95 of the messages a messenger accepted in it."""
        window = _hours(first_hour, hours)
        attempts = delivery_attempts.c
        took = (sa.select(self._utc_hour(attempts.created_at).label("hour"),
                          self._seconds_between(notifications.c.created_at, attempts.created_at).label("seconds"))
                .join_from(delivery_attempts, notifications, notifications.c.id == attempts.notification_id)
                .where(attempts.outcome == AttemptOutcome.SENT.value, *_within(attempts.created_at, window, _HOUR))
                .subquery())
        ranked = sa.select(
            took.c.hour, took.c.seconds,
            sa.func.row_number().over(partition_by=took.c.hour, order_by=took.c.seconds).label("rank"),
            sa.func.count().over(partition_by=took.c.hour).label("deliveries")).subquery()

        def percentile(percent: int) -> sa.ColumnElement[Any]:
            # Nearest rank: the smallest value whose rank reaches percent% of the hour's count (integers, no rounding).
            return sa.func.min(sa.case((ranked.c.rank * 100 >= percent * ranked.c.deliveries, ranked.c.seconds)))

        query = (sa.select(ranked.c.hour, sa.func.max(ranked.c.deliveries), percentile(50), percentile(95))
                 .group_by(ranked.c.hour))
        with self._engine.connect() as connection:
            found = {hour: (int(count), float(p50), float(p95)) for hour, count, p50, p95 in connection.execute(query)}
        return [HourDeliveryTimes(hour, *found.get(key, (0, None, None))) for hour, key in window]

    def viber_per_day(self, first_day: datetime, days: int) -> list[DayViber]:
        """Every day from ``first_day`` on, a day with nothing sent included as zeros."""
        window = _days(first_day, days)
        attempts = delivery_attempts.c
        sent = (sa.select(self._utc_day(attempts.created_at).label("day"), attempts.billing, attempts.price_currency,
                          attempts.price_amount)
                .where(attempts.channel == Channel.VIBER.value, attempts.outcome == AttemptOutcome.SENT.value,
                       *_within(attempts.created_at, window, _DAY))
                .subquery())
        query = (sa.select(sent.c.day, sent.c.billing, sent.c.price_currency, sa.func.count(),
                           sa.func.sum(sent.c.price_amount))
                 .group_by(sent.c.day, sent.c.billing, sent.c.price_currency))
        counts: dict[tuple[str, Billing | None], int] = {}
        spent: dict[str, dict[str, Decimal]] = {}
        with self._engine.connect() as connection:
            for day, billing, currency, count, amount in connection.execute(query):
                key = (day, None if billing is None else Billing(billing))
                counts[key] = counts.get(key, 0) + int(count)
                if currency is not None and amount is not None:
                    day_spent = spent.setdefault(day, {})
                    day_spent[currency] = day_spent.get(currency, Decimal(0)) + Decimal(amount)
        return [DayViber(day, {billing: counts.get((key, billing), 0) for billing in (*Billing, None)},
                         spent.get(key, {})) for day, key in window]

    def _utc_hour(self, moment: sa.ColumnElement[datetime]) -> sa.ColumnElement[str]:
        """``YYYY-MM-DD HH`` of a stored time in UTC; SQLite stores UTC text that begins so."""
        return self._utc_text(moment, "YYYY-MM-DD HH24", 13)

    def _utc_day(self, moment: sa.ColumnElement[datetime]) -> sa.ColumnElement[str]:
        return self._utc_text(moment, "YYYY-MM-DD", 10)

    def _utc_text(self, moment: sa.ColumnElement[datetime], postgres_format: str, sqlite_length: int
                  ) -> sa.ColumnElement[str]:
        if self._postgres:
            return sa.func.to_char(sa.func.timezone(sa.literal_column("'UTC'"), moment),
                                   sa.literal_column(f"'{postgres_format}'"), type_=sa.String)
        return sa.func.substr(moment, 1, sqlite_length, type_=sa.String)

    def _seconds_between(self, start: sa.ColumnElement[datetime], end: sa.ColumnElement[datetime]
                         ) -> sa.ColumnElement[float]:
        if self._postgres:
            # EXTRACT is typed an integer; epoch seconds carry a fraction. type_coerce leaves the SQL as is.
            return sa.type_coerce(sa.extract("epoch", end.op("-")(start)), sa.Float)
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0

    def contacts(self, phone_digits: str | None = None, page: int = 1, size: int = 50) -> Page[ContactRow]:
        """Newest first; ``phone_digits`` keeps the customers whose number holds those digits."""
        query = sa.select(contacts).order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
        if phone_digits:
            query = query.where(contacts.c.phone.like(f"%{_digits(phone_digits)}%"))
        return self._page(query, page, size, _contact_row)

    def contact(self, contact_id: int) -> ContactRow | None:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
        return None if row is None else _contact_row(row)

    def _page(self, query: sa.Select[Any], page: int, size: int, convert: Callable[[Any], T]) -> Page[T]:
        page = max(1, page)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(size + 1).offset((page - 1) * size)).all()
        return Page([convert(row) for row in rows[:size]], page, size, len(rows) > size)


def _conditions(where: NotificationFilter) -> list[sa.ColumnElement[bool]]:
    columns = notifications.c
    conditions: list[sa.ColumnElement[bool]] = []
    if where.status is not None:
        conditions.append(columns.status == where.status.value)
    if where.channel is not None:
        conditions.append(columns.channel == where.channel.value)
    if where.since is not None:
        conditions.append(columns.created_at >= where.since)
    if where.until is not None:
        conditions.append(columns.created_at < where.until)
    if where.phone is not None:
        conditions.append(columns.phone == where.phone)
    if where.phone_digits:
        conditions.append(columns.phone.like(f"%{_digits(where.phone_digits)}%"))
    if where.contact_id is not None:
        conditions.append(columns.contact_id == where.contact_id)
    if where.request_id is not None:
        conditions.append(columns.request_id == where.request_id)
    return conditions


_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)


def _hours(first_hour: datetime, count: int) -> list[tuple[datetime, str]]:
    """Each hour of a window as its start and as the text ``_utc_hour`` groups it by."""
    start = first_hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [(start + _HOUR * n, (start + _HOUR * n).strftime("%Y-%m-%d %H")) for n in range(count)]


def _days(first_day: datetime, count: int) -> list[tuple[datetime, str]]:
    """Each day of a window as its start and as the text ``_utc_day`` groups it by."""
    start = first_day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [(start + _DAY * n, (start + _DAY * n).strftime("%Y-%m-%d")) for n in range(count)]


def _within(moment: sa.ColumnElement[datetime], window: list[tuple[datetime, str]], step: timedelta
            ) -> list[sa.ColumnElement[bool]]:
    return [moment >= window[0][0], moment < window[-1][0] + step]


def _digits(text: str) -> str:
    """Only digits reach a LIKE pattern, so ``%`` and ``_`` typed in a search match nothing special."""
    return "".join(ch for ch in text if ch.isdigit())


def _notification_row(row: Any) -> NotificationRow:
    return NotificationRow(
        id=row.id, created_at=row.created_at, updated_at=row.updated_at, phone=row.phone, order_id=row.order_id,
        event=row.event, status=NotificationStatus(row.status),
        channel=None if row.channel is None else Channel(row.channel), result=row.result,
        attempts=int(row.attempts), request_id=row.request_id)


def _contact_row(row: Any) -> ContactRow:
    return ContactRow(
        id=row.id, phone=row.phone, first_name=row.first_name, last_name=row.last_name, language=row.language,
        phone_verified=bool(row.phone_verified),
        telegram=None if row.telegram_chat_id is None else ChannelState(row.telegram_state),
        viber=None if row.viber_user_id is None else ChannelState(row.viber_state),
        created_at=row.created_at)
