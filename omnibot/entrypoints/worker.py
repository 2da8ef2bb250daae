"""The delivery worker: claims leased batches and delivers them on one event loop.

Sends wait on the messengers, not the CPU: an event loop keeps hundreds in flight without a thread
each (``WORKER_CONCURRENCY``, 512 by default). Each pass is a task running
``DeliveryEngine.deliver_async``; its calls to the database and the rate limiter run on a few
threads, and the outcomes of passes that end together are written in one transaction (the
queue's group commit). Stopping (SIGTERM) stops claiming and lets the passes in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from omnibot.bootstrap import worker_name
from omnibot.domain.errors import StoreError
from omnibot.domain.model import Contact, Notification, Priority
from omnibot.entrypoints.store_threads import StoreThreads
from omnibot.logs import context
from omnibot.ports import DeliveryQueue, Wakeup
from omnibot.services.delivery import DeliveryEngine

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class WorkerConfig:
    concurrency: int = 512
    batch_size: int = 200
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    # Threads for the passes' calls to the database and the rate limiter: a pass holds one only
    # for such a call, never while it waits on a messenger.
    store_threads: int = 8
    # Bulk passes in flight at most (None: as many as ``concurrency``): the other slots stay free
    # for normal and high notifications, which are claimed the moment they arrive.
    bulk_concurrency: int | None = None


class Worker:
    def __init__(self, queue: DeliveryQueue, delivery: DeliveryEngine, wakeup: Wakeup, config: WorkerConfig,
                 owner: str | None = None, housekeeping: Callable[[], None] | None = None,
                 housekeeping_seconds: float = 300.0, heartbeat: Path | None = None,
                 on_loop_end: Callable[[], Awaitable[None]] | None = None) -> None:
        self._queue = queue
        self._delivery = delivery
        self._wakeup = wakeup
        self._config = config
        self.owner = owner or worker_name()
        self._housekeeping = housekeeping
        self._housekeeping_seconds = housekeeping_seconds
        self.stopping = threading.Event()
        self._heartbeat = heartbeat
        self._last_beat = 0.0
        self._on_loop_end = on_loop_end
        self._store: StoreThreads | None = None
        # Claim again once this many passes have ended: a batch per round trip, not a pass.
        self._refill_at = max(1, min(config.batch_size, config.concurrency) // 2)
        self._bulk_cap = min(config.bulk_concurrency or config.concurrency, config.concurrency)
        self._bulk_refill_at = max(1, min(config.batch_size, self._bulk_cap) // 2)

    def run(self) -> None:
        """Deliver until ``stopping`` is set, then drain: the passes in flight finish."""
        asyncio.run(self._run())

    async def _run(self) -> None:
        log.info("worker.started owner=%s concurrency=%d", self.owner, self._config.concurrency)
        store = self._store = StoreThreads(self._config.store_threads)
        inflight: set[asyncio.Task[None]] = set()
        bulk: set[asyncio.Task[None]] = set()
        # Set when enough passes (or bulk passes) have ended to claim another batch; waiting on the
        # tasks themselves would register a callback on each of hundreds at every wake-up.
        room, bulk_room = asyncio.Event(), asyncio.Event()
        arrived = self._listen_for_arrivals()

        def ended(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            if task in bulk:
                bulk.discard(task)
                if self._bulk_cap - len(bulk) >= self._bulk_refill_at:
                    bulk_room.set()
            if self._config.concurrency - len(inflight) >= self._refill_at:
                room.set()

        next_housekeeping = 0.0
        try:
            while not self.stopping.is_set():
                free = self._config.concurrency - len(inflight)
                wanted = min(free, self._config.batch_size)
                if inflight and (wanted == 0 or (wanted < self._refill_at and not arrived.is_set())):
                    # A batch per round trip, not a pass: wait for room for one, unless something
                    # was enqueued meanwhile (a high notification must not wait for a batch of room).
                    room.clear()
                    await _first_of([room.wait()] + ([arrived.wait()] if wanted else []), self._config.poll_seconds)
                else:
                    bulk_limit = max(0, self._bulk_cap - len(bulk))
                    arrived.clear()  # what is enqueued from here on wakes the wait below
                    claimed = await self._blocking(self._claim, wanted, bulk_limit)
                    recipients = await self._blocking(self._recipients, claimed) if claimed else {}
                    for notification in claimed:
                        task = asyncio.create_task(self._deliver(notification, recipients.get(notification.id)))
                        inflight.add(task)
                        if notification.priority is Priority.BULK:
                            bulk.add(task)
                        task.add_done_callback(ended)
                    if len(claimed) < wanted:
                        # Nothing more is due, or only bulk beyond its share: wait until something
                        # is enqueued, or until bulk passes have ended (the queue may hold more).
                        bulk_room.clear()
                        waits = [arrived.wait()] + ([bulk_room.wait()] if bulk_limit < wanted else [])
                        await _first_of(waits, self._config.poll_seconds)
                next_housekeeping = await self._maybe_housekeep(next_housekeeping)
                self._beat()
        finally:
            finished = len(inflight)
            if inflight:
                await asyncio.wait(inflight)
            log.info("worker.drained finished=%d", finished)
            if self._on_loop_end is not None:
                await self._on_loop_end()
            store.shutdown(wait=True)
        log.info("worker.stopped owner=%s", self.owner)

    def _listen_for_arrivals(self) -> asyncio.Event:
        """An event the loop can wait on, set whenever the queue's wake-up fires: a thread waits on
        the wake-up (a blocking LISTEN), so the loop never holds a store thread for it."""
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()

        def listen() -> None:
            while not self.stopping.is_set():
                if self._wakeup.wait(self._config.poll_seconds) or self.stopping.is_set():
                    # Stopping closes the wake-up, which ends its wait: the loop then sees the stop at once.
                    with contextlib.suppress(RuntimeError):  # the loop has already ended
                        loop.call_soon_threadsafe(arrived.set)

        threading.Thread(target=listen, name="worker-wakeup", daemon=True).start()
        return arrived

    async def _blocking(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._store, function, *args)

    def _claim(self, limit: int, bulk_limit: int) -> list[Notification]:
        try:
            return self._queue.claim(self.owner, limit, self._config.lease_seconds, bulk_limit)
        except StoreError as exc:
            # The database is away: keep trying; the pool reconnects once it is back.
            log.warning("worker.claim_failed error=%s", exc.reason)
            self.stopping.wait(self._config.poll_seconds)
            return []

    def _recipients(self, claimed: list[Notification]) -> dict[str, Contact]:
        try:
            return self._delivery.recipients_of(claimed)
        except StoreError as exc:
            # Each pass then looks its customer up itself, as it would for an order link.
            log.warning("worker.recipients_failed error=%s", exc.reason)
            return {}

    async def _deliver(self, notification: Notification, recipient: Contact | None = None) -> None:
        # Its log lines carry the id of the request that created it (each task has its own context).
        context.bind(notification.request_id)
        try:
            # A send the messenger accepted is written once the database is back, unless the
            # worker is told to stop first.
            await self._delivery.deliver_async(notification, self.owner, keep_trying=lambda: not self.stopping.is_set(),
                                             recipient=recipient, blocking=self._store)
        except Exception:
            # The lease runs out and another pass (here or elsewhere) takes it again.
            log.exception("worker.delivery_crashed id=%s", notification.id)

    def _beat(self) -> None:
        """Touch the heartbeat file: a container health check reads its age."""
        now = time.monotonic()
        if self._heartbeat is not None and now - self._last_beat >= 5:
            self._heartbeat.touch()
            self._last_beat = now

    async def _maybe_housekeep(self, due: float) -> float:
        now = time.monotonic()
        if self._housekeeping is None or now < due:
            return due
        try:
            await self._blocking(self._housekeeping)
        except StoreError as exc:
            log.warning("worker.housekeeping_failed error=%s", exc.reason)
        return now + self._housekeeping_seconds


async def _first_of(waits: list[Coroutine[Any, Any, Any]], timeout: float) -> None:
    """Until the first of ``waits`` is done, or ``timeout``; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
