"""Running workers: ``omnibot worker`` as a process, or one thread inside the embedded API."""

from __future__ import annotations

import atexit
import gc
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omnibot import bootstrap
from omnibot.domain.errors import RateLimiterUnavailable, StoreError
from omnibot.entrypoints.worker import Worker, WorkerConfig

log = logging.getLogger(__name__)
# A worker allocates a few hundred objects per message and keeps few of them; the collector's
# default (a young-generation pass every 700 allocations, scanning everything loaded at start
# in the older ones) cost ~30% of a pass's CPU in the engine's own benchmark (docs/decisions.md).
YOUNG_GENERATION_THRESHOLD = 10_000


def make_worker(services: bootstrap.Services, concurrency: int | None = None, heartbeat: Path | None = None) -> Worker:
    settings = services.settings
    concurrency = concurrency or settings.worker_concurrency
    config = WorkerConfig(concurrency=concurrency, lease_seconds=settings.lease_seconds,
                          store_threads=bootstrap.WORKER_STORE_THREADS,
                          bulk_concurrency=max(1, int(concurrency * settings.bulk_share)))
    return Worker(services.store.queue, services.delivery, services.store.wakeup, config,
                  housekeeping=lambda: bootstrap.housekeeping(services), heartbeat=heartbeat,
                  on_loop_end=services.async_http.close)


def start_callbacks(services: bootstrap.Services, stopping: threading.Event) -> threading.Thread:
    """A thread that POSTs due status callbacks to the shop until ``stopping`` is set."""
    return _start_outbox_loop("callbacks", services.callbacks.send_due, threading.Event(), 1.0, stopping)


# How long a worker in its own process leaves a queued reply unseen, at most; the embedded worker
# is told at once.
REPLY_POLL_SECONDS = 0.25


def start_replies(services: bootstrap.Services, stopping: threading.Event) -> threading.Thread:
    """A thread that sends the bot's queued replies until ``stopping`` is set."""
    return _start_outbox_loop("replies", services.replies.send_due, services.replies_waiting, REPLY_POLL_SECONDS,
                              stopping)


def _start_outbox_loop(name: str, send_due: Callable[[], int], waiting: threading.Event, idle_seconds: float,
                       stopping: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stopping.is_set():
            waiting.clear()
            try:
                sent = send_due()
            except (StoreError, RateLimiterUnavailable) as exc:
                log.warning("outbox.claim_failed outbox=%s error=%s", name, type(exc).__name__)
                sent = 0
            if not sent:
                waiting.wait(idle_seconds)

    thread = threading.Thread(target=loop, name=f"omnibot-{name}", daemon=True)
    thread.start()
    return thread


def run_forever(services: bootstrap.Services, concurrency: int | None = None, heartbeat: Path | None = None) -> None:
    """The ``omnibot worker`` process: SIGTERM and SIGINT stop it gracefully."""
    worker = make_worker(services, concurrency, heartbeat)

    def stop(signum: int, _frame: Any) -> None:
        log.info("worker.stopping signal=%s", signal.Signals(signum).name)
        worker.stopping.set()
        services.store.wakeup.close()  # an idle wait on the queue returns at once

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    start_callbacks(services, worker.stopping)
    start_replies(services, worker.stopping)
    # What was loaded to start (modules, settings, pools) lives as long as the process: the
    # collector need not scan it again and again.
    services.async_http.load()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    try:
        worker.run()
    finally:
        services.close()


def start_in_process(services: bootstrap.Services) -> Worker:
    """The embedded default: one worker thread beside the API, stopped cleanly at exit."""
    worker = make_worker(services)
    thread = threading.Thread(target=worker.run, name="omnibot-worker", daemon=True)
    thread.start()
    start_callbacks(services, worker.stopping)
    start_replies(services, worker.stopping)

    def stop() -> None:
        worker.stopping.set()
        services.store.wakeup.close()
        thread.join(timeout=services.settings.http_timeout_seconds + 5)

    atexit.register(stop)
    return worker
