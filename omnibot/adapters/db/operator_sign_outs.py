"""The dashboard's sign-outs over SQLAlchemy Core: one row per operator, read by primary key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from omnibot.adapters.db.tables import operator_sign_outs as table


class SqlOperatorSignOuts:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def generation(self, operator: str) -> int:
        with self._engine.connect() as connection:
            value = connection.execute(
                sa.select(table.c.generation).where(table.c.operator == operator)).scalar_one_or_none()
        return 0 if value is None else int(value)

    def sign_out(self, operator: str) -> int:
        try:
            return self._advance(operator)
        except IntegrityError:  # another process wrote the first row meanwhile: it exists now
            return self._advance(operator)

    def _advance(self, operator: str) -> int:
        at = self._now()
        with self._engine.begin() as connection:
            moved = connection.execute(table.update().where(table.c.operator == operator)
                                       .values(generation=table.c.generation + 1, signed_out_at=at))
            if moved.rowcount == 0:
                connection.execute(table.insert().values(operator=operator, generation=1, signed_out_at=at))
            return int(connection.execute(
                sa.select(table.c.generation).where(table.c.operator == operator)).scalar_one())
