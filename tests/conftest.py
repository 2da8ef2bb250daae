"""Fixtures shared by the test rings: databases to run against and repositories over them.

PostgreSQL tests need a server at 127.0.0.1:5432 that lets ``postgres`` in without a password
(or ``OMNIBOT_TEST_PG_URL``, any user allowed to create databases). Without one they are
skipped locally and fail on CI (``CI=true``), where a silent skip would hide a broken backend.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from omnibot.adapters.db import migrate
from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.group_commit import PassEndingQueue
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.tables import metadata, status_callbacks
from omnibot.domain.model import StatusCallback
from omnibot.ports import ContactRepository
from tests.fakes import (
    InMemoryContactRepository,
    InMemoryDeliveryQueue,
    InMemoryNotificationRepository,
    ManualClock,
)
from tests.sql_notifications import NotificationRepository, SqlNotificationRepository

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

SQL_BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


class PostgresServer:
    """Creates throwaway databases on the test server; ``drop_all`` removes every one of them."""

    def __init__(self, admin: Engine) -> None:
        self._admin = admin
        self._names: list[str] = []

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"omnibot_test_{secrets.token_hex(6)}"
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._names.append(name)
        return self._admin.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as connection:
            for name in self._names:
                # A server process under test may still hold connections; DROP would refuse.
                connection.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": name},
                )
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        self._names.clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of the tests, or a skip (a failure on CI) when there is none."""
    admin_url = database_url(os.environ.get("OMNIBOT_TEST_PG_URL") or DEFAULT_PG_ADMIN_URL)
    # CREATE/DROP DATABASE cannot run in a transaction; NullPool leaves no idle connection behind.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                             connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        message = (f"PostgreSQL is not reachable at {make_url(admin_url).render_as_string()}: "
                   f"{str(exc.orig).strip()}")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = PostgresServer(admin)
    try:
        yield server
    finally:
        server.drop_all()
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a throwaway PostgreSQL database, dropped when the session ends."""
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def postgres_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    """An engine on a database of its own, kept for the session (connecting costs more than a test).

    Not ``postgres_url``'s database: the fixtures below drop this one's schema between tests,
    which must not pull the tables from under a server that an end-to-end test runs on that one.
    """
    engine = make_engine(postgres_server.create_database())
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'omnibot.sqlite3'}"


def reset_postgres_schema(engine: Engine) -> None:
    """Leave the database as if just created: no tables, no ``alembic_version``."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")


@pytest.fixture
def migrated_postgres_engine(postgres_engine: Engine) -> Engine:
    """The session's PostgreSQL engine on a migrated schema with every table empty."""
    # Emptying the tables is much faster than migrating: migrate only when a test left no schema
    # (or dropped a table of it).
    expected = {*metadata.tables, "alembic_version"}
    if migrate.is_current(postgres_engine) and set(sa.inspect(postgres_engine).get_table_names()) == expected:
        tables = ", ".join(table.name for table in metadata.sorted_tables)
        with postgres_engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    else:
        reset_postgres_schema(postgres_engine)
        migrate.upgrade(postgres_engine)
    return postgres_engine


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated SQLite file."""
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=SQL_BACKENDS)
def empty_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a database with no tables at all, on each SQL backend."""
    if request.param == "postgres":
        engine: Engine = request.getfixturevalue("postgres_engine")
        reset_postgres_schema(engine)
        yield engine
        return
    engine = make_engine(request.getfixturevalue("sqlite_url"))
    yield engine
    engine.dispose()


@pytest.fixture(params=SQL_BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """An engine on a migrated, empty schema, on each SQL backend."""
    name = "migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@dataclass
class Repositories:
    """Both repositories over one store, and the clock they stamp times with."""

    contacts: ContactRepository
    notifications: NotificationRepository
    clock: ManualClock


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def repositories(request: pytest.FixtureRequest) -> Repositories:
    """The same repositories in memory, on SQLite and on PostgreSQL, for contract tests."""
    clock = ManualClock()
    if request.param == "memory":
        contacts = InMemoryContactRepository(clock.now)
        return Repositories(contacts, InMemoryNotificationRepository(clock.now, contacts), clock)
    engine: Engine = request.getfixturevalue(
        "migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine")
    return Repositories(SqlContactRepository(engine, clock.now),
                        SqlNotificationRepository(engine, clock.now), clock)


@dataclass
class QueueOverStore:
    """A delivery queue and the notifications repository over the same store, and their clock."""

    queue: PassEndingQueue
    notifications: NotificationRepository
    clock: ManualClock
    # The status callbacks the queue wrote with the passes it ended, oldest first.
    callbacks: Callable[[], list[tuple[str, StatusCallback]]]


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def delivery_queue(request: pytest.FixtureRequest) -> QueueOverStore:
    """The same delivery queue in memory, on SQLite and on PostgreSQL, for contract tests."""
    clock = ManualClock(datetime.now(UTC))
    if request.param == "memory":
        notifications = InMemoryNotificationRepository(clock.now, InMemoryContactRepository(clock.now))
        queue = InMemoryDeliveryQueue(notifications, clock.now)
        return QueueOverStore(queue, notifications, clock, lambda: list(queue.callbacks))
    engine: Engine = request.getfixturevalue(
        "migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine")

    def callbacks() -> list[tuple[str, StatusCallback]]:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(status_callbacks).order_by(status_callbacks.c.id))
            return [(row.notification_id, StatusCallback(row.url, row.body)) for row in rows]

    return QueueOverStore(SqlDeliveryQueue(engine, clock.now), SqlNotificationRepository(engine, clock.now),
                          clock, callbacks)
