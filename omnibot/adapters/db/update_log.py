"""The webhook updates already handled, each with the reply kept for a redelivery."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from omnibot.adapters.db import rows
from omnibot.adapters.db.tables import processed_updates
from omnibot.domain.model import Channel
from omnibot.ports import BotReply

_THIS_UPDATE = (processed_updates.c.channel == sa.bindparam("of_channel"),
                processed_updates.c.update_key == sa.bindparam("of_key"))
_KEEP_REPLY = processed_updates.update().where(*_THIS_UPDATE).values(reply=sa.bindparam("reply"))
_KEPT_REPLY = sa.select(processed_updates.c.reply).where(*_THIS_UPDATE)


@functools.cache
def _claim(dialect: str) -> sa.Insert:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(processed_updates)
    return (insert.values({name: sa.bindparam(name, type_=processed_updates.c[name].type)
                           for name in ("channel", "update_key", "created_at")})
            .on_conflict_do_nothing().returning(processed_updates.c.update_key))


class SqlUpdateLog:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def claim(self, channel: Channel, key: str) -> bool:
        # The primary key makes a concurrent redelivery wait for this transaction, then find the row.
        with self._engine.begin() as connection:
            return connection.execute(_claim(connection.dialect.name), {
                "channel": channel.value, "update_key": key, "created_at": self._now()}).first() is not None

    def keep_reply(self, channel: Channel, key: str, reply: BotReply) -> None:
        with self._engine.begin() as connection:
            connection.execute(_KEEP_REPLY, {"of_channel": channel.value, "of_key": key,
                                             "reply": rows.reply_text(reply)})

    def reply_to(self, channel: Channel, key: str) -> BotReply | None:
        with self._engine.connect() as connection:
            kept = connection.execute(_KEPT_REPLY, {"of_channel": channel.value, "of_key": key}).scalar()
        return None if kept is None else rows.reply_from_text(channel.value, kept)

    def forget_before(self, before: datetime) -> int:
        with self._engine.begin() as connection:
            return int(connection.execute(
                processed_updates.delete().where(processed_updates.c.created_at < before)).rowcount)
