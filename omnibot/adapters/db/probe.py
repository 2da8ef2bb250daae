"""Probing a database for ``omnibot check-config``: does it answer, with which schema, how many
connections would it take. Every failure becomes a sentence for the operator that names no host,
user or password (the driver's own message may)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from omnibot.adapters.db import migrate
from omnibot.adapters.db.engine import database_url

_REASONS = (  # fragments of driver messages → what to tell the operator (the message itself names hosts)
    ("password authentication failed", "authentication failed"),
    ("does not exist", "the database or its user does not exist"),
    ("connection refused", "connection refused"),
    ("timeout", "timed out"),
    ("timed out", "timed out"),
    ("could not translate host name", "unknown host"),
    ("name or service not known", "unknown host"),
    ("unable to open database file", "cannot open the SQLite file"),
    ("file is not a database", "the file is not an SQLite database"),
)


@dataclass(frozen=True)
class DatabaseProbe:
    problem: str | None = None  # what makes the database unusable, for DATABASE_URL
    # Set when the server would refuse the connections asked for: (ordinary roles may open,
    # max_connections, superuser_reserved_connections).
    connections_accepted: tuple[int, int, int] | None = None


def probe_database(raw_url: str | None, timeout_seconds: float, connections: int | None = None) -> DatabaseProbe:
    """Whether the database answers within ``timeout_seconds`` and has the schema this omnibot
    needs; on PostgreSQL, whether it takes ``connections`` more."""
    url = database_url(raw_url)
    try:
        backend = make_url(url).get_backend_name()
    except sa.exc.ArgumentError:
        return DatabaseProbe("not a database URL (postgresql://… or sqlite:///…)")
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
            # Connecting would create an empty file; say what to do instead.
            return DatabaseProbe("the SQLite file does not exist yet: run `omnibot db upgrade`")
    elif backend == "postgresql":
        connect_args["connect_timeout"] = timeout_seconds
    else:
        return DatabaseProbe("only PostgreSQL (postgresql://…) and SQLite (sqlite:///…) are supported")
    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (sa.exc.ArgumentError, ImportError):
        return DatabaseProbe("no driver for this database URL")
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
        accepted = _connections_accepted(engine) if backend == "postgresql" and connections else None
    except sa.exc.SQLAlchemyError as exc:
        return DatabaseProbe(f"database unreachable: {_reason(exc)}")
    finally:
        engine.dispose()
    if current is None:
        return DatabaseProbe("the database has no schema yet: run `omnibot db upgrade`")
    if current != head:
        return DatabaseProbe(f"the schema is at revision {current}, this omnibot needs {head}: "
                             "run `omnibot db upgrade`")
    if connections and accepted and connections > accepted[0]:
        return DatabaseProbe(connections_accepted=accepted)
    return DatabaseProbe()


def _connections_accepted(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        limit = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    return limit - reserved, limit, reserved


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).lower()
    for fragment, reason in _REASONS:
        if fragment in text:
            return reason
    return type(getattr(exc, "orig", None) or exc).__name__
