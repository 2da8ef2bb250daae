"""Group commit: passes ending together on many threads are written in one transaction, each
answered as if it had written alone; one pass the database refuses fails alone."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from omnibot.adapters.db.group_commit import GroupCommitQueue
from omnibot.domain.errors import StoreError, StoreUnavailable
from omnibot.domain.model import AttemptOutcome, Channel, DeliveryAttempt, Notification, NotificationStatus
from tests.fakes import InMemoryDeliveryQueue, InMemoryNotificationRepository, ManualClock

OWNER = "worker:test"


class RecordingQueue(InMemoryDeliveryQueue):
    """Records each group it is asked to write; the first write can be held until a test lets it go."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(InMemoryNotificationRepository(now=clock.now), clock.now)
        self.groups: list[list[str]] = []
        self.hold_first = threading.Event()
        self.hold_first.set()
        self.refused: set[str] = set()
        self.outage = False
        self.writing = threading.Event()  # set once the writer is inside its first write

    def end_passes(self, passes: Sequence[tuple[Notification, str]]) -> list[bool]:
        self.writing.set()
        if not self.groups:
            self.hold_first.wait()
        self.groups.append([n.id for n, _ in passes])
        if self.outage:
            raise StoreUnavailable("OperationalError", lost_connection=True)
        if any(n.id in self.refused for n, _ in passes):
            raise StoreError("DataError")
        return super().end_passes(passes)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue(ManualClock())


@pytest.fixture
def group(queue: RecordingQueue) -> Iterator[GroupCommitQueue]:
    group = GroupCommitQueue(queue)
    yield group
    queue.hold_first.set()
    group.close()


def claimed(queue: RecordingQueue, count: int) -> list[Notification]:
    for _ in range(count):
        queue.enqueue(Notification(id=str(uuid.uuid4()), phone="+380501234567", order_id="ORD-1", items=[]))
    passes = queue.claim(OWNER, count, 60)
    for notification in passes:
        attempt = DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT)
        notification.attempts.append(attempt)
        notification.unsaved_attempts.append(attempt)
        notification.status = NotificationStatus.SENT
    return passes


def end_all(group: GroupCommitQueue, passes: list[Notification], pool: ThreadPoolExecutor) -> list[Future[bool]]:
    return [pool.submit(group.complete, notification, OWNER) for notification in passes]


def wait_until_waiting(group: GroupCommitQueue, count: int) -> None:
    while group.waiting < count:
        threading.Event().wait(0.001)


def test_a_lone_pass_is_written_at_once_and_answered(group: GroupCommitQueue, queue: RecordingQueue) -> None:
    [notification] = claimed(queue, 1)
    assert group.complete(notification, OWNER) is True
    assert queue.groups == [[notification.id]]
    stored = queue._notifications.get(notification.id)  # noqa: SLF001 - the fake's store
    assert stored is not None and [a.outcome for a in stored.attempts] == [AttemptOutcome.SENT]


def test_passes_ending_while_a_write_runs_go_together_in_the_next(group: GroupCommitQueue,
                                                                   queue: RecordingQueue) -> None:
    first, *rest = claimed(queue, 11)
    queue.hold_first.clear()  # the first write is slow: the other ten end meanwhile
    with ThreadPoolExecutor(11) as pool:
        ended = end_all(group, [first], pool)
        queue.writing.wait()  # the writer has taken the first
        ended += end_all(group, rest, pool)
        wait_until_waiting(group, 10)
        queue.hold_first.set()
        assert [future.result() for future in ended] == [True] * 11
    assert [len(written) for written in queue.groups] == [1, 10]


def test_a_pass_the_database_refuses_fails_alone(group: GroupCommitQueue, queue: RecordingQueue) -> None:
    first, poison, *rest = claimed(queue, 6)
    queue.refused.add(poison.id)
    queue.hold_first.clear()
    with ThreadPoolExecutor(6) as pool:
        ended = end_all(group, [first], pool)
        queue.writing.wait()
        ended += end_all(group, [poison, *rest], pool)
        wait_until_waiting(group, 5)
        queue.hold_first.set()
        with pytest.raises(StoreError):
            ended[1].result()
        assert [future.result() for future in ended if future is not ended[1]] == [True] * 5


def test_an_outage_fails_the_whole_group_without_trying_each_pass(group: GroupCommitQueue,
                                                                    queue: RecordingQueue) -> None:
    passes = claimed(queue, 4)
    queue.outage = True
    with ThreadPoolExecutor(4) as pool:
        ended = end_all(group, passes, pool)
        for future in ended:
            with pytest.raises(StoreUnavailable):
                future.result()
    assert sum(len(written) for written in queue.groups) == 4  # each pass tried once, in its group


def test_a_lost_lease_is_answered_false_to_its_pass_only(group: GroupCommitQueue, queue: RecordingQueue) -> None:
    mine, stolen = claimed(queue, 2)
    assert group.complete(stolen, "worker:other") is False
    assert group.complete(mine, OWNER) is True


def test_after_close_passes_write_on_their_own(queue: RecordingQueue) -> None:
    group = GroupCommitQueue(queue)
    group.close()
    [notification] = claimed(queue, 1)
    assert group.reschedule(notification, OWNER) is True
    assert notification.status is NotificationStatus.QUEUED and queue.groups == [[notification.id]]
