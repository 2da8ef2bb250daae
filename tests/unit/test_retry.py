from datetime import UTC, datetime, timedelta

from omnibot.domain.retry import RetryPolicy

EXACT = RetryPolicy(base_seconds=1, cap_seconds=60, max_attempts=4, jitter=lambda ceiling: ceiling)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [EXACT.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_jitter_stays_between_half_and_the_full_delay() -> None:
    policy = RetryPolicy(base_seconds=10, cap_seconds=100)
    delays = [policy.delay(2) for _ in range(200)]
    assert all(10 <= d <= 20 for d in delays)
    assert len(set(delays)) > 1


def test_retry_after_is_a_floor() -> None:
    assert EXACT.delay(1, retry_after=30) == 30
    assert EXACT.delay(6, retry_after=3) == 32


def test_gives_up_after_max_attempts_or_max_age() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert not EXACT.gives_up(3, created, created + timedelta(minutes=5))
    assert EXACT.gives_up(4, created, created + timedelta(minutes=5))
    assert EXACT.gives_up(1, created, created + timedelta(hours=24))
