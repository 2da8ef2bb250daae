"""The in-memory rate limiter on a fake clock: burst, rate, all-or-nothing, pauses, eviction."""

from __future__ import annotations

import threading

import pytest

from omnibot.adapters.ratelimit import InMemoryRateLimiter, make_rate_limiter
from omnibot.ports import Limit

BOT = Limit("tg:bot:h", rate=30, burst=30)


def chat(chat_id: int) -> Limit:
    return Limit(f"tg:chat:h:{chat_id}", rate=1, burst=1)


class FakeTime:
    """Seconds that only move when a test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(clock: FakeTime) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(now=clock)


def test_full_burst_is_taken_at_once_then_tokens_come_at_the_rate(limiter, clock):
    assert [limiter.try_acquire([BOT]) for _ in range(30)] == [0.0] * 30
    assert limiter.try_acquire([BOT]) == pytest.approx(1 / 30)

    clock.now += 1 / 30
    assert limiter.try_acquire([BOT]) == 0.0
    assert limiter.try_acquire([BOT]) == pytest.approx(1 / 30)

    clock.now += 0.5
    assert [limiter.try_acquire([BOT]) for _ in range(15)] == [0.0] * 15
    assert limiter.try_acquire([BOT]) > 0


def test_wait_is_the_exact_time_until_a_token(limiter, clock):
    slow = Limit("slow", rate=0.5, burst=2)
    limiter.try_acquire([slow])
    limiter.try_acquire([slow])

    clock.now += 0.75
    assert limiter.try_acquire([slow]) == pytest.approx(1.25)

    clock.now += 1.25
    assert limiter.try_acquire([slow]) == 0.0


def test_a_full_chat_bucket_does_not_take_the_bot_token(limiter, clock):
    bot = Limit("tg:bot:h", rate=1, burst=2)
    assert limiter.try_acquire([bot, chat(1)]) == 0.0
    assert limiter.try_acquire([bot, chat(1)]) == pytest.approx(1.0)

    # Had the refused request taken the bot's second token, chat 2 would have to wait.
    assert limiter.try_acquire([bot, chat(2)]) == 0.0
    assert limiter.try_acquire([bot, chat(3)]) == pytest.approx(1.0)


def test_wait_is_the_longest_of_all_buckets(limiter, clock):
    bot = Limit("bot", rate=2, burst=1)
    limiter.try_acquire([bot, chat(1)])

    clock.now += 0.25
    assert limiter.try_acquire([bot, chat(1)]) == pytest.approx(0.75)
    assert limiter.try_acquire([bot, chat(2)]) == pytest.approx(0.25)


def test_a_key_listed_twice_takes_two_tokens(limiter):
    pair = Limit("pair", rate=1, burst=2)
    assert limiter.try_acquire([pair, pair]) == 0.0
    assert limiter.try_acquire([pair]) == pytest.approx(1.0)


def test_pause_blocks_every_acquire_on_the_key_until_it_ends(limiter, clock):
    limiter.pause(BOT.key, 3)

    assert limiter.try_acquire([BOT, chat(1)]) == pytest.approx(3.0)
    assert limiter.try_acquire([chat(1)]) == 0.0  # other keys are not paused
    assert limiter.paused() == {BOT.key: pytest.approx(3.0)}

    clock.now += 2
    assert limiter.try_acquire([BOT, chat(2)]) == pytest.approx(1.0)

    clock.now += 1
    assert limiter.paused() == {}
    assert limiter.try_acquire([BOT, chat(2)]) == 0.0


def test_a_refused_acquire_during_a_pause_takes_no_token(limiter, clock):
    limiter.pause(BOT.key, 1)
    for _ in range(100):
        limiter.try_acquire([BOT])

    clock.now += 1
    assert [limiter.try_acquire([BOT]) for _ in range(30)] == [0.0] * 30


def test_wait_covers_both_a_pause_and_an_empty_bucket(limiter, clock):
    limiter.try_acquire([chat(1)])
    limiter.pause(chat(1).key, 0.5)
    assert limiter.try_acquire([chat(1)]) == pytest.approx(1.0)

    limiter.pause(chat(1).key, 4)
    assert limiter.try_acquire([chat(1)]) == pytest.approx(4.0)


def test_a_shorter_pause_does_not_shorten_a_longer_one(limiter, clock):
    limiter.pause(BOT.key, 10)
    clock.now += 1
    limiter.pause(BOT.key, 2)
    limiter.pause(BOT.key, 0)

    assert limiter.paused() == {BOT.key: pytest.approx(9.0)}

    limiter.pause(BOT.key, 20)
    assert limiter.paused() == {BOT.key: pytest.approx(20.0)}


def test_buckets_are_forgotten_once_full_again(limiter, clock):
    for chat_id in range(1000):
        limiter.try_acquire([chat(chat_id)])
    assert limiter.bucket_count() == 1000

    clock.now += 0.999
    limiter.try_acquire([chat(5000)])
    assert limiter.bucket_count() == 1001

    clock.now += 0.001
    assert limiter.bucket_count() == 1  # only chat 5000 is not full yet
    assert limiter.try_acquire([chat(0)]) == 0.0
    assert limiter.try_acquire([chat(0)]) == pytest.approx(1.0)


def test_memory_stays_bounded_by_recently_active_chats(limiter, clock):
    bot = Limit("bot", rate=1000, burst=1000)
    for chat_id in range(20_000):
        clock.now += 0.01
        assert limiter.try_acquire([bot, chat(chat_id)]) == 0.0
        # A chat's bucket is full a second after its message: ~100 chats plus the bot at most.
        assert limiter.bucket_count() <= 102
    assert len(limiter._refills) <= 2 * 102  # the eviction queue is bounded too


def test_threads_together_take_no_more_than_the_burst(clock):
    limiter = InMemoryRateLimiter(now=clock)
    bucket = Limit("shared", rate=1, burst=500)
    taken: list[int] = []

    def hammer() -> None:
        taken.append(sum(limiter.try_acquire([bucket]) == 0.0 for _ in range(1000)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(taken) == 500


def test_an_empty_request_is_granted(limiter):
    assert limiter.try_acquire([]) == 0.0


NEVER_GIVE = [Limit("k", 0, 1), Limit("k", -1, 1), Limit("k", 1, 0.5), Limit("k", 1, float("nan"))]


@pytest.mark.parametrize("limit", NEVER_GIVE)
def test_a_bucket_that_could_never_give_a_token_is_refused(limiter, limit):
    with pytest.raises(ValueError, match="'k'"):
        limiter.try_acquire([limit])


def test_without_a_redis_url_the_buckets_are_in_memory():
    assert isinstance(make_rate_limiter(None), InMemoryRateLimiter)
    assert isinstance(make_rate_limiter(""), InMemoryRateLimiter)
