"""Sending the bot's queued replies: through the right messenger, within the rate limits, retried, given up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import Channel
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import BotReply, OutgoingMessage
from omnibot.services.delivery import RateLimits
from omnibot.services.replies import LEASE_SECONDS, ReplySender
from tests.fakes import InMemoryReplyOutbox
from tests.unit.conftest import World, limits_for_tests

HELP = OutgoingMessage("This bot sends you updates about your orders.")
TO_OLENA_TG = BotReply(Channel.TELEGRAM, "42", HELP)
TO_OLENA_VIBER = BotReply(Channel.VIBER, "01234567890A=", HELP)


@pytest.fixture
def outbox(world: World) -> InMemoryReplyOutbox:
    return InMemoryReplyOutbox(world.clock.now)


def sender(world: World, outbox: InMemoryReplyOutbox, max_attempts: int = 3,
           channels: tuple[Channel, ...] = (Channel.TELEGRAM, Channel.VIBER)) -> ReplySender:
    gateways = {Channel.TELEGRAM: world.telegram, Channel.VIBER: world.viber}
    return ReplySender(outbox, {channel: gateways[channel] for channel in channels}, world.limiter,
                       RateLimits(limits_for_tests, lambda channel: f"{channel}"),
                       RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=max_attempts,
                                   jitter=lambda ceiling: ceiling))


def test_a_due_reply_goes_out_through_its_messenger_and_leaves_the_outbox(
        world: World, outbox: InMemoryReplyOutbox) -> None:
    outbox.add(TO_OLENA_TG)
    outbox.add(TO_OLENA_VIBER)
    assert sender(world, outbox).send_due() == 2
    assert world.telegram.sent == [("42", HELP)]
    assert world.viber.sent == [("01234567890A=", HELP)]
    assert outbox.rows == {}


def test_nothing_due_sends_nothing(world: World, outbox: InMemoryReplyOutbox) -> None:
    assert sender(world, outbox).send_due() == 0
    assert world.telegram.sent == [] and world.viber.sent == []


def test_a_reply_the_rate_limiter_refuses_waits_for_its_token(world: World, outbox: InMemoryReplyOutbox) -> None:
    replies = sender(world, outbox)
    outbox.add(TO_OLENA_TG)
    outbox.add(BotReply(Channel.TELEGRAM, "42", OutgoingMessage("And another thing.")))
    assert replies.send_due() == 1  # one message a second to one chat
    [waiting] = outbox.rows.values()
    assert waiting.attempts == 0  # waiting is not a try
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > world.clock.now()
    world.clock.advance((waiting.next_attempt_at - world.clock.now()).total_seconds())
    assert replies.send_due() == 1
    assert [message.text for _, message in world.telegram.sent] == [HELP.text, "And another thing."]
    assert outbox.rows == {}


def test_a_rate_limit_wait_is_not_a_failed_try(world: World, outbox: InMemoryReplyOutbox) -> None:
    """Two tries allowed: a wait for the chat's token, then one transient failure, leaves one try."""
    replies = sender(world, outbox, max_attempts=2)
    outbox.add(TO_OLENA_TG)
    outbox.add(BotReply(Channel.TELEGRAM, "42", OutgoingMessage("And another thing.")))
    replies.send_due()  # the first goes out; the second waits for the chat's next token
    [(job_id, waiting)] = outbox.rows.items()
    assert waiting.next_attempt_at is not None
    world.clock.advance((waiting.next_attempt_at - world.clock.now()).total_seconds())
    world.telegram.failure = TransientFailure("telegram: timeout")
    replies.send_due()
    retried = outbox.rows[job_id]
    assert retried.last_error == "telegram: timeout"
    assert retried.next_attempt_at == world.clock.now() + timedelta(seconds=2), "given up after one failed try"


def test_a_transient_failure_is_retried_later_with_backoff(world: World, outbox: InMemoryReplyOutbox) -> None:
    replies = sender(world, outbox)
    outbox.add(TO_OLENA_TG)
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    assert replies.send_due() == 0
    [(job_id, failed)] = outbox.rows.items()
    assert (failed.attempts, failed.last_error) == (1, "telegram: HTTP 502")
    assert failed.next_attempt_at == world.clock.now() + timedelta(seconds=2)
    world.clock.advance(1)
    assert replies.send_due() == 0 and outbox.rows[job_id].attempts == 1  # not due yet
    world.clock.advance(1)
    assert replies.send_due() == 0
    assert outbox.rows[job_id].next_attempt_at == world.clock.now() + timedelta(seconds=4)  # backed off
    world.telegram.failure = None
    world.clock.advance(4)
    assert replies.send_due() == 1
    assert world.telegram.sent == [("42", HELP)] and outbox.rows == {}


