"""Group commit of delivery passes: the outcomes of passes that end at about the same time, on
any of a worker's threads, are written in one transaction.

A pass hands its outcome over and waits until it is durable, as it did when it wrote it itself.
One writer thread takes whatever is waiting, writes it with ``SqlDeliveryQueue.end_passes`` and
answers each pass; what arrives meanwhile goes in the next transaction. An idle worker writes a
lone pass at once (no added wait); a busy one writes hundreds of passes per round trip instead of
one transaction each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol

from omnibot.domain.errors import StoreUnavailable
from omnibot.domain.model import Channel, Notification, NotificationStatus
from omnibot.ports import DeliveryQueue

log = logging.getLogger(__name__)

MAX_PASSES_PER_TRANSACTION = 500
# Errors that say the database is away, not that one pass in the batch is wrong.
_OUTAGE = StoreUnavailable

_Waiting = tuple[Notification, str, "Future[bool]"]


class PassEndingQueue(DeliveryQueue, Protocol):
    def end_passes(self, passes: Sequence[tuple[Notification, str]]) -> list[bool]:
        """End many passes in one transaction; per pass, whether its lease was still held."""
        ...


class GroupCommitQueue:
    """The ``DeliveryQueue`` port over a queue that can end passes in groups (``SqlDeliveryQueue``)."""

    def __init__(self, queue: PassEndingQueue, max_passes: int = MAX_PASSES_PER_TRANSACTION) -> None:
        self._queue = queue
        self._max_passes = max_passes
        self._waiting: list[_Waiting] = []
        self._changed = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_forever, name="omnibot-group-commit", daemon=True)
        self._writer.start()

    def complete(self, notification: Notification, owner: str) -> bool:
        return self.end_later(notification, owner, complete=True).result()

    def reschedule(self, notification: Notification, owner: str) -> bool:
        return self.end_later(notification, owner, complete=False).result()

    def end_later(self, notification: Notification, owner: str, *, complete: bool) -> Future[bool]:
        """Hand a pass's outcome over; the future answers, once it is durable, whether the lease
        was still held. An event loop awaits it without giving a thread to each pass."""
        if not complete:
            notification.status = NotificationStatus.QUEUED
        ended: Future[bool] = Future()
        with self._changed:
            if not self._closed:
                self._waiting.append((notification, owner, ended))
                self._changed.notify()
                return ended
        try:
            ended.set_result(self._queue.end_passes([(notification, owner)])[0])
        except Exception as error:
            ended.set_exception(error)
        return ended

    @property
    def waiting(self) -> int:
        """Passes handed over and not yet written."""
        with self._changed:
            return len(self._waiting)

    def close(self) -> None:
        """Write what is waiting, then stop the writer; later passes write on their own."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._writer.join()

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closed:
                    self._changed.wait()
                if not self._waiting:
                    return
                batch, self._waiting = self._waiting[: self._max_passes], self._waiting[self._max_passes:]
            self._write(batch)

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            held = self._queue.end_passes([(notification, owner) for notification, owner, _ in batch])
        except _OUTAGE as error:
            for *_, ended in batch:
                ended.set_exception(error)
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0][2].set_exception(error)
                return
            # One pass the database refuses (say, text it cannot store) must not fail the others.
            log.warning("queue.group_write_failed passes=%d error=%s", len(batch), type(error).__name__)
            for waiting in batch:
                self._write([waiting])
            return
        for (*_, ended), still_held in zip(batch, held, strict=True):
            ended.set_result(still_held)

    # The rest of the port, as the queue does it.
    def enqueue(self, notification: Notification, idempotency_key: str | None = None,
                fingerprint: str | None = None, lease_owner: str | None = None,
                lease_seconds: float = 0) -> tuple[Notification, bool]:
        return self._queue.enqueue(notification, idempotency_key, fingerprint, lease_owner, lease_seconds)

    def claim(self, owner: str, limit: int, lease_seconds: float, bulk_limit: int | None = None) -> list[Notification]:
        return self._queue.claim(owner, limit, lease_seconds, bulk_limit)

    def release(self, notification_ids: Sequence[str], owner: str) -> int:
        return self._queue.release(notification_ids, owner)

    def record_receipt(self, channel: Channel, provider_message_id: str,
                       status: NotificationStatus) -> Notification | None:
        return self._queue.record_receipt(channel, provider_message_id, status)

    def record_undelivered(self, channel: Channel, provider_message_id: str, error: str,
                           result: str) -> Notification | None:
        return self._queue.record_undelivered(channel, provider_message_id, error, result)

    def forget_idempotency_keys(self, older_than: datetime) -> int:
        return self._queue.forget_idempotency_keys(older_than)

    def get(self, notification_id: str) -> Notification | None:
        return self._queue.get(notification_id)

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        return self._queue.anonymize(phone, contact_id)

    def depth(self) -> tuple[int, datetime | None]:
        return self._queue.depth()
