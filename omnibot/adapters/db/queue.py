"""The ``DeliveryQueue`` port over the notifications table: leases, ``SKIP LOCKED``, wake-ups.

On PostgreSQL a claim is ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``, so any
number of workers take disjoint batches without waiting on each other, and every enqueue sends
``NOTIFY omnibot_queue`` in the statement that inserts the row (delivered at commit, when the row
is visible). SQLite serialises writers, so the same UPDATE is atomic there without the lock clause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from omnibot.adapters.db import rows
from omnibot.adapters.db.engine import reading
from omnibot.adapters.db.errors import translate
from omnibot.adapters.db.reconnect import once_more_if_disconnected
from omnibot.adapters.db.tables import delivery_attempts, notifications, status_callbacks
from omnibot.domain.errors import IdempotencyConflict
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Priority,
)

WAKEUP_CHANNEL = "omnibot_queue"
# One UPDATE for a batch of passes (executemany), the rows locked by the SELECT before it.
_END_LEASE = (notifications.update().where(notifications.c.id == sa.bindparam("pass_id"))
              .values(lease_owner=None, lease_until=None))
# An accepted notification on PostgreSQL: the INSERT and the worker's wake-up in one statement, run
# in autocommit (one round trip where BEGIN, INSERT, NOTIFY, COMMIT took four). Every column a bound
# parameter, built once: SQLAlchemy compiles it once and reuses it for every request.
_INTAKE = sa.select(sa.func.pg_notify(sa.bindparam("wakeup_channel", WAKEUP_CHANNEL, type_=sa.String),
                                      sa.literal_column("''"))).select_from(
    notifications.insert().values({column.name: sa.bindparam(column.name, type_=column.type)
                                   for column in notifications.c})
    .returning(notifications.c.id).cte("inserted"))


class SqlDeliveryQueue:
    def __init__(self, engine: Engine, now: Callable[[], datetime],
                 on_enqueue: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._now = now
        self._postgres = engine.dialect.name == "postgresql"
        self._on_enqueue = on_enqueue

    def enqueue(
        self, notification: Notification, idempotency_key: str | None = None,
        fingerprint: str | None = None, lease_owner: str | None = None, lease_seconds: float = 0,
    ) -> tuple[Notification, bool]:
        now = self._now()
        notification.created_at = notification.created_at or now
        notification.updated_at = notification.updated_at or now
        notification.next_attempt_at = notification.next_attempt_at or now
        leased = lease_owner is not None
        notification.status = NotificationStatus.SENDING if leased else NotificationStatus.QUEUED
        values: dict[str, Any] = {
            **rows.notification_request(notification),
            **rows.notification_progress(notification),
            "idempotency_key": idempotency_key,
            "request_fingerprint": fingerprint,
            "lease_owner": lease_owner,
            "lease_until": now + timedelta(seconds=lease_seconds) if leased else None,
        }
        try:
            # Safe to run twice: the id, chosen above, is the primary key, so no second row. Whether
            # a statement that failed on a lost connection had run, we cannot tell. Usually it had
            # not (a connection that died idle in the pool). If it had (lost between the commit and
            # its answer), the second run finds the id taken: with an idempotency key the caller
            # gets the stored notification, without one a conflict, no worse than the lost
            # connection it would get with no second run.
            once_more_if_disconnected(lambda: self._insert(values, wake=self._postgres and not leased))
        except IntegrityError as exc:
            if idempotency_key is None:
                raise translate(exc, "notification") from exc
            return self._replay(idempotency_key, fingerprint), False
        if self._on_enqueue is not None and not leased:
            self._on_enqueue()
        return notification, True

    def _insert(self, values: dict[str, Any], wake: bool) -> None:
        if wake:
            with self._engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(_INTAKE, values)
            return
        with self._engine.begin() as connection:
            # As parameters, not .values(values): SQLAlchemy then reuses the compiled INSERT
            # instead of building a statement and coercing 20 values on every request.
            connection.execute(notifications.insert(), values)

    def _replay(self, idempotency_key: str, fingerprint: str | None) -> Notification:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(notifications).where(notifications.c.idempotency_key == idempotency_key)
            ).first()
            if row is None:  # the key's owner was purged between our insert and this read
                raise IdempotencyConflict()
            if row.request_fingerprint != fingerprint:
                raise IdempotencyConflict()
            return _with_attempts(connection, [row])[0]

    def claim(self, owner: str, limit: int, lease_seconds: float, bulk_limit: int | None = None) -> list[Notification]:
        now = self._now()
        claim = (notifications.update().where(notifications.c.id.in_(_claim_order(now, limit, bulk_limit)))
                 .values(status=NotificationStatus.SENDING.value, lease_owner=owner,
                         lease_until=now + timedelta(seconds=lease_seconds))
                 .returning(*notifications.c))
        with self._engine.begin() as connection:
            claimed = sorted(connection.execute(claim).all(), key=_claim_rank)
            return _with_attempts(connection, claimed)

    def reschedule(self, notification: Notification, owner: str) -> bool:
        notification.status = NotificationStatus.QUEUED
        return self.end_passes([(notification, owner)])[0]

    def complete(self, notification: Notification, owner: str) -> bool:
        return self.end_passes([(notification, owner)])[0]

    def end_passes(self, passes: Sequence[tuple[Notification, str]]) -> list[bool]:
        """End many passes in one transaction (``complete`` or ``reschedule`` as their status says):
        every attempt in one multi-row INSERT, the outcomes in one executemany UPDATE, the status
        callbacks of the passes that held their lease in one INSERT. Per pass, whether its owner
        still held the lease; the attempts are written either way."""
        now = self._now()
        for notification, _ in passes:
            notification.updated_at = now
        attempts = [{"notification_id": notification.id, **rows.attempt_values(attempt),
                     "created_at": attempt.created_at or now}
                    for notification, _ in passes for attempt in notification.unsaved_attempts]
        try:
            with self._engine.begin() as connection:
                if self._postgres:
                    held = _end_passes_postgres(connection, passes, attempts)
                else:
                    if attempts:
                        connection.execute(delivery_attempts.insert(), attempts)
                    held = _end_leases(connection, passes)
                callbacks = [{"notification_id": notification.id, "url": notification.unsaved_callback.url,
                              "body": notification.unsaved_callback.body, "attempts": 0, "next_attempt_at": now,
                              "created_at": now}
                             for notification, _ in passes
                             if notification.id in held and notification.unsaved_callback is not None]
                if callbacks:
                    connection.execute(status_callbacks.insert(), callbacks)
        except IntegrityError as exc:  # a pass naming a contact erased meanwhile: the batch is refused whole
            raise translate(exc, "notification") from exc
        for notification, _ in passes:
            notification.unsaved_attempts.clear()
            notification.unsaved_callback = None
        return [notification.id in held for notification, _ in passes]

    def release(self, notification_ids: Sequence[str], owner: str) -> int:
        if not notification_ids:
            return 0
        with self._engine.begin() as connection:
            result = connection.execute(
                notifications.update()
                .where(notifications.c.id.in_(list(notification_ids)),
                       notifications.c.lease_owner == owner,
                       notifications.c.status == NotificationStatus.SENDING.value)
                .values(status=NotificationStatus.QUEUED.value, lease_owner=None, lease_until=None)
            )
        return int(result.rowcount)

    def record_receipt(self, channel: Channel, provider_message_id: str,
                       status: NotificationStatus) -> Notification | None:
        earlier = [s.value for s in status.moved_from_by_receipt()]
        with self._engine.begin() as connection:
            notification_id = self._sent_as(connection, channel, provider_message_id)
            if notification_id is None:
                return None
            connection.execute(
                notifications.update()
                .where(notifications.c.id == notification_id, notifications.c.status.in_(earlier))
                .values(status=status.value, updated_at=self._now())
            )
            row = connection.execute(
                sa.select(notifications).where(notifications.c.id == notification_id)).one()
            return _with_attempts(connection, [row])[0]

    def record_undelivered(self, channel: Channel, provider_message_id: str, error: str,
                           result: str) -> Notification | None:
        with self._engine.begin() as connection:
            notification_id = self._sent_as(connection, channel, provider_message_id)
            if notification_id is None:
                return None
            now = self._now()
            changed = connection.execute(
                notifications.update()
                .where(notifications.c.id == notification_id,
                       notifications.c.status == NotificationStatus.SENT.value)
                .values(status=NotificationStatus.FAILED.value, result=result, updated_at=now)
            ).rowcount
            if not changed:
                return None
            undelivered = DeliveryAttempt(channel, AttemptOutcome.PERMANENT_FAILURE, error=error,
                                          provider_message_id=provider_message_id, created_at=now)
            connection.execute(delivery_attempts.insert().values(
                notification_id=notification_id, **rows.attempt_values(undelivered)))
            row = connection.execute(
                sa.select(notifications).where(notifications.c.id == notification_id)).one()
            return _with_attempts(connection, [row])[0]

    @staticmethod
    def _sent_as(connection: Connection, channel: Channel, provider_message_id: str) -> str | None:
        """The notification a messenger knows by ``provider_message_id``."""
        found: str | None = connection.execute(
            sa.select(delivery_attempts.c.notification_id)
            .where(delivery_attempts.c.channel == channel.value,
                   delivery_attempts.c.provider_message_id == provider_message_id)
            .limit(1)
        ).scalar()
        return found

    def get(self, notification_id: str) -> Notification | None:
        return once_more_if_disconnected(lambda: self._get(notification_id))

    def _get(self, notification_id: str) -> Notification | None:
        with reading(self._engine) as connection:
            row = connection.execute(sa.select(notifications).where(notifications.c.id == notification_id)).first()
            return None if row is None else _with_attempts(connection, [row])[0]

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        conditions = []
        if phone:
            conditions.append(notifications.c.phone == phone)
        if contact_id is not None:
            conditions.append(notifications.c.contact_id == contact_id)
        if not conditions:
            return 0
        with self._engine.begin() as connection:
            return int(connection.execute(
                notifications.update().where(sa.or_(*conditions))
                .values(phone=None, order_id=None, items=[], text=None, contact_id=None, callback_url=None)
            ).rowcount)

    def forget_idempotency_keys(self, older_than: datetime) -> int:
        """Drop keys past their retention, so the same key may name a new request again."""
        with self._engine.begin() as connection:
            result = connection.execute(
                notifications.update()
                .where(notifications.c.idempotency_key.is_not(None),
                       notifications.c.created_at < older_than)
                .values(idempotency_key=None, request_fingerprint=None)
            )
        return int(result.rowcount)

    def depth(self) -> tuple[int, datetime | None]:
        """How many notifications wait, and since when the oldest has been waiting."""
        with self._engine.connect() as connection:
            count, oldest = connection.execute(
                sa.select(sa.func.count(), sa.func.min(notifications.c.created_at))
                .where(notifications.c.status.in_([NotificationStatus.QUEUED.value,
                                                   NotificationStatus.SENDING.value]))
            ).one()
        return int(count), oldest  # min() keeps the column's type: a UTC datetime or None


def _claim_order(now: datetime, limit: int, bulk_limit: int | None) -> sa.Select[Any]:
    """The ids of the next ``limit`` due notifications, lane by lane: high, leases run out, normal,
    bulk. Each lane is an index range read in order and locked as it is read (``SKIP LOCKED``), and
    the lanes are read one after the other only until ``limit`` rows are found: a claim reads the
    same few rows whether the queue holds ten bulk notifications or a million."""
    c = notifications.c

    def queued(priority: Priority, lane_limit: int) -> sa.Select[Any]:
        return (sa.select(c.id).where(c.status == NotificationStatus.QUEUED.value, c.priority == priority.rank,
                                      c.next_attempt_at <= now)
                .order_by(c.next_attempt_at).limit(lane_limit).with_for_update(skip_locked=True))

    stale = (sa.select(c.id).where(c.status == NotificationStatus.SENDING.value, c.lease_until < now)
             .order_by(c.lease_until).limit(limit).with_for_update(skip_locked=True))
    lanes = [queued(Priority.HIGH, limit), stale, queued(Priority.NORMAL, limit)]
    bulk = limit if bulk_limit is None else min(limit, bulk_limit)
    if bulk > 0:
        lanes.append(queued(Priority.BULK, bulk))
    # A FOR UPDATE may not apply to a UNION: each lane is a subquery of its own.
    subqueries = [lane.subquery() for lane in lanes]
    ordered = sa.union_all(*(sa.select(lane.c.id) for lane in subqueries)).subquery()
    return sa.select(ordered.c.id).limit(limit)


def _claim_rank(row: Any) -> tuple[int, datetime]:
    return row.priority, row.next_attempt_at


def _end_leases(connection: Connection, passes: Sequence[tuple[Notification, str]]) -> set[str]:
    """Write each outcome whose pass still holds its lease and end that lease; the ids written."""
    held = set(connection.execute(
        sa.select(notifications.c.id)
        .where(sa.tuple_(notifications.c.id, notifications.c.lease_owner).in_(
            [(notification.id, owner) for notification, owner in passes]))
        .with_for_update()).scalars())
    outcomes = [{"pass_id": notification.id, **rows.notification_progress(notification)}
                for notification, _ in passes if notification.id in held]
    if outcomes:
        connection.execute(_END_LEASE, outcomes)
    return held


# On PostgreSQL a batch of passes is two statements whatever its size, the rows passed as arrays
# and unnested: the text never changes, so neither SQLAlchemy nor psycopg parses it again (psycopg
# prepares it on the server after a few runs), and a batch's outcomes need no SELECT … FOR UPDATE
# first: the UPDATE's own lease condition, re-checked on each row it locks, is the test.
_INSERT_ATTEMPTS = """
INSERT INTO delivery_attempts (notification_id, channel, outcome, error, provider_message_id, created_at,
                               price_amount, price_currency, billing)
