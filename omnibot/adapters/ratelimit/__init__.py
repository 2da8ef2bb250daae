"""Rate limits for sending: token buckets behind the ``RateLimiter`` port.

Telegram allows a bot about 30 messages a second and a chat about one; exceeding either earns a
429 with ``retry_after``, which pauses the key. These limits belong to the bot, not to a process,
so they must hold across every worker process and thread that sends through it: the buckets live
in Redis and are updated by one atomic Lua script per acquire (``RedisRateLimiter``). When a
single process does all the sending (the embedded SQLite default, no Redis configured), buckets
in that process's memory enforce the same limits without a server (``InMemoryRateLimiter``).
Both keep each bucket as GCRA's single timestamp and forget it once the bucket is full again,
so a million chats cost nothing once they are idle.
"""

from __future__ import annotations

import redis

from omnibot.adapters.ratelimit.memory import InMemoryRateLimiter
from omnibot.adapters.ratelimit.redis_buckets import RedisRateLimiter
from omnibot.ports import RateLimiter

__all__ = ["InMemoryRateLimiter", "RedisRateLimiter", "make_rate_limiter"]


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Buckets in Redis at ``redis_url`` (shared by all workers), or in memory without one."""
    if not redis_url:
        return InMemoryRateLimiter()
    # Connecting is lazy; the timeouts keep a sender from hanging on a Redis that stopped answering.
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    return RedisRateLimiter(client)
