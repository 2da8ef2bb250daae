"""Waking idle workers when work arrives: ``LISTEN`` on PostgreSQL, an Event in one process.

Wake-ups only make workers prompt; correctness never depends on them, since workers also poll.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from omnibot.adapters.db.queue import WAKEUP_CHANNEL

log = logging.getLogger(__name__)


class LocalWakeup:
    """For the embedded default: the API and its in-process worker share this object."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken

    def close(self) -> None:
        self._event.set()


class PostgresWakeup:
    """A dedicated autocommit connection that LISTENs for the queue's NOTIFY; reconnects when lost."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def notify(self) -> None:
        """Enqueues NOTIFY in their own transaction; nothing to do here."""

    def wait(self, timeout: float) -> bool:
        try:
            connection = self._connect()
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except psycopg.Error as exc:
            log.warning("worker.listen_lost error=%s", type(exc).__name__)
            self.close()
            time.sleep(min(timeout, 1.0))
            return False

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            self._connection.execute(f"LISTEN {WAKEUP_CHANNEL}")
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
