"""Waking idle workers when work arrives; only promptness depends on it, since workers also poll."""

from __future__ import annotations

from typing import Protocol


class Wakeup(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until work may have arrived (True) or ``timeout`` seconds passed (False)."""
        ...

    def notify(self) -> None:
        """Work arrived: wake the waiting workers (of every process sharing the store)."""
        ...

    def close(self) -> None:
        """Release what it holds at shutdown; a wait in progress ends."""
        ...
