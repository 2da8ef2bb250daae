"""The worker's delivery passes: backoff, fallback after repeated failures, 429 pauses, rate limits.

Every test runs twice: the pass driven on the calling thread (``deliver``, the synchronous trigger)
and on an event loop (``deliver_async``, the worker's); the decisions must be the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from omnibot.domain.errors import IdempotencyConflict, PermanentFailure, RateLimiterUnavailable, TransientFailure
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Price,
    StatusCallback,
)
from omnibot.ports import Limit, NoTelemetry
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy, RateLimits
from omnibot.services.messages import Messages, load_templates
from omnibot.services.notify import NotificationRequest
from tests.fakes import InMemoryContactRepository, InMemoryDeliveryQueue
from tests.unit.conftest import PHONE, World, limits_for_tests, make_world

OWNER = "worker:test"


class OnEventLoop:
    """A ``DeliveryEngine`` whose ``deliver`` runs the pass as the worker does, on an event loop."""

    def __init__(self, engine: DeliveryEngine) -> None:
        object.__setattr__(self, "engine", engine)

    def deliver(self, notification: Notification, owner: str, **options: Any) -> Notification:
        return asyncio.run(self.engine.deliver_async(notification, owner, **options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.engine, name, value)


@pytest.fixture(params=["thread", "event loop"])
def world(request: pytest.FixtureRequest) -> World:
    world = make_world()
    if request.param == "event loop":
        world.engine = OnEventLoop(world.engine)  # type: ignore[assignment]
    return world


def submit(world: World, **fields: object) -> str:
    request = NotificationRequest(phone=PHONE, order_id="ORD-1", items=["Laptop"])
    for name, value in fields.items():
        object.__setattr__(request, name, value)
    notification, created = world.notifier.submit(request)
    assert created
    return notification.id


def one_pass(world: World) -> list[str]:
    """Claim whatever is due and deliver it; the results."""
    return [world.engine.deliver(n, OWNER).result or "" for n in world.queue.claim(OWNER, 100, 60)]


def test_submitted_notifications_wait_for_a_worker(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.QUEUED
    assert world.telegram.sent == []
    assert one_pass(world) == ["Sent via Telegram"]
    assert one_pass(world) == []  # nothing left, nothing sent twice


def test_transient_failures_back_off_exponentially_then_fall_back(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    notification_id = submit(world)

    assert one_pass(world) == ["Queued for retry"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.next_attempt_at == world.clock.now() + timedelta(seconds=2)
    assert one_pass(world) == []  # not due yet: no hammering
    world.clock.advance(2)
    assert one_pass(world) == ["Queued for retry"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.next_attempt_at == world.clock.now() + timedelta(seconds=4)
    world.clock.advance(4)
    # Two transient failures on Telegram (fallback_after=2): Viber now.
    assert one_pass(world) == ["Sent via Viber"]
    assert world.viber.sent


def test_retries_run_out_and_the_notification_fails(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram: timed out")
    notification_id = submit(world)
    results = []
    for _ in range(10):
        world.clock.advance(3600)
        results += one_pass(world)
    assert results == ["Queued for retry"] * 3 + ["Failed: Delivery failed"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.FAILED
    assert stored.failures(Channel.TELEGRAM, AttemptOutcome.TRANSIENT_FAILURE) == 4


def test_a_pass_that_crashes_comes_back_a_few_times_then_fails_naming_the_error(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    notification_id = submit(world)
    results = []
    for _ in range(6):
        world.clock.advance(3600)
        results += one_pass(world)
    # A poison message holds no lease and leaves the queue: three crashes, then failed for good.
    assert results == ["Queued for retry"] * 2 + ["Failed: Delivery crashed"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.FAILED
    assert [(a.channel, a.outcome, a.error) for a in stored.attempts] == \
        [(Channel.TELEGRAM, AttemptOutcome.CRASHED, "crashed: UnicodeEncodeError")] * 3
    assert world.queue.claim(OWNER, 100, 60) == []


def test_a_crash_in_the_synchronous_trigger_answers_queued_for_retry(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = RuntimeError("a bug in a gateway")
    triggered = world.notifier.trigger(PHONE, "ORD-1", ["Laptop"])
    assert triggered.result == "Queued for retry" and triggered.status is NotificationStatus.QUEUED
    world.telegram.failure = None
    world.clock.advance(3600)
    assert one_pass(world) == ["Sent via Telegram"]


def test_a_notification_too_old_fails_instead_of_retrying(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram: timed out")
    submit(world)
    world.clock.advance(25 * 3600)
    assert one_pass(world) == ["Failed: Delivery failed"]


def test_429_pauses_the_bot_for_retry_after(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram 429: Too Many Requests: retry after 30", retry_after=30)
    notification_id = submit(world)
    assert one_pass(world) == ["Queued for retry"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.next_attempt_at == world.clock.now() + timedelta(seconds=30)
    assert world.limiter.paused() == {"telegram": 30.0}
    world.telegram.failure = None
    world.clock.advance(30)
    assert one_pass(world) == ["Sent via Telegram"]


def test_a_rate_limited_chat_waits_briefly_in_thread_or_requeues(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    first, second = submit(world), submit(world)
    assert one_pass(world) == ["Sent via Telegram", "Sent via Telegram"]
    # One message a second to a chat: the second send waited a second for its token.
    assert world.slept == [1.0]
    assert [world.notifications.get(i).status for i in (first, second)] == [NotificationStatus.SENT] * 2  # type: ignore[union-attr]


def test_a_long_rate_limit_wait_goes_back_to_the_queue_without_an_attempt(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.limiter.pause("telegram", 20)
    notification_id = submit(world)
    assert one_pass(world) == ["Queued for retry"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.attempts == []
    assert world.telegram.sent == []


def test_permanent_failure_falls_back_at_once_and_marks_the_channel(world: World) -> None:
    contact = world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = PermanentFailure("telegram 403: Forbidden: bot was blocked by the user",
                                              recipient_state=ChannelState.BLOCKED)
    submit(world)
    assert one_pass(world) == ["Sent via Viber"]
    assert contact.id is not None
    stored_contact = world.contacts.get(contact.id)
    assert stored_contact is not None and stored_contact.telegram_state is ChannelState.BLOCKED


def test_the_shops_channel_order_is_honoured(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    submit(world, channels=[Channel.VIBER, Channel.TELEGRAM])
    assert one_pass(world) == ["Sent via Viber"]


def test_free_text_is_sent_escaped(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    submit(world, text="Pickup <today> & tomorrow", event="text")
    one_pass(world)
    [(_, message)] = world.telegram.sent
    assert message.html == "Pickup &lt;today&gt; &amp; tomorrow"


def test_an_expired_lease_is_claimed_again(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    submit(world)
    assert len(world.queue.claim("worker:dead", 10, 60)) == 1
    assert world.queue.claim(OWNER, 10, 60) == []
    world.clock.advance(61)
    [again] = world.queue.claim(OWNER, 10, 60)
    assert world.engine.deliver(again, OWNER).result == "Sent via Telegram"


def test_idempotency_key_replays_and_refuses_a_different_body(world: World) -> None:
    request = NotificationRequest(phone=PHONE, order_id="ORD-1", items=["Laptop"])
    first, created = world.notifier.submit(request, idempotency_key="k1")
    again, created_again = world.notifier.submit(request, idempotency_key="k1")
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyConflict):
        world.notifier.submit(NotificationRequest(phone=PHONE, order_id="ORD-2"), idempotency_key="k1")


class UnreachableLimiter:
    """A shared rate limiter whose server is away."""

    def try_acquire(self, limits: object) -> float:
        raise RateLimiterUnavailable("Redis rate limiter: ConnectionError")

    def try_acquire_many(self, requests: object) -> list[float]:
        raise RateLimiterUnavailable("Redis rate limiter: ConnectionError")

    def reserve(self, limits: object, within: float) -> float | None:
        raise RateLimiterUnavailable("Redis rate limiter: ConnectionError")

    def pause(self, key: str, seconds: float) -> None:
        raise RateLimiterUnavailable("Redis rate limiter: ConnectionError")

    def paused(self) -> dict[str, float]:
        return {}


def test_an_unreachable_rate_limiter_requeues_shortly_and_sends_nothing_uncounted(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    world.engine._limiter = UnreachableLimiter()
    assert one_pass(world) == ["Queued for retry"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.QUEUED and stored.attempts == []
    assert stored.next_attempt_at == world.clock.now() + timedelta(seconds=5)
    assert world.telegram.sent == []
    world.engine._limiter = world.limiter  # Redis is back
    world.clock.advance(5)
    assert one_pass(world) == ["Sent via Telegram"]


def test_a_notification_waiting_past_its_max_age_on_an_absent_limiter_fails(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    world.engine._limiter = UnreachableLimiter()
    assert one_pass(world) == ["Queued for retry"]
    world.clock.advance(25 * 3600)  # Redis away for longer than RETRY_MAX_AGE
    assert one_pass(world) == ["Failed: Delivery failed"]
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.FAILED and world.telegram.sent == []


class DatabaseAway(Exception):
    """Stands for the store's errors that mean "not now" (SQLAlchemy's, in production)."""


class QueueAwayFor(InMemoryDeliveryQueue):
    """The world's queue, whose writes at the end of a pass fail ``times`` times first."""

    def __init__(self, queue: InMemoryDeliveryQueue, times: int) -> None:
        self.__dict__.update(queue.__dict__)
        self.failures_left = times

    def complete(self, notification: Notification, owner: str) -> bool:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise DatabaseAway()
        return super().complete(notification, owner)


