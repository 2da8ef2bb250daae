"""Token buckets shared by every process sending through one bot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    """One token bucket: ``rate`` tokens a second, holding at most ``burst``."""

    key: str
    rate: float
    burst: float


class RateLimiter(Protocol):
    """Token buckets shared by every process that sends through the same bot."""

    def try_acquire(self, limits: Sequence[Limit]) -> float:
        """Take one token from every bucket, or from none.

        Returns 0.0 when taken; otherwise the seconds to wait before all could be taken
        (including any pause in force on one of the keys). Raises ``RateLimiterUnavailable``
        when the buckets cannot be read.
        """
        ...

    def try_acquire_many(self, requests: Sequence[Sequence[Limit]]) -> list[float]:
        """``try_acquire`` for each request in turn, in one call (one round trip to a shared
        store): per request, 0.0 when its tokens were taken, else its wait."""
        ...

    def reserve(self, limits: Sequence[Limit], within: float) -> float | None:
        """Take one token from every bucket, now or at the first moment all could give one if
        that is at most ``within`` seconds away: the seconds until the reserved tokens are due
        (0.0: now), during which the caller waits instead of asking again. None, with nothing
        taken, when that moment (or a pause in force) is further away. Those who reserve are served
        in turn, without asking again and again."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Refuse every acquire that touches ``key`` for ``seconds`` (a 429's ``retry_after``).

        Raises ``RateLimiterUnavailable`` when the pause cannot be stored.
        """
        ...

    def paused(self) -> dict[str, float]:
        """Pauses in force: key → seconds left. Raises ``RateLimiterUnavailable`` when they cannot be read."""
        ...
