"""When to try again after a transient failure: exponential backoff with full jitter, bounded."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures retry after ``base * 2**n`` seconds (jittered, capped at ``cap``),
    until ``max_attempts`` transient failures on one channel or the notification is ``max_age`` old.
    """

    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 8
    max_age: timedelta = timedelta(hours=24)
    jitter: Callable[[float], float] = lambda ceiling: random.uniform(ceiling / 2, ceiling)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th transient failure (1 = the first)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(failures - 1, 0))
        delay = self.jitter(ceiling)
        # The messenger's own retry_after is a floor: asking earlier only earns another 429.
        return max(delay, retry_after or 0.0)

    def gives_up(self, failures: int, created_at: datetime, now: datetime) -> bool:
        return failures >= self.max_attempts or now - created_at >= self.max_age
