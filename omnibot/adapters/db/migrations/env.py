"""Alembic's entry point, for `omnibot db upgrade` (``migrate.py``) and for developers' `alembic` CLI.

``migrate.py`` hands over an open connection in ``config.attributes["connection"]``; the CLI
(``alembic.ini`` at the project root) has none, so the URL comes from ``DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.tables import UtcDateTime, metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A migration must not import application types that may change after it is written.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=metadata,
        # SQLite alters tables only by copy-and-swap; batch operations do that there and emit
        # plain ALTERs on PostgreSQL, so one migration serves both.
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        **options,
    )


def _set_sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    # The copy-and-swap drops the old table; with foreign keys enforced that drop would cascade
    # to every row referencing it. The pragma only takes effect outside a transaction.
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    connection.commit()


def _run_online(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        _set_sqlite_foreign_keys(connection, enabled=False)
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            _set_sqlite_foreign_keys(connection, enabled=True)


def main() -> None:
    if context.is_offline_mode():
        _configure(url=database_url(os.environ.get("DATABASE_URL")), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    engine = make_engine(database_url(os.environ.get("DATABASE_URL")))
    try:
        with engine.connect() as connection:
            _run_online(connection)
    finally:
        engine.dispose()


main()