SELECT * FROM unnest(%(notification_id)s::varchar[], %(channel)s::varchar[], %(outcome)s::varchar[],
                     %(error)s::text[], %(provider_message_id)s::varchar[], %(created_at)s::timestamptz[],
                     %(price_amount)s::numeric[], %(price_currency)s::varchar[], %(billing)s::varchar[])
"""
_END_PASSES = """
UPDATE notifications AS n
SET status = o.status, channel = o.channel, contact_id = o.contact_id, result = o.result,
    updated_at = o.updated_at, next_attempt_at = o.next_attempt_at, lease_owner = NULL, lease_until = NULL
FROM unnest(%(id)s::varchar[], %(status)s::varchar[], %(channel)s::varchar[], %(contact_id)s::integer[],
            %(result)s::text[], %(updated_at)s::timestamptz[], %(next_attempt_at)s::timestamptz[])
     AS o(id, status, channel, contact_id, result, updated_at, next_attempt_at)
WHERE n.id = o.id AND n.lease_owner = %(owner)s
RETURNING n.id
"""
_ATTEMPT_COLUMNS = ("notification_id", "channel", "outcome", "error", "provider_message_id", "created_at",
                    "price_amount", "price_currency", "billing")


def _end_passes_postgres(connection: Connection, passes: Sequence[tuple[Notification, str]],
                         attempts: list[dict[str, Any]]) -> set[str]:
    if attempts:
        connection.exec_driver_sql(_INSERT_ATTEMPTS, {column: [a[column] for a in attempts]
                                                      for column in _ATTEMPT_COLUMNS})
    held: set[str] = set()
    for owner in {owner for _, owner in passes}:  # one owner a process: one statement
        progress = [{"id": n.id, **rows.notification_progress(n)} for n, pass_owner in passes if pass_owner == owner]
        arrays: dict[str, Any] = {column: [p[column] for p in progress] for column in progress[0]}
        held.update(connection.exec_driver_sql(_END_PASSES, {**arrays, "owner": owner}).scalars())
    return held


def _with_attempts(connection: Connection, claimed: Sequence[Any]) -> list[Notification]:
    if not claimed:
        return []
    ids = [row.id for row in claimed]
    found: dict[str, list[Any]] = {notification_id: [] for notification_id in ids}
    for attempt in connection.execute(
        sa.select(delivery_attempts).where(delivery_attempts.c.notification_id.in_(ids))
        .order_by(delivery_attempts.c.created_at, delivery_attempts.c.id)
    ):
        found[attempt.notification_id].append(rows.attempt(attempt))
    return [rows.notification(row, found[row.id]) for row in claimed]
