"""Pooled PostgreSQL connections that died idle: the reads and the intake that may run again do.

Engines use no ping before a checkout; these tests kill every backend of a warmed pool, as a
PostgreSQL restart or a proxy's idle timeout would, and check the caller never sees it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from omnibot.adapters.db.engine import POOL_RECYCLE_SECONDS, make_engine
from omnibot.adapters.db.inbound_store import SqlInboundStore
from omnibot.adapters.db.queue import WAKEUP_CHANNEL, SqlDeliveryQueue
from omnibot.adapters.db.reconnect import once_more_if_disconnected
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.tables import notifications
from omnibot.domain.errors import StoreUnavailable
from omnibot.domain.model import Channel, Contact, Notification
from omnibot.ports import InboundUnit
from tests.sql_notifications import SqlNotificationRepository

pytestmark = pytest.mark.postgres

# Names this module's connections in pg_stat_activity, so that only they are terminated.
APPLICATION = "omnibot-reconnect-test"
POOL_SIZE = 3


@pytest.fixture
def warm_engine(migrated_postgres_engine: Engine) -> Iterator[Engine]:
    """An engine of its own on the migrated test database, its pool full of open connections."""
    url = migrated_postgres_engine.url.update_query_dict({"application_name": APPLICATION})
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=POOL_SIZE, max_overflow=0)
    with ExitStack() as held:
        for _ in range(POOL_SIZE):
            held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
    yield engine
    engine.dispose()


def libpq_url(engine: Engine) -> str:
    """A URL for psycopg itself, under another name than the pool's connections."""
    url = engine.url.set(drivername="postgresql").update_query_dict({"application_name": "omnibot-test"})
    return url.render_as_string(hide_password=False)


def terminate_pool(engine: Engine) -> None:
    """End every server process of ``engine``'s pool and wait until they are gone."""
    with psycopg.connect(libpq_url(engine), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s", (APPLICATION,)).fetchall()
        assert ended == [(True,)] * POOL_SIZE
        deadline = time.monotonic() + 5
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (APPLICATION,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated backends still listed"
            time.sleep(0.01)


def new() -> Notification:
    return Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id="ORD-1", items=["Laptop"])


def stored(engine: Engine, notification_id: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(notifications)
                                      .where(notifications.c.id == notification_id)).scalar_one())


def reconnections(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage().startswith("db.reconnected") for record in caplog.records)


def test_postgres_engines_use_pooled_connections_without_a_ping_and_renew_them() -> None:
    engine = make_engine("postgresql+psycopg://omnibot@db.invalid/omnibot")
    assert not engine.pool._pre_ping
    assert engine.pool._recycle == POOL_RECYCLE_SECONDS


def round_trips(engine: Engine, trace: Path, call: Callable[[], Any], times: int = 5) -> float:
    """Round trips per ``call`` on ``engine``'s one pooled connection, from libpq's protocol trace
    (a ReadyForQuery ends each), after warming up: psycopg prepares a statement on its fifth run."""
    for _ in range(10):
        call()
    with engine.connect() as connection:
        pgconn = connection.connection.driver_connection.pgconn
    with trace.open("w") as out:
        pgconn.trace(out.fileno())
        try:
            for _ in range(times):
                call()
        finally:
            pgconn.untrace()  # flushes the trace
    return trace.read_text().count("ReadyForQuery") / times


def test_an_enqueue_and_a_lookup_are_one_round_trip_each(migrated_postgres_engine: Engine, tmp_path: Path) -> None:
    engine = make_engine(migrated_postgres_engine.url.render_as_string(hide_password=False), pool_size=1,
                         max_overflow=0)
    try:
        queue = SqlDeliveryQueue(engine, lambda: datetime.now(UTC))
        assert round_trips(engine, tmp_path / "enqueue", lambda: queue.enqueue(new())) == 1
        keyed = round_trips(engine, tmp_path / "keyed",
                            lambda: queue.enqueue(new(), idempotency_key=uuid.uuid4().hex, fingerprint="f"))
        assert keyed == 1
        contacts = SqlContactRepository(engine)
        contacts.add(Contact(phone="+380501234567"))
        assert round_trips(engine, tmp_path / "lookup", lambda: contacts.find_by_phone("+380501234567")) == 1
        # The connection went back to transactions: BEGIN, INSERT, COMMIT.
        assert round_trips(engine, tmp_path / "leased",
                           lambda: queue.enqueue(new(), lease_owner="w1", lease_seconds=60)) == 3
    finally:
        engine.dispose()


