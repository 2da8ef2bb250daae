"""The Redis rate limiter against a real server: the same semantics, shared by processes.

Needs Redis at 127.0.0.1:6379 (or ``OMNIBOT_TEST_REDIS_URL``). Without one the tests are skipped
locally and fail on CI (``CI=true``). Each test works under its own random key prefix and deletes
its keys afterwards, so a shared server is safe.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import socket
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
import redis

from omnibot.adapters.ratelimit import RedisRateLimiter, make_rate_limiter
from omnibot.domain.errors import RateLimiterUnavailable
from omnibot.ports import Limit

REDIS_URL = os.environ.get("OMNIBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"no Redis at {REDIS_URL}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    prefix = f"omnibot:test:rl:{secrets.token_hex(6)}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def limiter(client: redis.Redis, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(client, prefix=prefix)


def chat(chat_id: int) -> Limit:
    return Limit(f"tg:chat:h:{chat_id}", rate=1, burst=1)


def test_full_burst_is_taken_at_once_then_refused_for_about_one_interval(limiter):
    bot = Limit("tg:bot:h", rate=10, burst=5)
    assert [limiter.try_acquire([bot]) for _ in range(5)] == [0.0] * 5
    assert 0.05 < limiter.try_acquire([bot]) <= 0.1


def test_wait_is_the_time_until_a_token(limiter):
    slow = Limit("slow", rate=0.5, burst=1)
    started = time.monotonic()
    limiter.try_acquire([slow])
    wait = limiter.try_acquire([slow])
    assert 2.0 - (time.monotonic() - started) - 0.01 <= wait <= 2.0


def test_a_token_comes_back_after_the_wait(limiter):
    fast = Limit("fast", rate=20, burst=1)
    limiter.try_acquire([fast])
    wait = limiter.try_acquire([fast])
    assert wait > 0
    time.sleep(wait)
    assert limiter.try_acquire([fast]) == 0.0


def test_a_full_chat_bucket_does_not_take_the_bot_token(limiter):
    bot = Limit("tg:bot:h", rate=0.01, burst=2)
    assert limiter.try_acquire([bot, chat(1)]) == 0.0
    assert limiter.try_acquire([bot, chat(1)]) > 0.9

    assert limiter.try_acquire([bot, chat(2)]) == 0.0
    assert limiter.try_acquire([bot, chat(3)]) > 90  # the bot bucket, 1/0.01 s per token


def test_a_key_listed_twice_takes_two_tokens(limiter):
    pair = Limit("pair", rate=1, burst=2)
    assert limiter.try_acquire([pair, pair]) == 0.0
    assert limiter.try_acquire([pair]) > 0.9


def test_pause_blocks_the_key_until_it_ends(limiter):
    bot = Limit("tg:bot:h", rate=30, burst=30)
    limiter.pause(bot.key, 0.3)

    assert 0.2 < limiter.try_acquire([bot, chat(1)]) <= 0.3
    assert limiter.try_acquire([chat(1)]) == 0.0
    assert set(limiter.paused()) == {bot.key}
    assert 0.2 < limiter.paused()[bot.key] <= 0.3

    time.sleep(0.31)
    assert limiter.paused() == {}
    assert [limiter.try_acquire([bot]) for _ in range(30)] == [0.0] * 30  # the pause took no token


def test_a_shorter_pause_does_not_shorten_a_longer_one(limiter):
    limiter.pause("tg:bot:h", 10)
    limiter.pause("tg:bot:h", 0.1)
    limiter.pause("tg:bot:h", 0)
    assert 9.5 < limiter.paused()["tg:bot:h"] <= 10

    limiter.pause("tg:bot:h", 20)
    limiter.pause("tg:chat:h:1", 5)
    paused = limiter.paused()
    assert 19.5 < paused["tg:bot:h"] <= 20
    assert 4.5 < paused["tg:chat:h:1"] <= 5


def test_every_key_expires_once_idle(limiter, client, prefix):
    limiter.try_acquire([Limit("bot", rate=10, burst=3), Limit("chat", rate=20, burst=1)])
    limiter.pause("bot", 0.1)

    keys = list(client.scan_iter(match=f"{prefix}*"))
    assert len(keys) == 4  # two buckets, a pause and the index of pauses
    assert all(0 < client.pttl(key) <= 100 for key in keys)

    time.sleep(0.12)
    assert list(client.scan_iter(match=f"{prefix}*")) == []


def test_a_client_decoding_responses_works_the_same(client, prefix):
    decoding = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    limiter = RedisRateLimiter(decoding, prefix=prefix)
    assert limiter.try_acquire([chat(1)]) == 0.0
    assert limiter.try_acquire([chat(1)]) > 0.9
    limiter.pause("k", 1)
    assert set(limiter.paused()) == {"k"}
    decoding.close()


def test_a_redis_url_gives_buckets_in_redis(client):
    assert isinstance(make_rate_limiter(REDIS_URL), RedisRateLimiter)


def _hammer(
    prefix: str, limit: Limit, seconds: float, ready: Barrier, results: Queue[tuple[float, float, int]]
) -> None:
    """One worker process: take tokens as fast as the limiter allows for ``seconds``."""
    limiter = RedisRateLimiter(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    ready.wait()
    started = time.time()
    taken = 0
    while time.time() - started < seconds:
        wait = limiter.try_acquire([limit])
        if wait == 0.0:
            taken += 1
        else:
            time.sleep(min(wait, seconds))
    results.put((started, time.time(), taken))


def test_processes_together_take_no_more_than_the_limit_allows(prefix):
    bucket = Limit("tg:bot:shared", rate=50, burst=5)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(4)
    results = context.Queue()
    workers = [context.Process(target=_hammer, args=(prefix, bucket, 2.0, ready, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    # Every token was taken between the first start and the last finish.
    elapsed = max(end for _, end, _ in reports) - min(start for start, _, _ in reports)
    allowed = bucket.burst + bucket.rate * elapsed
    taken = sum(count for _, _, count in reports)
    assert all(count > 0 for _, _, count in reports)
    assert 0.9 * allowed <= taken <= allowed + 2


def test_a_server_that_does_not_answer_is_reported_as_unavailable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]  # closed again below: nothing listens there
    away = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    limiter = RedisRateLimiter(away)
    with pytest.raises(RateLimiterUnavailable, match="ConnectionError") as raised:
        limiter.try_acquire([Limit("bot:x", 30, 30)])
    assert str(port) not in str(raised.value)  # the adapter's message names no address
    with pytest.raises(RateLimiterUnavailable):
        limiter.pause("bot:x", 5)
    with pytest.raises(RateLimiterUnavailable):
        limiter.paused()


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_many_acquires_in_one_call_keep_every_bucket(kind: str, limiter: RedisRateLimiter) -> None:
    from omnibot.adapters.ratelimit import InMemoryRateLimiter

    buckets = limiter if kind == "redis" else InMemoryRateLimiter()
    bot = Limit("tg:bot:h", rate=3, burst=3)
    buckets.pause("vb:paused", 30)
    waits = buckets.try_acquire_many([
        [bot, chat(1)], [bot, chat(2)], [bot, chat(1)],  # chat 1's second send must wait for its token
        [bot, chat(3)], [bot, chat(4)],  # the bot's third token went to chat 3: chat 4 waits
        [Limit("vb:paused", rate=100, burst=100)], [],
    ])
    assert waits[:2] == [0.0, 0.0] and 0.9 < waits[2] <= 1.0
    assert waits[3] == 0.0 and 0 < waits[4] <= 1 / 3 + 0.01
    assert 29 < waits[5] <= 30 and waits[6] == 0.0
    # A refused request took nothing: chat 1 and chat 4 are exactly where they were.
    assert buckets.try_acquire([chat(4)]) == 0.0
    assert buckets.try_acquire([chat(1)]) > 0.9


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_reservations_are_served_in_turn_within_the_horizon(kind: str, limiter: RedisRateLimiter) -> None:
    from omnibot.adapters.ratelimit import InMemoryRateLimiter

    buckets = limiter if kind == "redis" else InMemoryRateLimiter()
    share = Limit("tg:bot:h:bulk", rate=10, burst=1)
    turns = [buckets.reserve([share], within=0.35) for _ in range(6)]
    # One now, then one every tenth of a second; past the horizon nothing is booked.
    assert turns[0] == 0.0
    assert [round(turn, 2) for turn in turns[1:4]] == [0.1, 0.2, 0.3]  # type: ignore[arg-type]
    assert turns[4:] == [None, None]
    assert 0.3 < buckets.try_acquire([share]) <= 0.4  # the booked turns are taken: nothing before them
    buckets.pause("tg:bot:paused", 30)
    assert buckets.reserve([Limit("tg:bot:paused", 10, 1)], within=5) is None  # a pause longer than it


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_a_burst_of_one_takes_only_from_a_full_bucket(kind: str, limiter: RedisRateLimiter) -> None:
    """How a bulk send yields: the bot's bucket, the same key, with a burst of one."""
    from omnibot.adapters.ratelimit import InMemoryRateLimiter

    buckets = limiter if kind == "redis" else InMemoryRateLimiter()
    bot, yielding = Limit("tg:bot:y", rate=10, burst=3), Limit("tg:bot:y", rate=10, burst=1)
    assert buckets.try_acquire([yielding]) == 0.0  # full: taken
    assert buckets.try_acquire([yielding]) > 0  # two left, not full: bulk waits
    assert [buckets.try_acquire([bot]) for _ in range(2)] == [0.0, 0.0]  # the others take what is left
