"""The arithmetic of one rate limit, shared by both stores (the Redis Lua script mirrors ``take``).

GCRA, the generic cell rate algorithm, is a token bucket kept as a single number per key: the
*theoretical arrival time* (TAT), the moment the bucket will be full again. Taking a token pushes
the TAT one emission interval (``1 / rate``) further; the token may be taken while the TAT stays
within ``burst`` intervals of now. A missing TAT means a full bucket, so a bucket whose TAT has
passed can be forgotten without changing any answer: that is what keeps idle chats from using
memory in-process and keys in Redis.
"""

from __future__ import annotations

import math

from omnibot.ports import Limit

# Float sums of 1/rate drift by ~1e-16 s; without a tolerance the last token of a burst taken at
# the exact moment it is due would be refused for a femtosecond.
EPSILON = 1e-9


def check(limit: Limit) -> None:
    """Raise ``ValueError`` for a bucket that could never give a token (or never refill)."""
    if not (math.isfinite(limit.rate) and limit.rate > 0):
        raise ValueError(f"rate of {limit.key!r} must be a positive number, got {limit.rate!r}")
    if not (math.isfinite(limit.burst) and limit.burst >= 1):
        raise ValueError(f"burst of {limit.key!r} must be at least 1, got {limit.burst!r}")


def take(tat: float | None, now: float, limit: Limit) -> tuple[float, float]:
    """Take one token at ``now`` from a bucket that is full again at ``tat`` (``None``: full now).

    Returns the bucket's TAT once the token is taken, and the seconds to wait before it may be
    taken (0.0: now). The caller stores the new TAT only when every bucket of the request agrees.
    """
    interval = 1.0 / limit.rate
    new_tat = max(now if tat is None else tat, now) + interval
    early = new_tat - now - limit.burst * interval
    return new_tat, (early if early > EPSILON else 0.0)