def test_a_lookup_after_the_pool_died_succeeds_at_the_first_call(
        warm_engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    contacts = SqlContactRepository(warm_engine)
    added = contacts.add(Contact(phone="+380501234567"))
    terminate_pool(warm_engine)
    with caplog.at_level(logging.WARNING, logger="omnibot.adapters.db.reconnect"):
        found = contacts.find_by_phone("+380501234567")
    assert found is not None and found.id == added.id
    assert reconnections(caplog) == 1  # it did meet a dead connection


def test_reading_a_notification_after_the_pool_died_succeeds(
        warm_engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    notification, _ = SqlDeliveryQueue(warm_engine, lambda: datetime.now(UTC)).enqueue(new())
    terminate_pool(warm_engine)
    with caplog.at_level(logging.WARNING, logger="omnibot.adapters.db.reconnect"):
        read = SqlNotificationRepository(warm_engine).get(notification.id)
    assert read is not None and read.id == notification.id
    assert reconnections(caplog) == 1


@pytest.mark.parametrize("idempotency_key", [None, "order-1-shipped"])
def test_an_enqueue_after_the_pool_died_is_stored_once(
        warm_engine: Engine, caplog: pytest.LogCaptureFixture, idempotency_key: str | None) -> None:
    queue = SqlDeliveryQueue(warm_engine, lambda: datetime.now(UTC))
    terminate_pool(warm_engine)
    with caplog.at_level(logging.WARNING, logger="omnibot.adapters.db.reconnect"):
        notification, created = queue.enqueue(new(), idempotency_key=idempotency_key, fingerprint="f")
    assert created
    assert stored(warm_engine, notification.id) == 1
    assert reconnections(caplog) == 1


def test_enqueue_stores_the_row_and_wakes_a_listener_once_it_is_visible(warm_engine: Engine) -> None:
    queue = SqlDeliveryQueue(warm_engine, lambda: datetime.now(UTC))
    with psycopg.connect(libpq_url(warm_engine), autocommit=True) as listener:
        listener.execute(f"LISTEN {WAKEUP_CHANNEL}")
        notification, _ = queue.enqueue(new(), idempotency_key="order-1-shipped", fingerprint="f")
        woken = list(listener.notifies(timeout=5.0, stop_after=1))
        assert [(n.channel, n.payload) for n in woken] == [(WAKEUP_CHANNEL, "")]
        # NOTIFY is delivered at commit: the woken worker finds the row.
        assert listener.execute("SELECT count(*) FROM notifications WHERE id = %s",
                                (notification.id,)).fetchone() == (1,)
        # A replayed key stores nothing, so it wakes no one.
        replayed, created = queue.enqueue(new(), idempotency_key="order-1-shipped", fingerprint="f")
        assert (replayed.id, created) == (notification.id, False)
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []


def test_an_error_other_than_a_lost_connection_is_not_retried(warm_engine: Engine) -> None:
    notification, _ = SqlDeliveryQueue(warm_engine, lambda: datetime.now(UTC)).enqueue(new())
    calls = 0

    def insert_again() -> None:
        nonlocal calls
        calls += 1
        with warm_engine.begin() as connection:
            connection.execute(notifications.insert().values(id=notification.id, event="x", items=[],
                                                             status="queued", created_at=datetime.now(UTC),
                                                             updated_at=datetime.now(UTC)))

    with pytest.raises(IntegrityError):
        once_more_if_disconnected(insert_again)
    assert calls == 1


def test_a_lost_connection_is_retried_once_and_a_second_loss_propagates(warm_engine: Engine) -> None:
    calls = 0

    def lose_the_connection(times: int) -> str:
        nonlocal calls
        calls += 1
        with warm_engine.connect() as connection:
            if calls <= times:
                connection.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
            return "done"

    assert once_more_if_disconnected(lambda: lose_the_connection(times=1)) == "done"
    assert calls == 2
    calls = 0
    with pytest.raises(StoreUnavailable) as raised:
        once_more_if_disconnected(lambda: lose_the_connection(times=2))
    assert raised.value.lost_connection and calls == 2
    assert "terminat" not in str(raised.value)  # the driver's class, never its message


def test_a_webhook_update_after_the_pool_died_is_handled_once(warm_engine: Engine,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    store = SqlInboundStore(warm_engine, lambda: datetime.now(UTC))

    def handle(unit: InboundUnit) -> bool:
        claimed = unit.updates.claim(Channel.TELEGRAM, "4242")
        unit.contacts.add(Contact(telegram_chat_id=4242))
        return claimed

    terminate_pool(warm_engine)
    with caplog.at_level(logging.WARNING, logger="omnibot.adapters.db.reconnect"):
        assert store.run(handle)
    assert reconnections(caplog) == 1
    assert SqlContactRepository(warm_engine).find_by_telegram_chat(4242) is not None
    assert not store.run(lambda unit: unit.updates.claim(Channel.TELEGRAM, "4242"))