def engine_on(world: World, queue: InMemoryDeliveryQueue | None = None,
              contacts: InMemoryContactRepository | None = None, keep_trying_seconds: float = 20.0,
              status_callback: Callable[[Notification], StatusCallback | None] | None = None) -> DeliveryEngine:
    """An engine of the world's, over another queue or contacts, driven as the world's is."""

    async def sleep_async(seconds: float) -> None:
        world.clock.advance(seconds)

    engine = DeliveryEngine(
        contacts or world.contacts, world.tokens, Messages(load_templates(), default_language="en"),
        queue or world.queue, {Channel.TELEGRAM: world.telegram, Channel.VIBER: world.viber}, world.limiter,
        RateLimits(limits_for_tests, lambda channel: f"{channel}"), world.clock,
        DeliveryPolicy(outcome_write_patience_seconds=keep_trying_seconds), sleep=world.clock.advance,
        sleep_async=sleep_async, outage_errors=(DatabaseAway,), timer=lambda: world.clock.now().timestamp(),
        status_callback=status_callback)
    if isinstance(world.engine, OnEventLoop):
        return OnEventLoop(engine)  # type: ignore[return-value]
    return engine


def test_a_send_the_messenger_accepted_is_written_once_the_database_is_back(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    queue = QueueAwayFor(world.queue, times=5)
    [claimed] = queue.claim(OWNER, 10, 60)
    assert engine_on(world, queue).deliver(claimed, OWNER).result == "Sent via Telegram"
    assert len(world.telegram.sent) == 1 and queue.failures_left == 0
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.SENT
    assert [a.outcome for a in stored.attempts] == [AttemptOutcome.SENT]  # written once, with the outcome


def test_a_send_whose_outcome_cannot_be_written_in_time_is_said_aloud_and_finished_by_the_next_pass(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    queue = QueueAwayFor(world.queue, times=1000)
    [claimed] = queue.claim(OWNER, 10, 60)
    with pytest.raises(DatabaseAway):
        engine_on(world, queue, keep_trying_seconds=5).deliver(claimed, OWNER)
    assert "notification.sent_unrecorded" in caplog.text
    # Nothing was written: the lease runs out and the next pass sends again (the bounded duplicate).
    world.clock.advance(120)
    assert one_pass(world) == ["Sent via Telegram"]
    assert len(world.telegram.sent) == 2
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.SENT


def test_a_failure_that_cannot_be_written_is_not_waited_on(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = PermanentFailure("telegram 400: Bad Request: chat not found")
    submit(world)
    queue = QueueAwayFor(world.queue, times=1)
    [claimed] = queue.claim(OWNER, 10, 60)
    with pytest.raises(DatabaseAway):  # nothing was sent: the next pass redoes it
        engine_on(world, queue).deliver(claimed, OWNER)
    assert queue.failures_left == 0


def test_a_notification_whose_send_was_written_is_finished_without_sending_again(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    notification_id = submit(world)
    [claimed] = world.queue.claim(OWNER, 10, 60)
    # A worker that wrote its send and died before closing the lease.
    world.notifications.add_attempt(notification_id, DeliveryAttempt(Channel.TELEGRAM, AttemptOutcome.SENT,
                                                                      provider_message_id="9"))
    world.clock.advance(61)
    assert one_pass(world) == ["Sent via Telegram"]
    assert world.telegram.sent == []
    stored = world.notifications.get(notification_id)
    assert stored is not None and stored.status is NotificationStatus.SENT and stored.channel is Channel.TELEGRAM


class CountingContacts(InMemoryContactRepository):
    """The world's contacts, counting the lookups a pass makes on its own."""

    def __init__(self, contacts: InMemoryContactRepository) -> None:
        self.__dict__.update(contacts.__dict__)
        self.lookups = 0

    def get(self, contact_id: int) -> Contact | None:
        self.lookups += 1
        return super().get(contact_id)

    def find_by_phone(self, phone: str) -> Contact | None:
        self.lookups += 1
        return super().find_by_phone(phone)


def test_a_claimed_batch_brings_its_customers_in_one_query_by_the_same_rules(world: World) -> None:
    verified = world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    unverified = world.contacts.add(Contact(phone="+380671112233", telegram_chat_id=43))
    linked = world.contacts.add(Contact(telegram_chat_id=44))
    by_phone = submit(world)
    unproved = submit(world, phone="+380671112233")
    by_contact = submit(world, phone=None, order_id="ORD-9")
    stored = world.notifications.get(by_contact)
    assert stored is not None
    stored.contact_id = linked.id  # delivered to that account before
    world.notifications.update(stored)
    batch = world.queue.claim(OWNER, 10, 60)
    recipients = world.engine.recipients_of(batch)
    # An unverified phone is no proof (recipients.resolve): its pass decides, as it always did.
    assert {key: contact.id for key, contact in recipients.items()} == {by_phone: verified.id,
                                                                       by_contact: linked.id}
    assert unproved not in recipients and unverified.id is not None
    assert recipients[by_phone] is not recipients[by_contact]  # a copy per notification: passes run apart

    counting = CountingContacts(world.contacts)
    engine = engine_on(world, contacts=counting)
    results = {n.id: engine.deliver(n, OWNER, recipient=recipients.get(n.id)).result for n in batch}
    assert results == {by_phone: "Sent via Telegram", by_contact: "Sent via Telegram",
                       unproved: "Failed: User not found"}
    assert counting.lookups == 1  # the unproved one's own lookup; the others came with the batch


def callback_of(notification: Notification) -> StatusCallback:
    return StatusCallback("https://shop.example/hook", f"{notification.id}:{notification.status}")


def test_the_status_callback_is_written_with_the_final_outcome_and_only_then(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram: HTTP 502")
    notification_id = submit(world)
    engine = engine_on(world, status_callback=callback_of)
    [claimed] = world.queue.claim(OWNER, 10, 60)
    assert engine.deliver(claimed, OWNER).result == "Queued for retry"
    assert world.queue.callbacks == []  # not final: nothing to tell the shop yet
    world.telegram.failure = None
    world.clock.advance(60)
    [again] = world.queue.claim(OWNER, 10, 60)
    assert engine.deliver(again, OWNER).result == "Sent via Telegram"
    assert world.queue.callbacks == [(notification_id, callback_of(again))]


def test_a_pass_that_lost_its_lease_writes_no_status_callback(world: World) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    submit(world)
    [claimed] = world.queue.claim(OWNER, 10, 60)
    world.clock.advance(61)
    [taken_over] = world.queue.claim("worker:other", 10, 60)
    assert engine_on(world, status_callback=callback_of).deliver(claimed, OWNER).result == "Sent via Telegram"
    assert world.queue.callbacks == []  # the pass holding the lease now tells the shop
    assert engine_on(world, status_callback=callback_of).deliver(taken_over, "worker:other").status \
        is NotificationStatus.SENT
    assert len(world.queue.callbacks) == 1


class BillingTelemetry(NoTelemetry):
    def __init__(self) -> None:
        self.billed_prices: list[Price] = []

    def billed(self, channel: Channel, price: Price) -> None:
        self.billed_prices.append(price)


def test_paid_broadcast_sends_above_the_free_rate_carry_their_price(world: World) -> None:
    stars = Price(Decimal("0.1"), "XTR")
    free_share = [Limit("telegram:free", 2, 2)]  # a free rate of 2/s: the third send in a second is billed
    telemetry = BillingTelemetry()
    engine = DeliveryEngine(
        world.contacts, world.tokens, Messages(load_templates(), default_language="en"), world.queue,
        {Channel.TELEGRAM: world.telegram, Channel.VIBER: world.viber}, world.limiter,
        RateLimits(lambda channel, address: [Limit(f"{channel}", 1000, 100)], lambda channel: f"{channel}",
                   paid_above=lambda channel: (free_share, stars) if channel is Channel.TELEGRAM else None),
        world.clock, telemetry=telemetry)
    if isinstance(world.engine, OnEventLoop):
        engine = OnEventLoop(engine)  # type: ignore[assignment]
    ids = []
    for chat in range(4):
        phone = f"+38050123456{chat}"
        world.contacts.add(Contact(phone=phone, phone_verified=True, telegram_chat_id=100 + chat))
        ids.append(submit(world, phone=phone))
    for claimed in world.queue.claim(OWNER, 10, 60):
        assert engine.deliver(claimed, OWNER).result == "Sent via Telegram"
    prices = [world.notifications.get(i).attempts[0].price for i in ids]  # type: ignore[union-attr]
    assert prices == [None, None, stars, stars]
    assert telemetry.billed_prices == [stars, stars]
