"""The dashboard's sign-in throttle: per address, waits that grow, one check at a time, bounded memory."""

from __future__ import annotations

from omnibot.services.sign_in_throttle import BUSY_WAIT, SignInThrottle, client_key


class Ticks:
    """A monotonic clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wrong(throttle: SignInThrottle, address: str) -> float:
    assert throttle.admit(address) == 0.0
    return throttle.finish(address, correct=False)


def test_after_a_few_wrong_tries_an_address_waits_twice_as_long_each_time_up_to_a_cap() -> None:
    ticks = Ticks()
    throttle = SignInThrottle(tries_before_waiting=3, first_wait=2.0, max_wait=5.0, now=ticks)
    assert [wrong(throttle, "203.0.113.7") for _ in range(3)] == [0.0, 0.0, 2.0]
    assert throttle.admit("203.0.113.7") == 2.0
    assert throttle.admit("198.51.100.2") == 0.0  # another address is not held up
    throttle.finish("198.51.100.2", correct=True)
    ticks.now += 1.5
    assert throttle.admit("203.0.113.7") == 0.5
    ticks.now += 0.5
    assert wrong(throttle, "203.0.113.7") == 4.0
    ticks.now += 4.0
    assert wrong(throttle, "203.0.113.7") == 5.0


def test_the_right_password_or_a_long_quiet_clears_the_record() -> None:
    ticks = Ticks()
    throttle = SignInThrottle(tries_before_waiting=1, first_wait=1.0, forget_after=100.0, now=ticks)
    assert wrong(throttle, "203.0.113.7") == 1.0
    ticks.now += 1.0
    assert throttle.admit("203.0.113.7") == 0.0
    assert throttle.finish("203.0.113.7", correct=True) == 0.0
    assert len(throttle) == 0
    assert wrong(throttle, "203.0.113.7") == 1.0  # counting starts again
    ticks.now += 100.0
    assert wrong(throttle, "203.0.113.7") == 1.0  # not 2.0: the old failure was forgotten


def test_one_check_at_a_time_per_address_and_a_few_per_process() -> None:
    throttle = SignInThrottle(max_checks=2)
    assert throttle.admit("203.0.113.7") == 0.0
    assert throttle.admit("203.0.113.7") == BUSY_WAIT
    assert throttle.admit("198.51.100.2") == 0.0
    assert throttle.admit("192.0.2.1") == BUSY_WAIT  # two hashes running already
    throttle.finish("203.0.113.7", correct=False)
    assert throttle.admit("192.0.2.1") == 0.0


def test_memory_holds_a_bounded_number_of_addresses() -> None:
    throttle = SignInThrottle(max_addresses=3)
    for host in range(10):
        wrong(throttle, f"192.0.2.{host}")
    assert len(throttle) == 3


def test_an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_its_ipv4() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"
    throttle = SignInThrottle(tries_before_waiting=1, first_wait=3.0, now=Ticks())
    wrong(throttle, "2001:db8:1:2::1")
    assert throttle.admit("2001:db8:1:2::99") == 3.0
