"""Retention on SQLite and PostgreSQL: which notifications, attempts and callbacks go, and what stays."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from omnibot import bootstrap
from omnibot.adapters.db.outbox import SqlCallbackOutbox
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.retention import Purged, SqlRetention
from omnibot.adapters.db.tables import contacts, delivery_attempts, notifications, status_callbacks
from omnibot.domain.model import AttemptOutcome, Channel, Contact, DeliveryAttempt, Notification, NotificationStatus
from omnibot.settings import Settings
from tests.fakes import ManualClock
from tests.sql_notifications import SqlNotificationRepository

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)
OLD = CUTOFF - timedelta(days=1)
YOUNG = CUTOFF + timedelta(days=1)


def finished(status: NotificationStatus, at: datetime, attempts: int = 1, created: datetime | None = None,
             contact_id: int | None = None) -> Notification:
    outcome = AttemptOutcome.PERMANENT_FAILURE if status is NotificationStatus.FAILED else AttemptOutcome.SENT
    return Notification(
        id=str(uuid.uuid4()), phone="+380501234567", order_id="ORD-1", items=["Laptop"], status=status,
        channel=Channel.TELEGRAM, contact_id=contact_id, created_at=created or at, updated_at=at,
        attempts=[DeliveryAttempt(Channel.TELEGRAM, outcome, created_at=at) for _ in range(attempts)])


def waiting(at: datetime) -> Notification:
    return Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id="ORD-1", items=["Laptop"],
                        created_at=at, updated_at=at, next_attempt_at=at)


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def notification_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(notifications.c.id)).scalars())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(OLD)


@pytest.fixture
def repository(engine: Engine, clock: ManualClock) -> SqlNotificationRepository:
    return SqlNotificationRepository(engine, clock.now)


@pytest.fixture
def outbox(engine: Engine, clock: ManualClock) -> SqlCallbackOutbox:
    return SqlCallbackOutbox(engine, clock.now)


def given_up_callback(outbox: SqlCallbackOutbox, notification_id: str) -> None:
    outbox.add(notification_id, "https://shop.example/hook", "{}")
    [job] = outbox.claim(10, lease_seconds=60)
    outbox.retry(job.id, None, "gave up after 12 tries")


def test_old_finished_notifications_go_with_their_attempts_and_given_up_callbacks(
        engine: Engine, repository: SqlNotificationRepository, outbox: SqlCallbackOutbox) -> None:
    sent = finished(NotificationStatus.SENT, OLD, attempts=2)
    failed = finished(NotificationStatus.FAILED, OLD, attempts=3)
    delivered = finished(NotificationStatus.DELIVERED, OLD)
    seen = finished(NotificationStatus.SEEN, OLD)
    for notification in (sent, failed, delivered, seen):
        repository.add(notification)
    given_up_callback(outbox, failed.id)
    outbox.add(sent.id, "https://shop.example/hook", "{}")  # the shop took this one: the outbox dropped it
    [job] = outbox.claim(10, lease_seconds=60)
    outbox.done(job.id)

    assert SqlRetention(engine).purge(CUTOFF) == Purged(notifications=4, attempts=7, callbacks=1)
    assert notification_ids(engine) == set()
    assert count(engine, delivery_attempts) == 0
    assert count(engine, status_callbacks) == 0


def test_young_in_flight_and_awaited_notifications_stay(
        engine: Engine, repository: SqlNotificationRepository, outbox: SqlCallbackOutbox,
        clock: ManualClock) -> None:
    young = finished(NotificationStatus.SENT, YOUNG)
    # Created long ago, changed lately: a Viber receipt came in after the cut-off.
    seen_lately = finished(NotificationStatus.SEEN, YOUNG, created=OLD)
    callback_due = finished(NotificationStatus.FAILED, OLD)
    for notification in (young, seen_lately, callback_due):
        repository.add(notification)
    outbox.add(callback_due.id, "https://shop.example/hook", "{}")  # the shop has not taken it yet
    queue = SqlDeliveryQueue(engine, clock.now)
    claimed, _ = queue.enqueue(waiting(OLD))
    clock.advance(1)
    assert [n.id for n in queue.claim("w1", 10, lease_seconds=60)] == [claimed.id]
    queued, _ = queue.enqueue(waiting(OLD))
    leased, _ = queue.enqueue(waiting(OLD), lease_owner="trigger", lease_seconds=120)  # the synchronous trigger
    lease_ran_out, _ = queue.enqueue(waiting(OLD), lease_owner="gone-worker", lease_seconds=0)
    everything = {young.id, seen_lately.id, callback_due.id, queued.id, leased.id, lease_ran_out.id, claimed.id}

    assert SqlRetention(engine).purge(CUTOFF) == Purged()
    assert notification_ids(engine) == everything
    assert count(engine, delivery_attempts) == 3
    assert count(engine, status_callbacks) == 1


def test_a_notification_goes_once_its_pending_callback_is_given_up(
        engine: Engine, repository: SqlNotificationRepository, outbox: SqlCallbackOutbox) -> None:
    notification = finished(NotificationStatus.SENT, OLD)
    repository.add(notification)
    outbox.add(notification.id, "https://shop.example/hook", "{}")
    retention = SqlRetention(engine)
    assert retention.purge(CUTOFF) == Purged()
    [job] = outbox.claim(10, lease_seconds=60)
    outbox.retry(job.id, None, "gave up after 12 tries")
    assert retention.purge(CUTOFF) == Purged(notifications=1, attempts=1, callbacks=1)


def test_batches_are_transactions_of_their_own_until_none_is_left(
        engine: Engine, repository: SqlNotificationRepository) -> None:
    for _ in range(10):
        repository.add(finished(NotificationStatus.SENT, OLD))
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    sa.event.listen(engine, "commit", committed)
    try:
        purged = SqlRetention(engine, batch_size=3).purge(CUTOFF)
    finally:
        sa.event.remove(engine, "commit", committed)
    assert purged == Purged(notifications=10, attempts=10)
    assert len(commits) == 4  # 3 + 3 + 3 + 1: a short batch means nothing is left
    assert notification_ids(engine) == set()


def test_a_spent_budget_leaves_the_rest_for_the_next_run(
        engine: Engine, repository: SqlNotificationRepository) -> None:
    for _ in range(10):
        repository.add(finished(NotificationStatus.SENT, OLD))
    retention = SqlRetention(engine, batch_size=3, budget_seconds=0)
    assert retention.purge(CUTOFF).notifications == 3
    assert len(notification_ids(engine)) == 7
    assert retention.purge(CUTOFF).notifications == 3


class SteppingTime:
    """A monotonic clock that moves one second at each reading, and on by each rest taken."""

    def __init__(self) -> None:
        self.now = 0.0
        self.rests: list[float] = []

    def monotonic(self) -> float:
        self.now += 1
        return self.now - 1

    def sleep(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds


def test_each_batch_is_followed_by_a_rest_and_rests_count_against_the_budget(
        engine: Engine, repository: SqlNotificationRepository) -> None:
    for _ in range(10):
        repository.add(finished(NotificationStatus.SENT, OLD))
    time = SteppingTime()
    # Each batch reads as one second: it rests three, and a second rest would end past the budget.
    retention = SqlRetention(engine, batch_size=3, budget_seconds=10, rest_ratio=3,
                             monotonic=time.monotonic, sleep=time.sleep)
    assert retention.purge(CUTOFF).notifications == 6
    assert time.rests == [3.0]


def test_contacts_are_never_deleted(engine: Engine, repository: SqlNotificationRepository,
                                    clock: ManualClock) -> None:
    contact = Contact(phone="+380501234567", telegram_chat_id=42)
    SqlContactRepository(engine, clock.now).add(contact)
    repository.add(finished(NotificationStatus.SENT, OLD, contact_id=contact.id))
    assert SqlRetention(engine).purge(CUTOFF).notifications == 1
    assert count(engine, contacts) == 1


@pytest.fixture
def services(engine: Engine) -> Iterator[bootstrap.Services]:
    built = bootstrap.build(Settings.from_env(database_url=engine.url.render_as_string(hide_password=False),
                                              notification_retention_days=90))
    yield built
    built.close()


def test_housekeeping_deletes_past_the_setting_and_nothing_at_0_days(
        engine: Engine, services: bootstrap.Services) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    SqlNotificationRepository(engine).add(finished(NotificationStatus.SENT, long_ago))
    bootstrap.housekeeping(services)
    assert notification_ids(engine) == set()

    kept = finished(NotificationStatus.SENT, long_ago)
    SqlNotificationRepository(engine).add(kept)
    keep_forever = services.settings.model_copy(update={"notification_retention_days": 0})
    bootstrap.housekeeping(dataclasses.replace(services, settings=keep_forever))
    assert notification_ids(engine) == {kept.id}
