"""Token buckets in Redis, shared by every worker process on every host."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis

from omnibot.adapters.ratelimit import gcra
from omnibot.domain.errors import RateLimiterUnavailable
from omnibot.ports import Limit

# One atomic round trip per acquire: check every pause and bucket, then move all TATs or none.
# Mirrors gcra.take. Time is the server's (TIME), so the hosts' clocks never have to agree.
# It is counted from 2023-11 rather than 1970 because a double near 1.7e9 s only resolves ~0.24 µs,
# too coarse for the interval of a fast bucket; the tolerance is TIME's resolution, 1 µs.
# KEYS: bucket and pause key of each limit, in turn.  ARGV: rate and burst of each limit, in turn.
_ACQUIRE = """
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) + tonumber(t[2]) / 1000000
local wait = 0
local tats = {}
for i = 1, #KEYS / 2 do
  local bucket = KEYS[2 * i - 1]
  local pause_ms = redis.call('PTTL', KEYS[2 * i])
  if pause_ms > 0 then wait = math.max(wait, pause_ms / 1000) end
  local interval = 1 / tonumber(ARGV[2 * i - 1])
  local tat = tats[bucket] or tonumber(redis.call('GET', bucket)) or now
  tat = math.max(tat, now) + interval
  local early = tat - now - tonumber(ARGV[2 * i]) * interval
  if early > 0.000001 then wait = math.max(wait, early) end
  tats[bucket] = tat
end
if wait > 0 then return string.format('%.17g', wait) end
for bucket, tat in pairs(tats) do
  redis.call('SET', bucket, string.format('%.17g', tat), 'PX', math.max(1, math.ceil((tat - now) * 1000)))
end
return '0'
"""

# KEYS: the pause key, the index of pauses.  ARGV: milliseconds, the limit's key.
# Never shortens a pause in force; the index (for ``paused``) lives as long as its longest pause.
_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) >= ms then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ms)
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ms, ARGV[2])
if redis.call('PTTL', KEYS[2]) < ms then redis.call('PEXPIRE', KEYS[2], ms) end
return 1
"""

# KEYS: the index of pauses.  Returns key, milliseconds left, key, milliseconds left, ...
_PAUSED = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local found = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #found, 2 do
  out[i] = found[i]
  out[i + 1] = string.format('%.17g', tonumber(found[i + 1]) - now_ms)
end
return out
"""


class RedisRateLimiter:
    """A ``RateLimiter`` on a Redis server, atomic across processes through Lua scripts.

    Each limit key ``k`` lives at ``<prefix>bucket:k`` (its TAT, expiring once the bucket is full
    again) and, while paused, ``<prefix>pause:k`` (expiring when the pause ends).
    """

    def __init__(self, client: redis.Redis, prefix: str = "omnibot:rl:") -> None:
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._paused = client.register_script(_PAUSED)

    def try_acquire(self, limits: Sequence[Limit]) -> float:
        if not limits:
            return 0.0
        keys: list[str] = []
        args: list[float] = []
        for limit in limits:
            gcra.check(limit)
            keys += [self._bucket_key(limit.key), self._pause_key(limit.key)]
            args += [limit.rate, limit.burst]
        with _redis_answers():
            return float(self._acquire(keys=keys, args=[repr(arg) for arg in args]))

    def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with _redis_answers():
            self._pause(keys=[self._pause_key(key), self._index_key()], args=[math.ceil(seconds * 1000), key])

    def paused(self) -> dict[str, float]:
        with _redis_answers():
            found = self._paused(keys=[self._index_key()])
        return {_text(key): float(ms) / 1000 for key, ms in zip(found[::2], found[1::2], strict=True)}

    def _bucket_key(self, key: str) -> str:
        return f"{self._prefix}bucket:{key}"

    def _pause_key(self, key: str) -> str:
        return f"{self._prefix}pause:{key}"

    def _index_key(self) -> str:
        return f"{self._prefix}pauses"


@contextmanager
def _redis_answers() -> Iterator[None]:
    """Redis's own errors as the port's: the callers decide what an absent limiter means."""
    try:
        yield
    except redis.RedisError as exc:
        raise RateLimiterUnavailable(f"Redis rate limiter: {type(exc).__name__}") from exc


def _text(value: bytes | str) -> str:
    """Keys come back as bytes unless the client was made with ``decode_responses=True``."""
    return value.decode() if isinstance(value, bytes) else value
