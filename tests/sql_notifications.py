"""Notifications written straight into the tables, for tests that need them in a given state.

omnibot writes notifications only through the delivery queue (``SqlDeliveryQueue``: enqueue,
leases, pass endings, receipts). Tests seed a finished notification, an attempt of a given age,
a status the queue would take many passes to reach: this does that, and reads back through the
queue. ``InMemoryNotificationRepository`` (tests/fakes.py) is its twin in memory; the contract in
tests/integration/test_repository.py holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Connection, Engine

from omnibot.adapters.db import rows
from omnibot.adapters.db.errors import NotFound
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlRepository
from omnibot.adapters.db.tables import delivery_attempts, notifications
from omnibot.domain.model import DeliveryAttempt, Notification


class NotificationRepository(Protocol):
    """What tests seed and read notifications with: this module's class and its in-memory twin."""

    def add(self, notification: Notification) -> None: ...

    def update(self, notification: Notification) -> None: ...

    def add_attempt(self, notification_id: str, attempt: DeliveryAttempt) -> None: ...

    def get(self, notification_id: str) -> Notification | None: ...

    def anonymize(self, phone: str | None, contact_id: int | None) -> int: ...


class SqlNotificationRepository(SqlRepository):
    """``add`` fills a missing ``created_at``/``updated_at`` (and ``add_attempt`` a missing
    ``created_at``) with ``now()``, on the object passed in too."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(engine, now)
        self._queue = SqlDeliveryQueue(engine, self._now)

    def add(self, notification: Notification) -> None:
        now = self._now()
        notification.created_at = notification.created_at or now
        notification.updated_at = notification.updated_at or now
        with self._write("notification") as connection:
            connection.execute(notifications.insert().values(
                **rows.notification_request(notification),
                **rows.notification_progress(notification),
            ))
            for attempt in notification.attempts:
                _insert_attempt(connection, notification.id, attempt, now)

    def update(self, notification: Notification) -> None:
        """Save status, channel, contact_id, result and updated_at."""
        notification.updated_at = notification.updated_at or self._now()
        with self._write("notification") as connection:
            result = connection.execute(notifications.update().where(notifications.c.id == notification.id)
                                        .values(rows.notification_progress(notification)))
            if result.rowcount == 0:
                raise NotFound(f"notification {notification.id} does not exist")

    def add_attempt(self, notification_id: str, attempt: DeliveryAttempt) -> None:
        with self._write("delivery attempt") as connection:
            _insert_attempt(connection, notification_id, attempt, self._now())

    def get(self, notification_id: str) -> Notification | None:
        return self._queue.get(notification_id)

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        return self._queue.anonymize(phone, contact_id)


def _insert_attempt(connection: Connection, notification_id: str, attempt: DeliveryAttempt, now: datetime) -> None:
    attempt.created_at = attempt.created_at or now
    connection.execute(delivery_attempts.insert(), {"notification_id": notification_id,
                                                    **rows.attempt_values(attempt)})
