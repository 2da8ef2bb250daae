"""Token buckets in Redis, shared by every worker process on every host."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis

from omnibot.adapters.ratelimit import gcra
from omnibot.domain.errors import RateLimiterUnavailable
from omnibot.ports import Limit

# One atomic round trip for many acquires (the sends a worker's passes ask for at once): each
# request checks every pause and bucket of its limits, then moves all their TATs or none; a later
# request sees the TATs an earlier one moved. Mirrors gcra.take. Time is the server's (TIME), so
# the hosts' clocks never have to agree. It is counted from 2023-11 rather than 1970 because a
# double near 1.7e9 s only resolves ~0.24 µs, too coarse for the interval of a fast bucket; the
# tolerance is TIME's resolution, 1 µs.
# KEYS: bucket and pause key of each limit of each request, in turn.
# ARGV: for each request, its number of limits, then the rate and burst of each of its limits.
_ACQUIRE_MANY = """
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) + tonumber(t[2]) / 1000000
local tats = {}
local waits = {}
local k, a, r = 1, 1, 1
while a <= #ARGV do
  local wait = 0
  local taken = {}
  for _ = 1, tonumber(ARGV[a]) do
    local bucket = KEYS[k]
    local pause_ms = redis.call('PTTL', KEYS[k + 1])
    if pause_ms > 0 then wait = math.max(wait, pause_ms / 1000) end
    local interval = 1 / tonumber(ARGV[a + 1])
    local tat = taken[bucket] or tats[bucket] or tonumber(redis.call('GET', bucket)) or now
    tat = math.max(tat, now) + interval
    local early = tat - now - tonumber(ARGV[a + 2]) * interval
    if early > 0.000001 then wait = math.max(wait, early) end
    taken[bucket] = tat
    k, a = k + 2, a + 2
  end
  a = a + 1
  if wait == 0 then
    for bucket, tat in pairs(taken) do tats[bucket] = tat end
  end
  waits[r] = string.format('%.17g', wait)
  r = r + 1
end
for bucket, tat in pairs(tats) do
  redis.call('SET', bucket, string.format('%.17g', tat), 'PX', math.max(1, math.ceil((tat - now) * 1000)))
end
return waits
"""

# One reservation: the tokens of every bucket of one request, due now or within ARGV[1] seconds
# (their TATs moved, the wait returned), or nothing taken and -1. KEYS as _ACQUIRE_MANY's; ARGV: the
# horizon, then the rate and burst of each limit.
_RESERVE = """
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) + tonumber(t[2]) / 1000000
local within = tonumber(ARGV[1])
local wait = 0
local taken = {}
local a = 2
for k = 1, #KEYS, 2 do
  local bucket = KEYS[k]
  local pause_ms = redis.call('PTTL', KEYS[k + 1])
  if pause_ms > 0 then wait = math.max(wait, pause_ms / 1000) end
  local interval = 1 / tonumber(ARGV[a])
  local tat = taken[bucket] or tonumber(redis.call('GET', bucket)) or now
  tat = math.max(tat, now) + interval
  local early = tat - now - tonumber(ARGV[a + 1]) * interval
  if early > 0.000001 then wait = math.max(wait, early) end
  taken[bucket] = tat
  a = a + 2
end
if wait > within + 0.000001 then return '-1' end
for bucket, tat in pairs(taken) do
  redis.call('SET', bucket, string.format('%.17g', tat), 'PX', math.max(1, math.ceil((tat - now) * 1000)))
end
return string.format('%.17g', wait)
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
        self._acquire_many = client.register_script(_ACQUIRE_MANY)
        self._reserve = client.register_script(_RESERVE)
        self._pause = client.register_script(_PAUSE)
        self._paused = client.register_script(_PAUSED)

    def try_acquire(self, limits: Sequence[Limit]) -> float:
        return self.try_acquire_many([limits])[0]

    def try_acquire_many(self, requests: Sequence[Sequence[Limit]]) -> list[float]:
        keys: list[str] = []
        args: list[str] = []
        for limits in requests:
            args.append(str(len(limits)))
            for limit in limits:
                gcra.check(limit)
                keys += [self._bucket_key(limit.key), self._pause_key(limit.key)]
                args += [repr(float(limit.rate)), repr(float(limit.burst))]
        if not keys:
            return [0.0] * len(requests)
        with _redis_answers():
            return [float(wait) for wait in self._acquire_many(keys=keys, args=args)]

    def reserve(self, limits: Sequence[Limit], within: float) -> float | None:
        keys: list[str] = []
        args: list[str] = [repr(float(within))]
        for limit in limits:
            gcra.check(limit)
            keys += [self._bucket_key(limit.key), self._pause_key(limit.key)]
            args += [repr(float(limit.rate)), repr(float(limit.burst))]
        if not keys:
            return 0.0
        with _redis_answers():
            wait = float(self._reserve(keys=keys, args=args))
        return None if wait < 0 else wait

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
