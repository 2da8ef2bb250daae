"""The delivery worker: claims leased batches and sends them concurrently.

Sends wait on the messengers, not the CPU, so one process keeps many in flight on a thread pool.
Stopping (SIGTERM) stops claiming, lets the sends in flight finish, and gives back the rest.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from omnibot.domain.model import Contact, Notification
from omnibot.logs import context
from omnibot.ports import DeliveryQueue
from omnibot.services.delivery import DeliveryEngine

log = logging.getLogger(__name__)


class Wakeup(Protocol):
    def wait(self, timeout: float) -> bool: ...


def worker_name(role: str = "worker") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerConfig:
    concurrency: int = 64
    batch_size: int = 100
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0


class Worker:
    def __init__(self, queue: DeliveryQueue, engine: DeliveryEngine, wakeup: Wakeup, config: WorkerConfig,
                 owner: str | None = None, housekeeping: Callable[[], None] | None = None,
                 housekeeping_seconds: float = 300.0, heartbeat: Path | None = None) -> None:
        self._queue = queue
        self._engine = engine
        self._wakeup = wakeup
        self._config = config
        self.owner = owner or worker_name()
        self._housekeeping = housekeeping
        self._housekeeping_seconds = housekeeping_seconds
        self.stopping = threading.Event()
        self._heartbeat = heartbeat
        self._last_beat = 0.0

    def run(self) -> None:
        """Deliver until ``stopping`` is set, then drain: finish in-flight sends, release the rest."""
        log.info("worker.started owner=%s concurrency=%d", self.owner, self._config.concurrency)
        inflight: dict[Future[object], str] = {}
        next_housekeeping = 0.0
        with ThreadPoolExecutor(self._config.concurrency, thread_name_prefix="deliver") as pool:
            try:
                while not self.stopping.is_set():
                    inflight = {f: i for f, i in inflight.items() if not f.done()}
                    free = self._config.concurrency - len(inflight)
                    claimed = self._claim(min(free, self._config.batch_size)) if free > 0 else []
                    recipients = self._recipients(claimed)
                    for notification in claimed:
                        inflight[pool.submit(self._deliver, notification,
                                             recipients.get(notification.id))] = notification.id
                    if free <= 0:
                        wait(list(inflight), timeout=self._config.poll_seconds, return_when=FIRST_COMPLETED)
                    elif len(claimed) < min(free, self._config.batch_size):
                        self._wakeup.wait(self._config.poll_seconds)  # the queue is drained for now
                    next_housekeeping = self._maybe_housekeep(next_housekeeping)
                    self._beat()
            finally:
                self._drain(pool, inflight)
        log.info("worker.stopped owner=%s", self.owner)

    def _claim(self, limit: int) -> list[Notification]:
        try:
            return self._queue.claim(self.owner, limit, self._config.lease_seconds)
        except SQLAlchemyError as exc:
            # The database is away: keep trying; the pool reconnects once it is back.
            log.warning("worker.claim_failed error=%s", type(exc).__name__)
            self.stopping.wait(self._config.poll_seconds)
            return []

    def _recipients(self, claimed: list[Notification]) -> dict[str, Contact]:
        try:
            return self._engine.recipients_of(claimed)
        except SQLAlchemyError as exc:
            # Each pass then looks its customer up itself, as it would for an order link.
            log.warning("worker.recipients_failed error=%s", type(exc).__name__)
            return {}

    def _deliver(self, notification: Notification, recipient: Contact | None = None) -> None:
        # Its log lines carry the id of the request that created it.
        with context.request_id(notification.request_id):
            try:
                # A send the messenger accepted is written once the database is back, unless the
                # worker is told to stop first.
                self._engine.deliver(notification, self.owner, keep_trying=lambda: not self.stopping.is_set(),
                                     recipient=recipient)
            except Exception:
                # The lease runs out and another pass (here or elsewhere) takes it again.
                log.exception("worker.delivery_crashed id=%s", notification.id)

    def _drain(self, pool: ThreadPoolExecutor, inflight: dict[Future[object], str]) -> None:
        not_started = [i for f, i in inflight.items() if f.cancel()]
        pool.shutdown(wait=True)
        try:
            released = self._queue.release(not_started, self.owner)
        except SQLAlchemyError:
            released = 0  # their leases expire and another worker takes them
        log.info("worker.drained finished=%d released=%d", len(inflight) - len(not_started), released)

    def _beat(self) -> None:
        """Touch the heartbeat file: a container health check reads its age."""
        now = time.monotonic()
        if self._heartbeat is not None and now - self._last_beat >= 5:
            self._heartbeat.touch()
            self._last_beat = now

    def _maybe_housekeep(self, due: float) -> float:
        now = time.monotonic()
        if self._housekeeping is None or now < due:
            return due
        try:
            self._housekeeping()
        except SQLAlchemyError as exc:
            log.warning("worker.housekeeping_failed error=%s", type(exc).__name__)
        return now + self._housekeeping_seconds
