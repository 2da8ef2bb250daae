"""Link tokens and the processed-updates log over SQLAlchemy Core."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from omnibot.adapters.db import rows
from omnibot.adapters.db.tables import link_tokens, processed_updates
from omnibot.domain.model import Channel, LinkToken
from omnibot.ports import BotReply


class SqlLinkTokenRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, token: LinkToken) -> None:
        with self._engine.begin() as connection:
            connection.execute(link_tokens.insert().values(
                token_hash=token.token_hash, phone=token.phone, order_id=token.order_id,
                expires_at=token.expires_at, created_at=token.created_at))

    def get(self, token_hash: str) -> LinkToken | None:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(link_tokens).where(link_tokens.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return LinkToken(token_hash=row.token_hash, phone=row.phone, order_id=row.order_id,
                         expires_at=row.expires_at, used_at=row.used_at,
                         used_by_contact_id=row.used_by_contact_id, created_at=row.created_at)

    def use(self, token_hash: str, contact_id: int, at: datetime) -> bool:
        # Conditional on "not used yet": of two accounts racing for one link, one wins.
        with self._engine.begin() as connection:
            result = connection.execute(
                link_tokens.update()
                .where(link_tokens.c.token_hash == token_hash, link_tokens.c.used_at.is_(None))
                .values(used_at=at, used_by_contact_id=contact_id))
        return result.rowcount == 1

    def contacts_for_order(self, order_id: str) -> list[int]:
        with self._engine.connect() as connection:
            return [row[0] for row in connection.execute(
                sa.select(link_tokens.c.used_by_contact_id)
                .where(link_tokens.c.order_id == order_id, link_tokens.c.used_by_contact_id.is_not(None))
                .order_by(link_tokens.c.used_at.desc()))]

    def delete_for_phone(self, phone: str) -> int:
        with self._engine.begin() as connection:
            return int(connection.execute(link_tokens.delete().where(link_tokens.c.phone == phone)).rowcount)


# Built once: a webhook update runs them all, and building a statement costs more than running it.
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
