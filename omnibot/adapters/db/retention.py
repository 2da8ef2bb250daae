"""Retention: finished notifications past ``NOTIFICATION_RETENTION_DAYS`` are deleted with their
delivery attempts and status callbacks, one small batch per transaction.

A notification goes when it is final (sent, delivered, seen, failed), no worker holds its lease,
it was created and last changed before the cut-off, and none of its status callbacks still waits
to be sent. The outbox deletes a callback once the shop took it; one it gave up on stays, with
``next_attempt_at`` NULL, and goes with its notification. Contacts are never touched here.

Each batch is one short transaction: on PostgreSQL its rows are taken ``FOR UPDATE SKIP LOCKED``,
so retention never waits on a notification another transaction holds (a late Viber receipt, say):
that one is left for the next run. On SQLite the batch takes the write lock first (``BEGIN
IMMEDIATE``), so what it selected cannot change before it deletes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from omnibot.adapters.db.tables import delivery_attempts, notifications, status_callbacks
from omnibot.domain.model import NotificationStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# The worker stops claiming while housekeeping runs, so a run stops after this long; a backlog
# (the first run on a database that kept everything) is worked off over many runs.
BUDGET_SECONDS = 2.0
# After each batch, rest this many times as long as it took: deleting writes and later vacuums
# much, and intake shares the database (the pacing of autovacuum's cost delay, in time).
REST_RATIO = 3.0
FINAL_STATUSES = [status.value for status in NotificationStatus if status.is_final]


@dataclass(frozen=True)
class Purged:
    """How many rows of each table one purge deleted."""

    notifications: int = 0
    attempts: int = 0
    callbacks: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(self.notifications + other.notifications, self.attempts + other.attempts,
                      self.callbacks + other.callbacks)


class SqlRetention:
    def __init__(self, engine: Engine, batch_size: int = BATCH_SIZE, budget_seconds: float = BUDGET_SECONDS,
                 rest_ratio: float = REST_RATIO, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._budget_seconds = budget_seconds
        self._rest_ratio = rest_ratio
        self._monotonic = monotonic
        self._sleep = sleep
        self._sqlite = engine.dialect.name == "sqlite"

    def purge(self, older_than: datetime) -> Purged:
        """Delete what finished before ``older_than``, a batch at a time with a rest after each, until
        nothing is left or the time budget is spent (the rest waits for the next run). At least one
        batch runs."""
        deadline = self._monotonic() + self._budget_seconds
        total = Purged()
        while True:
            began = self._monotonic()
            batch = self._purge_batch(older_than)
            total += batch
            ended = self._monotonic()
            rest = (ended - began) * self._rest_ratio
            # A short batch: nothing more is due, or the rest is locked by others for now.
            if batch.notifications < self._batch_size or ended + rest >= deadline:
                break
            self._sleep(rest)
        log.info("retention.deleted notifications=%d attempts=%d callbacks=%d",
                 total.notifications, total.attempts, total.callbacks)
        return total

    def _purge_batch(self, older_than: datetime) -> Purged:
        with self._engine.begin() as connection:
            if self._sqlite:
                # pysqlite would start the transaction at the first DELETE, after the SELECT.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            ids: list[str] = list(connection.execute(self._due(older_than)).scalars())
            if not ids:
                return Purged()
            return Purged(
                attempts=_delete(connection, delivery_attempts, delivery_attempts.c.notification_id, ids),
                # Only given-up callbacks are left: _due passes over a notification with one pending.
                callbacks=_delete(connection, status_callbacks, status_callbacks.c.notification_id, ids),
                notifications=_delete(connection, notifications, notifications.c.id, ids),
            )

    # Select[Any]: SQLAlchemy 2.0 spells one string column Select[tuple[str]], 2.1 Select[str].
    def _due(self, older_than: datetime) -> sa.Select[Any]:
        callback_pending = (sa.select(sa.literal(1))
                            .where(status_callbacks.c.notification_id == notifications.c.id,
                                   status_callbacks.c.next_attempt_at.is_not(None)))
        return (
            sa.select(notifications.c.id)
            .where(notifications.c.status.in_(FINAL_STATUSES),
                   # Nothing changes a notification before it exists: this takes nothing the
                   # updated_at test would keep, and lets the (status, created_at) index find them.
                   notifications.c.created_at < older_than,
                   notifications.c.updated_at < older_than,
                   notifications.c.lease_owner.is_(None),
                   ~callback_pending.exists())
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )


def _delete(connection: Connection, table: sa.Table, column: sa.Column[str], ids: Sequence[str]) -> int:
    return int(connection.execute(table.delete().where(column.in_(ids))).rowcount)
