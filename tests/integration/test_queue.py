"""The delivery queue: one contract run in memory, on SQLite and on PostgreSQL, then what only the
SQL queue does (claims racing on threads, idempotency keys racing, PostgreSQL's wake-ups).

``InMemoryDeliveryQueue`` stands in for the SQL queue in every unit test; the contract is what
makes that safe: leases, claims, idempotency keys, receipts and depth behave the same on all three.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from omnibot.adapters.db.outbox import SqlCallbackOutbox
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.wakeup import PostgresWakeup
from omnibot.domain.errors import Conflict, IdempotencyConflict, NotFound
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    StatusCallback,
)
from tests.conftest import QueueOverStore
from tests.fakes import ManualClock


def new(order: str = "ORD-1") -> Notification:
    return Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id=order, items=["Laptop"])


def stored(store: QueueOverStore, notification_id: str) -> Notification:
    found = store.notifications.get(notification_id)
    assert found is not None
    return found


# --- the contract: in memory, on SQLite and on PostgreSQL -------------------------------------


def test_enqueued_is_claimed_once_and_leased(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
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


def test_enqueue_stamps_the_clocks_time_and_a_claim_gives_back_what_was_stored(
        delivery_queue: QueueOverStore) -> None:
    later = delivery_queue.clock.now() + timedelta(seconds=5)
    notification = new()
    notification.text, notification.callback_url = "Your order is ready", "https://shop.example/hook"
    notification.channels, notification.expires_at = [Channel.VIBER, Channel.TELEGRAM], later
    notification.status = NotificationStatus.SENT  # a new notification waits, whatever it says
    enqueued, _ = delivery_queue.queue.enqueue(notification)
    assert enqueued.created_at == enqueued.updated_at == enqueued.next_attempt_at == delivery_queue.clock.now()
    assert stored(delivery_queue, enqueued.id).status is NotificationStatus.QUEUED
    [claimed] = delivery_queue.queue.claim("w1", 10, lease_seconds=60)
    assert claimed == stored(delivery_queue, enqueued.id)
    assert (claimed.text, claimed.callback_url, claimed.channels, claimed.expires_at) == (
        "Your order is ready", "https://shop.example/hook", [Channel.VIBER, Channel.TELEGRAM], later)
    assert claimed.status is NotificationStatus.SENDING and claimed.attempts == []


def test_enqueue_writes_the_request_and_not_attempts_it_carries(delivery_queue: QueueOverStore) -> None:
    notification = new()
    notification.attempts.append(DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT))
    delivery_queue.queue.enqueue(notification)
    assert stored(delivery_queue, notification.id).attempts == []


def test_an_id_enqueued_twice_is_a_conflict_and_the_first_stays(delivery_queue: QueueOverStore) -> None:
    first, _ = delivery_queue.queue.enqueue(new("ORD-1"))
    again = new("ORD-2")
    again.id = first.id
    with pytest.raises(Conflict):
        delivery_queue.queue.enqueue(again)
    assert stored(delivery_queue, first.id).order_id == "ORD-1"
    assert delivery_queue.queue.depth()[0] == 1


def test_enqueued_with_an_owner_is_leased_to_it(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    notification, created = queue.enqueue(new(), lease_owner="api-1", lease_seconds=30)
    assert created and notification.status is NotificationStatus.SENDING
    assert stored(delivery_queue, notification.id).status is NotificationStatus.SENDING
    assert queue.claim("w1", 10, lease_seconds=60) == []
    clock.advance(31)  # the process that took it died: its lease runs out and a worker takes over
    [claimed] = queue.claim("w1", 10, lease_seconds=60)
    assert claimed.id == notification.id
    notification.status = NotificationStatus.SENT
    assert not queue.complete(notification, "api-1")
    assert queue.release([notification.id], "api-1") == 0


def test_rescheduled_waits_for_its_time(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 10, 60)
    claimed.next_attempt_at = clock.now() + timedelta(seconds=30)
    assert queue.reschedule(claimed, "w1")
    assert claimed.status is NotificationStatus.QUEUED
    assert stored(delivery_queue, claimed.id).status is NotificationStatus.QUEUED
    assert queue.claim("w1", 10, 60) == []
    clock.advance(31)
    assert [n.id for n in queue.claim("w1", 10, 60)] == [claimed.id]


def test_release_gives_leased_work_back(delivery_queue: QueueOverStore) -> None:
    queue = delivery_queue.queue
    ids = [queue.enqueue(new())[0].id for _ in range(3)]
    claimed = queue.claim("w1", 10, 600)
    assert sorted(n.id for n in claimed) == sorted(ids)
    assert queue.release([], "w1") == 0
    assert queue.release(ids, "someone-else") == 0
    assert queue.release(ids, "w1") == 3
    assert all(stored(delivery_queue, i).status is NotificationStatus.QUEUED for i in ids)
    # Released, the lease is gone: the pass that held it may no longer write its outcome.
    claimed[0].status = NotificationStatus.SENT
    assert not queue.complete(claimed[0], "w1")
    assert len(queue.claim("w2", 10, 600)) == 3


def test_release_leaves_finished_work_alone(delivery_queue: QueueOverStore) -> None:
    queue = delivery_queue.queue
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 10, 600)
    claimed.status = NotificationStatus.SENT
    assert queue.complete(claimed, "w1")
    assert queue.release([claimed.id], "w1") == 0
    assert stored(delivery_queue, claimed.id).status is NotificationStatus.SENT


def test_leases_run_out_are_taken_in_the_order_they_ran_out(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    early, _ = queue.enqueue(new("due-first"))
    clock.advance(1)
    queue.enqueue(new("due-second"))
    assert [n.order_id for n in queue.claim("slow", 1, lease_seconds=100)] == ["due-first"]
    assert [n.order_id for n in queue.claim("quick", 1, lease_seconds=10)] == ["due-second"]
    clock.advance(101)  # both leases ran out, the second one's 90 seconds before the first's
    assert [n.order_id for n in queue.claim("w1", 1, lease_seconds=60)] == ["due-second"]
    assert [n.id for n in queue.claim("w1", 1, lease_seconds=60)] == [early.id]


def test_a_key_seen_before_gives_back_the_stored_notification_and_writes_nothing(
        delivery_queue: QueueOverStore) -> None:
    queue = delivery_queue.queue
    first, created = queue.enqueue(new("ORD-1"), idempotency_key="same-key", fingerprint="f1")
    assert created
    again, created_again = queue.enqueue(new("ORD-1"), idempotency_key="same-key", fingerprint="f1")
    assert not created_again
    assert again == stored(delivery_queue, first.id)
    assert queue.depth()[0] == 1
    with pytest.raises(IdempotencyConflict):
        queue.enqueue(new("ORD-2"), idempotency_key="same-key", fingerprint="other")
    with pytest.raises(IdempotencyConflict):
        queue.enqueue(new("ORD-2"), idempotency_key="same-key")
    assert queue.depth()[0] == 1
    # Another key is another request.
    assert queue.enqueue(new("ORD-2"), idempotency_key="other-key", fingerprint="f1")[1]


def test_forgotten_keys_can_name_a_new_request(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    first, _ = queue.enqueue(new(), idempotency_key="k", fingerprint="f1")
    queue.enqueue(new())  # no key: nothing to forget
    clock.advance(3600)
    kept, _ = queue.enqueue(new(), idempotency_key="kept", fingerprint="f1")
    assert kept.created_at is not None
    assert queue.forget_idempotency_keys(kept.created_at) == 1  # accepted at that instant: kept
    assert queue.forget_idempotency_keys(kept.created_at) == 0
    second, created = queue.enqueue(new(), idempotency_key="k", fingerprint="f2")
    assert created and second.id != first.id
    assert stored(delivery_queue, first.id).id == first.id  # the notification stays; only its key goes
    assert not queue.enqueue(new(), idempotency_key="kept", fingerprint="f1")[1]


def sent_on_viber(store: QueueOverStore, message_token: str) -> Notification:
    """A notification that Viber accepted as ``message_token``."""
    queue = store.queue
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 1, 60)
    store.notifications.add_attempt(
        claimed.id, DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT, provider_message_id=message_token))
    claimed.status = NotificationStatus.SENT
    assert queue.complete(claimed, "w1")
    return claimed


def test_receipts_move_status_forward_only(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    sent = sent_on_viber(delivery_queue, "555")
    assert queue.record_receipt(Channel.TELEGRAM, "555", NotificationStatus.SEEN) is None  # another messenger's
    receipt_time = clock.advance(5)
    seen = queue.record_receipt(Channel.VIBER, "555", NotificationStatus.SEEN)
    assert seen is not None and seen.status is NotificationStatus.SEEN and seen.updated_at == receipt_time
    assert seen == stored(delivery_queue, sent.id)
    clock.advance(5)
    late = queue.record_receipt(Channel.VIBER, "555", NotificationStatus.DELIVERED)
    assert late is not None and late.status is NotificationStatus.SEEN and late.updated_at == receipt_time
    assert queue.record_receipt(Channel.VIBER, "404", NotificationStatus.SEEN) is None


def test_undelivered_fails_a_sent_notification_once(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    sent_on_viber(delivery_queue, "777")
    report_time = clock.advance(5)
    failed = queue.record_undelivered(Channel.VIBER, "777", "device unreachable", "Failed: Delivery failed")
    assert failed is not None and failed.status is NotificationStatus.FAILED
    assert failed.result == "Failed: Delivery failed" and failed.updated_at == report_time
    assert [(a.outcome, a.error) for a in failed.attempts] == [
        (AttemptOutcome.SENT, None), (AttemptOutcome.PERMANENT_FAILURE, "device unreachable")]
    assert failed.attempts[-1].created_at == report_time
    assert failed.attempts[-1].provider_message_id == "777" and failed.attempts[-1].channel is Channel.VIBER
    assert failed == stored(delivery_queue, failed.id)
    assert queue.record_undelivered(Channel.VIBER, "777", "device unreachable", "Failed: Delivery failed") is None
    late = queue.record_receipt(Channel.VIBER, "777", NotificationStatus.SEEN)
    assert late is not None and late.status is NotificationStatus.FAILED
    assert queue.record_undelivered(Channel.VIBER, "404", "x", "Failed: Delivery failed") is None


def test_undelivered_after_delivered_changes_nothing(delivery_queue: QueueOverStore) -> None:
    queue = delivery_queue.queue
    sent_on_viber(delivery_queue, "778")
    queue.record_receipt(Channel.VIBER, "778", NotificationStatus.DELIVERED)
    assert queue.record_undelivered(Channel.VIBER, "778", "late", "Failed: Delivery failed") is None
    kept = queue.record_receipt(Channel.VIBER, "778", NotificationStatus.DELIVERED)
    assert kept is not None and kept.status is NotificationStatus.DELIVERED and len(kept.attempts) == 1


def test_undelivered_before_the_pass_ended_changes_nothing(delivery_queue: QueueOverStore) -> None:
    queue = delivery_queue.queue
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 1, 60)
    delivery_queue.notifications.add_attempt(
        claimed.id, DeliveryAttempt(Channel.VIBER, AttemptOutcome.SENT, provider_message_id="779"))
    assert queue.record_undelivered(Channel.VIBER, "779", "x", "Failed: Delivery failed") is None
    early = queue.record_receipt(Channel.VIBER, "779", NotificationStatus.DELIVERED)
    assert early is not None and early.status is NotificationStatus.SENDING


def test_depth_counts_waiting_work(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    assert queue.depth() == (0, None)
    first, _ = queue.enqueue(new())
    clock.advance(1)
    second, _ = queue.enqueue(new())
    count, oldest = queue.depth()
    assert count == 2 and oldest == first.created_at
    [claimed] = queue.claim("w1", 1, 60)  # being sent still waits
    assert claimed.id == first.id and queue.depth() == (2, first.created_at)
    claimed.status = NotificationStatus.SENT
    assert queue.complete(claimed, "w1")
    assert queue.depth() == (1, second.created_at)


def test_passes_end_together_and_a_lost_lease_keeps_its_attempts(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
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
    ended_at = clock.advance(1)
    assert queue.end_passes([(sent, "w1"), (lost, "w1"), (rescheduled, "w1")]) == [True, False, True]
    assert all(n.unsaved_attempts == [] and n.unsaved_callback is None for n in (sent, lost, rescheduled))
    assert all(n.updated_at == ended_at for n in (sent, lost, rescheduled))
    # The shop hears of the outcome that was written, with it; not of the lost lease's.
    assert delivery_queue.callbacks() == [(sent.id, StatusCallback("https://shop.example/hook",
                                                                   '{"status": "sent", "of": "sent"}'))]
    after = {n.id: stored(delivery_queue, n.id) for n in (sent, lost, rescheduled)}
    assert {i: n.status for i, n in after.items()} == {
        sent.id: NotificationStatus.SENT, rescheduled.id: NotificationStatus.QUEUED,
        lost.id: NotificationStatus.SENDING}  # w2's now: its outcome is not w1's to write
    assert after[sent.id].updated_at == ended_at and after[lost.id].updated_at != ended_at
    # Every attempt is written, the lost lease's too: it happened.
    assert [[a.outcome for a in after[n.id].attempts] for n in (sent, lost, rescheduled)] == [
        [AttemptOutcome.SENT], [AttemptOutcome.SENT], [AttemptOutcome.TRANSIENT_FAILURE]]
    # The lease taken over is w2's to end, and w1's leases are over.
    taken_over.status = NotificationStatus.SENT
    assert queue.complete(taken_over, "w2")
    assert queue.end_passes([(sent, "w1")]) == [False]


def test_a_batch_whose_outcomes_leave_columns_empty_is_written(delivery_queue: QueueOverStore) -> None:
    # PostgreSQL types a VALUES list from its rows: a column of NULLs alone must still fit the table.
    queue = delivery_queue.queue
    for order in ("ORD-1", "ORD-2"):
        queue.enqueue(new(order))
    claimed = queue.claim("w1", 10, 60)
    for notification in claimed:
        notification.status, notification.result = NotificationStatus.FAILED, "Failed: User not found"
        notification.next_attempt_at = notification.channel = notification.contact_id = None
    assert queue.end_passes([(notification, "w1") for notification in claimed]) == [True, True]
    assert queue.claim("w2", 10, 60) == []
    assert all(stored(delivery_queue, n.id).status is NotificationStatus.FAILED for n in claimed)


def test_a_batch_with_a_pass_the_store_refuses_writes_nothing(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    for order in ("ORD-1", "ORD-2"):
        queue.enqueue(new(order))
    good, refused = queue.claim("w1", 10, 60)
    attempt = DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT, created_at=clock.now())
    good.status, refused.status = NotificationStatus.SENT, NotificationStatus.SENT
    good.unsaved_attempts.append(attempt)
    good.unsaved_callback = StatusCallback("https://shop.example/hook", '{"status": "sent"}')
    refused.contact_id = 404  # a contact erased while the pass ran
    with pytest.raises(NotFound):
        queue.end_passes([(good, "w1"), (refused, "w1")])
    after = stored(delivery_queue, good.id)
    assert (after.status, after.attempts, delivery_queue.callbacks()) == (NotificationStatus.SENDING, [], [])
    # Nothing was written: the passes keep what they have to write, for another try.
    assert good.unsaved_attempts == [attempt] and good.unsaved_callback is not None
    refused.contact_id = None
    assert queue.end_passes([(good, "w1"), (refused, "w1")]) == [True, True]
    assert [a.outcome for a in stored(delivery_queue, good.id).attempts] == [AttemptOutcome.SENT]
    assert [notification_id for notification_id, _ in delivery_queue.callbacks()] == [good.id]


# --- the SQL queue alone: threads racing, PostgreSQL's wake-ups --------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def queue(engine: Engine, clock: ManualClock) -> SqlDeliveryQueue:
    return SqlDeliveryQueue(engine, clock.now)


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


def test_a_callback_written_with_a_pass_is_due_in_the_outbox_at_once(
        queue: SqlDeliveryQueue, engine: Engine, clock: ManualClock) -> None:
    queue.enqueue(new())
    [claimed] = queue.claim("w1", 1, 60)
    claimed.status = NotificationStatus.SENT
    claimed.unsaved_callback = StatusCallback("https://shop.example/hook", '{"status": "sent"}')
    assert queue.complete(claimed, "w1")
    [callback] = SqlCallbackOutbox(engine, clock.now).claim(10, lease_seconds=60)
    assert (callback.notification_id, callback.url, callback.body, callback.attempts) == (
        claimed.id, "https://shop.example/hook", '{"status": "sent"}', 1)


def test_postgres_enqueue_wakes_a_listening_worker(migrated_postgres_engine: Engine, clock: ManualClock) -> None:
    engine = migrated_postgres_engine
    wakeup = PostgresWakeup(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        assert wakeup.wait(0.1) is False  # connects and listens; nothing yet
        SqlDeliveryQueue(engine, clock.now).enqueue(new())
        assert wakeup.wait(5.0) is True
    finally:
        wakeup.close()