def test_a_throttled_reply_pauses_the_bot_for_the_messengers_retry_after(
        world: World, outbox: InMemoryReplyOutbox) -> None:
    replies = sender(world, outbox)
    outbox.add(TO_OLENA_TG)
    world.telegram.failure = TransientFailure("telegram: HTTP 429", retry_after=30, throttled=True)
    replies.send_due()
    [(job_id, throttled)] = outbox.rows.items()
    assert throttled.next_attempt_at == world.clock.now() + timedelta(seconds=30)
    assert world.limiter.paused() == {"telegram": pytest.approx(30)}
    # Every send of the bot waits the pause out, to any chat; the other messenger does not.
    world.telegram.failure = None
    outbox.add(BotReply(Channel.TELEGRAM, "7", HELP))
    outbox.add(TO_OLENA_VIBER)
    assert replies.send_due() == 1
    assert world.telegram.sent == [] and world.viber.sent == [("01234567890A=", HELP)]
    world.clock.advance(30)
    assert replies.send_due() == 2
    assert sorted(address for address, _ in world.telegram.sent) == ["42", "7"]
    assert job_id not in outbox.rows


def test_a_transient_failure_without_throttling_pauses_nothing(world: World, outbox: InMemoryReplyOutbox) -> None:
    outbox.add(TO_OLENA_TG)
    world.telegram.failure = TransientFailure("telegram: timeout", retry_after=5)
    sender(world, outbox).send_due()
    assert world.limiter.paused() == {}
    [failed] = outbox.rows.values()
    assert failed.next_attempt_at == world.clock.now() + timedelta(seconds=5)  # the messenger's floor


def test_a_permanent_failure_gives_up_at_once(world: World, outbox: InMemoryReplyOutbox) -> None:
    replies = sender(world, outbox)
    outbox.add(TO_OLENA_TG)
    world.telegram.failure = PermanentFailure("telegram: bot was blocked by the user", recipient_state="blocked")
    assert replies.send_due() == 0
    [given_up] = outbox.rows.values()
    assert (given_up.attempts, given_up.next_attempt_at) == (1, None)
    assert given_up.last_error == "telegram: bot was blocked by the user"  # kept for operators
    world.clock.advance(3600)
    assert replies.send_due() == 0 and outbox.rows[next(iter(outbox.rows))].attempts == 1


def test_a_reply_failing_every_time_is_given_up_after_the_last_attempt(
        world: World, outbox: InMemoryReplyOutbox) -> None:
    replies = sender(world, outbox, max_attempts=3)
    outbox.add(TO_OLENA_TG)
    world.telegram.failure = TransientFailure("telegram: timeout")
    for _ in range(5):
        replies.send_due()
        world.clock.advance(LEASE_SECONDS + 1)
    [given_up] = outbox.rows.values()
    assert (given_up.attempts, given_up.next_attempt_at, given_up.last_error) == (3, None, "telegram: timeout")
    assert world.telegram.sent == []


def test_a_reply_on_a_messenger_not_configured_is_given_up(world: World, outbox: InMemoryReplyOutbox) -> None:
    outbox.add(TO_OLENA_VIBER)
    assert sender(world, outbox, channels=(Channel.TELEGRAM,)).send_due() == 0
    [given_up] = outbox.rows.values()
    assert (given_up.next_attempt_at, given_up.last_error) == (None, "viber is not configured")
    assert world.viber.sent == []


def test_a_claimed_reply_is_not_claimed_again_while_its_lease_holds(
        world: World, outbox: InMemoryReplyOutbox) -> None:
    outbox.add(TO_OLENA_TG)
    [claimed] = outbox.claim(10, LEASE_SECONDS)
    assert claimed.attempts == 1
    assert sender(world, outbox).send_due() == 0
    world.clock.advance(LEASE_SECONDS)
    assert sender(world, outbox).send_due() == 1  # the worker that held it died: sent by another
