"""Turning ``DATABASE_URL`` into a configured SQLAlchemy engine for SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from omnibot.domain.errors import StoreError, StoreUnavailable

# The seed and most hosting panels write bare `postgresql://` (or Heroku's `postgres://`);
# SQLAlchemy would pick psycopg2 for those, which omnibot does not install.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PSYCOPG_SCHEME = "postgresql+psycopg://"

SQLITE_BUSY_TIMEOUT_MS = 5000
# Threads of each `omnibot serve` process (gunicorn's gthread): at most this many requests at once.
API_THREADS = 8
# A delivery worker's sends wait on its event loop and hold no connection; its claims and the
# passes' calls to the store run on this many threads, and one more writes the passes' outcomes
# (group commit). However many sends it keeps in flight, that is all the connections it uses.
WORKER_STORE_THREADS = 8
WORKER_POOL = WORKER_STORE_THREADS + 1
# Proxies (PgBouncer's server_idle_timeout, a cloud load balancer) and firewalls drop connections
# idle for some minutes, often silently. A pooled connection older than this is closed and
# reopened at checkout, so connections stay younger than those idle timeouts instead of failing
# a request first; one reconnect per connection every five minutes costs next to nothing.
POOL_RECYCLE_SECONDS = 300


def pool_limits(role: str, embedded_worker: bool = False) -> tuple[int, int]:
    """``(pool_size, max_overflow)`` of a process's pool, from the work it does (README, "Connections").

    An API process never needs more connections than it has threads; a worker one per store
    thread and one for its group commit. A worker also holds one connection for LISTEN, outside
    the pool. The embedded default (SQLite) runs both in one process. No overflow: an overflow
    connection is closed when it comes back, so a busy process would open and close connections
    all the time (a PostgreSQL backend each).
    """
    if role == "worker":
        return WORKER_POOL, 0
    return (API_THREADS + WORKER_POOL, 0) if embedded_worker else (API_THREADS, 0)


def connections_needed(serve_processes: int, workers: int) -> int:
    """PostgreSQL connections that ``serve_processes`` API processes and ``workers`` workers can hold."""
    api_size, api_overflow = pool_limits("api")
    worker_size, worker_overflow = pool_limits("worker")
    return serve_processes * (api_size + api_overflow) + workers * (worker_size + worker_overflow + 1)


def database_url(raw: str | None, default_sqlite_path: str = "omnibot.sqlite3") -> str:
    """The SQLAlchemy URL for a ``DATABASE_URL`` value; unset means a SQLite file."""
    raw = (raw or "").strip()
    if not raw:
        return f"sqlite:///{default_sqlite_path}"
    for scheme in _POSTGRES_SCHEMES:
        if raw.startswith(scheme):
            return _PSYCOPG_SCHEME + raw[len(scheme):]
    return raw


def make_engine(url: str, pool_size: int = 5, max_overflow: int | None = None, pre_ping: bool = False) -> Engine:
    """An engine tuned for its backend: WAL and enforced foreign keys on SQLite; on PostgreSQL
    pooled connections recycled after ``POOL_RECYCLE_SECONDS`` and, unless ``pre_ping``, used
    without a ping first. A connection that died idle in the pool anyway fails its first statement
    at once; SQLAlchemy then invalidates it and every older one, and the work that may run again
    does (``reconnect.once_more_if_disconnected``, the worker's retries)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url, connect_args={"check_same_thread": False}, poolclass=_QueuePool,
                                  pool_size=pool_size, max_overflow=pool_size)
        sa.event.listen(engine, "connect", _configure_sqlite)
    elif backend == "postgresql":
        engine = sa.create_engine(url, pool_pre_ping=pre_ping, pool_recycle=POOL_RECYCLE_SECONDS,
                                  poolclass=_QueuePool, pool_size=pool_size,
                                  max_overflow=pool_size if max_overflow is None else max_overflow)
    else:
        engine = sa.create_engine(url)
    sa.event.listen(engine, "handle_error", _as_store_error)
    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads. Outside a transaction on PostgreSQL it reads in autocommit: psycopg
    would open a transaction with a BEGIN and SQLAlchemy end it with a ROLLBACK, two round trips
    more, and under READ COMMITTED each statement reads its own snapshot either way. (Changing the
    mode costs no round trip; a unit of work's open transaction is left as it is.)"""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql" and not connection.in_transaction():
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def _as_store_error(context: sa.engine.ExceptionContext) -> None:
    """The database's failures in the domain's words, at the edge of the adapters: nothing above
    them catches a SQLAlchemy error. A constraint violation stays as it is: the repositories turn it
    into the domain's conflict (``errors.translate``)."""
    error = context.sqlalchemy_exception
    if context.is_pre_ping:
        return  # a failed ping is the pool's to act on: it reconnects
    if isinstance(error, sa.exc.IntegrityError) or not isinstance(error, sa.exc.DBAPIError):
        # A value refused before it reached the database (a naive datetime) is the caller's bug,
        # reported by the repositories as the in-memory fakes report it.
        return
    cause = type(context.original_exception).__name__
    if context.is_disconnect or isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        raise StoreUnavailable(cause, lost_connection=context.is_disconnect) from error
    raise StoreError(cause) from error


class _QueuePool(QueuePool):
    """The pool, with a wait for a free connection that runs out as the domain's ``StoreUnavailable``."""

    def connect(self) -> PoolProxiedConnection:
        try:
            return super().connect()
        except sa.exc.TimeoutError as error:
            raise StoreUnavailable("pool exhausted") from error


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the worker read while the web process writes; the busy timeout makes a writer
        # wait for the other instead of failing at once; foreign keys are off unless asked for.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
