"""The delivery queue on SQLite and PostgreSQL: leases, disjoint claims, idempotency, wake-ups."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from omnibot.adapters.db.outbox import SqlCallbackOutbox
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlNotificationRepository
from omnibot.adapters.wakeup import PostgresWakeup
from omnibot.domain.errors import IdempotencyConflict
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    StatusCallback,
)
from tests.fakes import ManualClock


def new(order: str = "ORD-1") -> Notification:
    return Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id=order, items=["Laptop"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def queue(engine: Engine, clock: ManualClock) -> SqlDeliveryQueue:
    return SqlDeliveryQueue(engine, clock.now)


def test_enqueued_is_claimed_once_and_leased(queue: SqlDeliveryQueue, clock: ManualClock) -> None:
    notification, created = queue.enqueue(new())
    assert created and notification.status is NotificationStatus.QUEUED
    [claimed] = queue.claim("w1", 10, lease_seconds=60)
    assert claimed.id == notification.id and claimed.status is NotificationStatus.SENDING
    assert queue.claim("w2", 10, lease_seconds=60) == []
    clock.advance(61)
    [reclaimed] = queue.claim("w2", 10, lease_seconds=60)
    assert reclaimed.id == notification.id
    # The first owner lost its lease: its late outcome is refused.
    claimed.status = NotificationStatus.SENT
    assert not queue.complete(claimed, "w1")
    reclaimed.status = NotificationStatus.SENT
    assert queue.complete(reclaimed, "w2")
    assert queue.claim("w3", 10, lease_seconds=60) == []


def test_rescheduled_waits_for_its_time(queue: SqlDeliveryQueue, clock: ManualClock) -> None:
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 10, 60)
    claimed.next_attempt_at = clock.now() + timedelta(seconds=30)
    assert queue.reschedule(claimed, "w1")
    assert queue.claim("w1", 10, 60) == []
    clock.advance(31)
    assert [n.id for n in queue.claim("w1", 10, 60)] == [claimed.id]


def test_release_gives_leased_work_back(queue: SqlDeliveryQueue) -> None:
    ids = [queue.enqueue(new())[0].id for _ in range(3)]
    claimed = queue.claim("w1", 10, 600)
    assert sorted(n.id for n in claimed) == sorted(ids)
    assert queue.release(ids, "someone-else") == 0
    assert queue.release(ids, "w1") == 3
    assert len(queue.claim("w2", 10, 600)) == 3


def test_concurrent_claims_are_disjoint(queue: SqlDeliveryQueue) -> None:
    ids = {queue.enqueue(new())[0].id for _ in range(200)}
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(owner: str) -> None:
        while batch := queue.claim(owner, 7, 600):
            with lock:
                claimed.extend(n.id for n in batch)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drain, ["w1", "w2", "w3", "w4"]))
    assert len(claimed) == len(set(claimed)) == 200
    assert set(claimed) == ids


def test_idempotency_key_under_concurrency_creates_exactly_one(queue: SqlDeliveryQueue) -> None:
    def submit(_: int) -> tuple[str, bool]:
        notification, created = queue.enqueue(new(), idempotency_key="same-key", fingerprint="f1")
        return notification.id, created

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(16)))
    assert sum(created for _, created in results) == 1
    assert len({notification_id for notification_id, _ in results}) == 1
    with pytest.raises(IdempotencyConflict):
        queue.enqueue(new(), idempotency_key="same-key", fingerprint="other")


def test_forgotten_keys_can_name_a_new_request(queue: SqlDeliveryQueue, clock: ManualClock) -> None:
    first, _ = queue.enqueue(new(), idempotency_key="k", fingerprint="f1")
    clock.advance(3600)
    assert queue.forget_idempotency_keys(clock.now()) == 1
    second, created = queue.enqueue(new(), idempotency_key="k", fingerprint="f2")
    assert created and second.id != first.id


def sent_on_viber(queue: SqlDeliveryQueue, engine: Engine, clock: ManualClock, message_token: str) -> None:
    """A notification that Viber accepted as ``message_token``."""
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 1, 60)
    SqlNotificationRepository(engine, now=clock.now).add_attempt(
        claimed.id, DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT, provider_message_id=message_token))
    claimed.status = NotificationStatus.SENT
    queue.complete(claimed, "w1")


def test_receipts_move_status_forward_only(queue: SqlDeliveryQueue, engine: Engine, clock: ManualClock) -> None:
    sent_on_viber(queue, engine, clock, "555")
    seen = queue.record_receipt(Channel.VIBER, "555", NotificationStatus.SEEN)
    assert seen is not None and seen.status is NotificationStatus.SEEN
    late = queue.record_receipt(Channel.VIBER, "555", NotificationStatus.DELIVERED)
    assert late is not None and late.status is NotificationStatus.SEEN
    assert queue.record_receipt(Channel.VIBER, "404", NotificationStatus.SEEN) is None


def test_undelivered_fails_a_sent_notification_once(queue: SqlDeliveryQueue, engine: Engine,
                                                     clock: ManualClock) -> None:
    sent_on_viber(queue, engine, clock, "777")
    failed = queue.record_undelivered(Channel.VIBER, "777", "device unreachable", "Failed: Delivery failed")
    assert failed is not None and failed.status is NotificationStatus.FAILED
    assert failed.result == "Failed: Delivery failed"
    assert [(a.outcome, a.error) for a in failed.attempts] == [
        (AttemptOutcome.SENT, None), (AttemptOutcome.PERMANENT_FAILURE, "device unreachable")]
    assert queue.record_undelivered(Channel.VIBER, "777", "device unreachable", "Failed: Delivery failed") is None
    late = queue.record_receipt(Channel.VIBER, "777", NotificationStatus.SEEN)
    assert late is not None and late.status is NotificationStatus.FAILED
    assert queue.record_undelivered(Channel.VIBER, "404", "x", "Failed: Delivery failed") is None


def test_undelivered_after_delivered_changes_nothing(queue: SqlDeliveryQueue, engine: Engine,
                                                     clock: ManualClock) -> None:
    sent_on_viber(queue, engine, clock, "778")
    queue.record_receipt(Channel.VIBER, "778", NotificationStatus.DELIVERED)
    assert queue.record_undelivered(Channel.VIBER, "778", "late", "Failed: Delivery failed") is None
    kept = queue.record_receipt(Channel.VIBER, "778", NotificationStatus.DELIVERED)
    assert kept is not None and kept.status is NotificationStatus.DELIVERED and len(kept.attempts) == 1


def test_depth_counts_waiting_work(queue: SqlDeliveryQueue) -> None:
    assert queue.depth() == (0, None)
    first, _ = queue.enqueue(new())
    queue.enqueue(new())
    count, oldest = queue.depth()
    assert count == 2 and oldest == first.created_at


def test_postgres_enqueue_wakes_a_listening_worker(migrated_postgres_engine: Engine, clock: ManualClock) -> None:
    engine = migrated_postgres_engine
    wakeup = PostgresWakeup(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        assert wakeup.wait(0.1) is False  # connects and listens; nothing yet
        SqlDeliveryQueue(engine, clock.now).enqueue(new())
        assert wakeup.wait(5.0) is True
    finally:
        wakeup.close()


def test_passes_end_together_in_one_transaction_and_a_lost_lease_keeps_its_attempts(
        queue: SqlDeliveryQueue, clock: ManualClock, engine: Engine) -> None:
    for order in ("ORD-1", "ORD-2", "ORD-3"):
        queue.enqueue(new(order))
    claimed = {n.id: n for n in queue.claim("w1", 10, 60)}
    clock.advance(61)
    [taken_over] = queue.claim("w2", 1, 60)  # w1's leases ran out, and w2 took one of them
    lost = claimed.pop(taken_over.id)
    sent, rescheduled = claimed.values()
    for notification, outcome in ((sent, AttemptOutcome.SENT), (lost, AttemptOutcome.SENT),
                                  (rescheduled, AttemptOutcome.TRANSIENT_FAILURE)):
        attempt = DeliveryAttempt(Channel.TELEGRAM, outcome, created_at=clock.now())
        notification.attempts.append(attempt)
        notification.unsaved_attempts.append(attempt)
    sent.status = lost.status = NotificationStatus.SENT
    rescheduled.status = NotificationStatus.QUEUED
    sent.unsaved_callback = StatusCallback("https://shop.example/hook", '{"status": "sent", "of": "sent"}')
    lost.unsaved_callback = StatusCallback("https://shop.example/hook", '{"status": "sent", "of": "lost"}')
    assert queue.end_passes([(sent, "w1"), (lost, "w1"), (rescheduled, "w1")]) == [True, False, True]
    assert all(n.unsaved_attempts == [] and n.unsaved_callback is None for n in (sent, lost, rescheduled))
    # The shop hears of the outcome that was written, in its transaction; not of the lost lease's.
    [callback] = SqlCallbackOutbox(engine, clock.now).claim(10, lease_seconds=60)
    assert (callback.notification_id, callback.body) == (sent.id, '{"status": "sent", "of": "sent"}')
    repository = SqlNotificationRepository(engine, now=clock.now)
    stored = {n.id: repository.get(n.id) for n in (sent, lost, rescheduled)}
    assert {n.id: stored[n.id].status for n in (sent, lost, rescheduled)} == {  # type: ignore[union-attr]
        sent.id: NotificationStatus.SENT, rescheduled.id: NotificationStatus.QUEUED,
        lost.id: NotificationStatus.SENDING}  # w2's now: its outcome is not w1's to write
    # Every attempt is written, the lost lease's too: it happened.
    assert [[a.outcome for a in stored[n.id].attempts] for n in (sent, lost, rescheduled)] == [  # type: ignore[union-attr]
        [AttemptOutcome.SENT], [AttemptOutcome.SENT], [AttemptOutcome.TRANSIENT_FAILURE]]


def test_a_batch_whose_outcomes_leave_columns_empty_is_written(queue: SqlDeliveryQueue) -> None:
    # PostgreSQL types a VALUES list from its rows: a column of NULLs alone must still fit the table.
    for order in ("ORD-1", "ORD-2"):
        queue.enqueue(new(order))
    claimed = queue.claim("w1", 10, 60)
    for notification in claimed:
        notification.status, notification.result = NotificationStatus.FAILED, "Failed: User not found"
        notification.next_attempt_at = notification.channel = notification.contact_id = None
    assert queue.end_passes([(notification, "w1") for notification in claimed]) == [True, True]
    assert queue.claim("w2", 10, 60) == []
