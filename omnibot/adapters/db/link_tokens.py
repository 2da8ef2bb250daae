"""The signed deep links' tokens: issued once, used once, forgotten when they expire."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot.adapters.db.tables import link_tokens
from omnibot.domain.model import LinkToken


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
