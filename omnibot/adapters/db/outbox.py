"""The ``CallbackOutbox`` port over the ``status_callbacks`` table, claimed like the queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db.tables import status_callbacks
from omnibot.ports import CallbackJob


class SqlCallbackOutbox:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def add(self, notification_id: str, url: str, body: str) -> None:
        now = self._now()
        with self._engine.begin() as connection:
            connection.execute(status_callbacks.insert().values(
                notification_id=notification_id, url=url, body=body, attempts=0,
                next_attempt_at=now, created_at=now))

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]:
        # Moving next_attempt_at forward is the lease: a worker that dies leaves the job due again.
        now = self._now()
        due = (sa.select(status_callbacks.c.id).where(status_callbacks.c.next_attempt_at <= now)
               .order_by(status_callbacks.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True))
        claim = (status_callbacks.update().where(status_callbacks.c.id.in_(due.scalar_subquery()))
                 .values(next_attempt_at=now + timedelta(seconds=lease_seconds),
                         attempts=status_callbacks.c.attempts + 1)
                 .returning(status_callbacks.c.id, status_callbacks.c.notification_id, status_callbacks.c.url,
                            status_callbacks.c.body, status_callbacks.c.attempts))
        with self._engine.begin() as connection:
            return [CallbackJob(*row) for row in connection.execute(claim)]

    def done(self, job_id: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(status_callbacks.delete().where(status_callbacks.c.id == job_id))

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        at = None if delay_seconds is None else self._now() + timedelta(seconds=delay_seconds)
        with self._engine.begin() as connection:
            connection.execute(status_callbacks.update().where(status_callbacks.c.id == job_id)
                               .values(next_attempt_at=at, last_error=error[:1000]))
