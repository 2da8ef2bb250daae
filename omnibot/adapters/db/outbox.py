"""The outboxes: status callbacks to the shop and bot replies to customers, each a table the
workers claim like the queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db import rows
from omnibot.adapters.db.tables import bot_replies, status_callbacks
from omnibot.ports import BotReply, CallbackJob, ReplyJob


class _ClaimedOutbox:
    """Rows due at ``next_attempt_at``; ``None`` there means given up (kept for operators)."""

    def __init__(self, table: sa.Table, engine: Engine, now: Callable[[], datetime]) -> None:
        self._table = table
        self._engine = engine
        self._now = now

    def _insert(self, values: dict[str, Any]) -> None:
        now = self._now()
        with self._engine.begin() as connection:
            connection.execute(self._table.insert(), {**values, "attempts": 0, "next_attempt_at": now,
                                                      "created_at": now})

    def _claim(self, limit: int, lease_seconds: float, columns: Sequence[sa.Column[Any]]) -> list[sa.Row[Any]]:
        # Moving next_attempt_at forward is the lease: a worker that dies leaves the job due again.
        table, now = self._table, self._now()
        due = (sa.select(table.c.id).where(table.c.next_attempt_at <= now)
               .order_by(table.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True))
        claim = (table.update().where(table.c.id.in_(due.scalar_subquery()))
                 .values(next_attempt_at=now + timedelta(seconds=lease_seconds), attempts=table.c.attempts + 1)
                 .returning(table.c.id, *columns, table.c.attempts))
        with self._engine.begin() as connection:
            return list(connection.execute(claim))

    def done(self, job_id: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(self._table.delete().where(self._table.c.id == job_id))

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        at = None if delay_seconds is None else self._now() + timedelta(seconds=delay_seconds)
        with self._engine.begin() as connection:
            connection.execute(self._table.update().where(self._table.c.id == job_id)
                               .values(next_attempt_at=at, last_error=error[:1000]))

    def postpone(self, job_id: int, delay_seconds: float) -> None:
        """Due again in ``delay_seconds``, the claim not counted as a try."""
        table = self._table
        with self._engine.begin() as connection:
            connection.execute(table.update().where(table.c.id == job_id).values(
                next_attempt_at=self._now() + timedelta(seconds=delay_seconds), attempts=table.c.attempts - 1))


class SqlCallbackOutbox(_ClaimedOutbox):
    """The ``CallbackOutbox`` port over the ``status_callbacks`` table."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        super().__init__(status_callbacks, engine, now)

    def add(self, notification_id: str, url: str, body: str) -> None:
        self._insert({"notification_id": notification_id, "url": url, "body": body})

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]:
        columns = (status_callbacks.c.notification_id, status_callbacks.c.url, status_callbacks.c.body)
        return [CallbackJob(id=row.id, notification_id=row.notification_id, url=row.url, body=row.body,
                            attempts=row.attempts)
                for row in self._claim(limit, lease_seconds, columns)]


class SqlReplyOutbox(_ClaimedOutbox):
    """The ``ReplyOutbox`` port over the ``bot_replies`` table."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        super().__init__(bot_replies, engine, now)

    def add(self, reply: BotReply) -> None:
        self._insert({"channel": reply.channel.value, "address": reply.address,
                      "message": rows.message_text(reply.message)})

    def claim(self, limit: int, lease_seconds: float) -> list[ReplyJob]:
        columns = (bot_replies.c.channel, bot_replies.c.address, bot_replies.c.message)
        return [ReplyJob(row.id, rows.bot_reply(row.channel, row.address, row.message), row.attempts)
                for row in self._claim(limit, lease_seconds, columns)]

    def forget_given_up(self, before: datetime) -> int:
        """Delete the replies given up on that were written before ``before``."""
        with self._engine.begin() as connection:
            return int(connection.execute(bot_replies.delete().where(
                bot_replies.c.next_attempt_at.is_(None), bot_replies.c.created_at < before)).rowcount)
