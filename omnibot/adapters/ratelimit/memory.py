"""Token buckets in this process's memory, for when a single process does all the sending."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence

from omnibot.adapters.ratelimit import gcra
from omnibot.ports import Limit


class InMemoryRateLimiter:
    """A ``RateLimiter`` whose buckets live in a dict guarded by one lock.

    ``now`` is a monotonic clock in seconds (a fake one in tests). Memory stays bounded by the
    buckets that are not yet full again: a bucket is dropped once its TAT has passed.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._tats: dict[str, float] = {}
        # (TAT, key) for every TAT ever stored, soonest first, so eviction never scans all buckets.
        # A key updated again leaves a stale entry behind; it is skipped when it comes up.
        self._refills: list[tuple[float, str]] = []
        self._pauses: dict[str, float] = {}

    def try_acquire_many(self, requests: Sequence[Sequence[Limit]]) -> list[float]:
        return [self.try_acquire(limits) for limits in requests]

    def try_acquire(self, limits: Sequence[Limit]) -> float:
        return self._take(limits, within=0.0)[1]

    def reserve(self, limits: Sequence[Limit], within: float) -> float | None:
        taken, wait = self._take(limits, within)
        return wait if taken else None

    def _take(self, limits: Sequence[Limit], within: float) -> tuple[bool, float]:
        """Take the tokens if they are due within ``within`` seconds: (taken, seconds until due
        when taken, else the wait before they could be taken now)."""
        for limit in limits:
            gcra.check(limit)
        with self._lock:
            now = self._now()
            self._evict(now)
            wait = 0.0
            taken: dict[str, float] = {}
            for limit in limits:
                paused_until = self._pauses.get(limit.key, now)
                wait = max(wait, paused_until - now)
                # A key listed twice takes two tokens: read the TAT this request already moved.
                tat, early = gcra.take(taken.get(limit.key, self._tats.get(limit.key)), now, limit)
                taken[limit.key] = tat
                wait = max(wait, early)
            if wait > within + gcra.EPSILON:
                return False, wait
            for key, tat in taken.items():
                self._tats[key] = tat
                heapq.heappush(self._refills, (tat, key))
            return True, wait

    def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            now = self._now()
            self._drop_ended_pauses(now)
            if now + seconds > self._pauses.get(key, now):
                self._pauses[key] = now + seconds

    def paused(self) -> dict[str, float]:
        with self._lock:
            now = self._now()
            self._drop_ended_pauses(now)
            return {key: until - now for key, until in self._pauses.items()}

    def bucket_count(self) -> int:
        """Buckets held in memory, i.e. not yet full again (for monitoring and tests)."""
        with self._lock:
            self._evict(self._now())
            return len(self._tats)

    def _evict(self, now: float) -> None:
        while self._refills and self._refills[0][0] <= now:
            _, key = heapq.heappop(self._refills)
            tat = self._tats.get(key)
            if tat is not None and tat <= now:
                del self._tats[key]

    def _drop_ended_pauses(self, now: float) -> None:
        for key in [key for key, until in self._pauses.items() if until <= now]:
            del self._pauses[key]
