"""Claims take priorities in order, on the in-memory queue, SQLite and PostgreSQL alike: high first,
then leases run out, then normal, then bulk, with bulk held to its own limit."""

from __future__ import annotations

import uuid
from datetime import timedelta

from omnibot.domain.model import Notification, Priority
from omnibot.ports import DeliveryQueue
from tests.conftest import QueueOverStore
from tests.fakes import ManualClock


def enqueue(queue: DeliveryQueue, clock: ManualClock, priority: Priority, order: str) -> str:
    notification = Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id=order, items=[],
                                priority=priority)
    queue.enqueue(notification)
    clock.advance(0.001)  # each one due a little after the one before
    return order


def test_high_comes_first_then_normal_then_bulk_each_in_its_due_order(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    for n in range(3):
        enqueue(queue, clock, Priority.BULK, f"bulk-{n}")
    enqueue(queue, clock, Priority.NORMAL, "normal-0")
    enqueue(queue, clock, Priority.HIGH, "high-0")
    enqueue(queue, clock, Priority.NORMAL, "normal-1")
    enqueue(queue, clock, Priority.HIGH, "high-1")
    claimed = queue.claim("w1", 5, lease_seconds=60)
    assert [n.order_id for n in claimed] == ["high-0", "high-1", "normal-0", "normal-1", "bulk-0"]
    assert [n.priority for n in claimed] == [Priority.HIGH] * 2 + [Priority.NORMAL] * 2 + [Priority.BULK]
    assert [n.order_id for n in queue.claim("w2", 5, lease_seconds=60)] == ["bulk-1", "bulk-2"]


def test_a_lease_run_out_comes_before_normal_ones_but_after_high(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    enqueue(queue, clock, Priority.BULK, "abandoned")
    [abandoned] = queue.claim("dead-worker", 1, lease_seconds=10)
    clock.advance(11)
    enqueue(queue, clock, Priority.NORMAL, "normal")
    enqueue(queue, clock, Priority.HIGH, "high")
    # Taken before the normal one; in the batch, in the order of its own priority.
    assert [n.order_id for n in queue.claim("w1", 2, lease_seconds=60)] == ["high", "abandoned"]
    assert [n.order_id for n in queue.claim("w1", 2, lease_seconds=60)] == ["normal"]
    assert abandoned.order_id == "abandoned"


def test_bulk_is_held_to_its_own_limit_while_the_rest_fill_the_batch(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    for n in range(5):
        enqueue(queue, clock, Priority.BULK, f"bulk-{n}")
    enqueue(queue, clock, Priority.NORMAL, "normal")
    assert [n.order_id for n in queue.claim("w1", 10, lease_seconds=60, bulk_limit=2)] == \
        ["normal", "bulk-0", "bulk-1"]
    assert queue.claim("w1", 10, lease_seconds=60, bulk_limit=0) == []
    assert queue.claim("w1", 10, lease_seconds=60, bulk_limit=-1) == []  # no room is no room
    assert [n.order_id for n in queue.claim("w1", 1, lease_seconds=60, bulk_limit=5)] == ["bulk-2"]
    assert [n.order_id for n in queue.claim("w1", 10, lease_seconds=60)] == ["bulk-3", "bulk-4"]


def test_a_bulk_notification_not_yet_due_is_not_claimed(delivery_queue: QueueOverStore) -> None:
    queue, clock = delivery_queue.queue, delivery_queue.clock
    later = Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id="later", items=[],
                         priority=Priority.BULK, next_attempt_at=clock.now() + timedelta(minutes=5))
    queue.enqueue(later)
    assert queue.claim("w1", 10, lease_seconds=60) == []
    clock.advance(301)
    assert [n.order_id for n in queue.claim("w1", 10, lease_seconds=60)] == ["later"]
