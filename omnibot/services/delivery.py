"""Use case: one delivery pass over a leased notification: route, rate-limit, send, record, decide.

A pass ends in one of three ways: sent (or failed for good), and the lease is completed; or due
again later (transient failure, rate limit), and the notification goes back to the queue with its
next attempt time. Every send and every skip is recorded as an attempt.

A pass is written once and run two ways. It is a generator that decides and *asks* for each
effect (a send, a call to the store or the rate limiter, the write of its outcome, a wait);
``deliver`` performs them on the calling thread (the synchronous trigger), ``deliver_async`` on
the delivery worker's event loop, where hundreds of passes wait on the messengers at once and
their outcomes go to the database together (group commit).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from omnibot.domain import routing
from omnibot.domain.billing import ViberTerms, billing_month
from omnibot.domain.errors import PermanentFailure, RateLimiterUnavailable, TransientFailure
from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Price,
    Priority,
    StatusCallback,
)
from omnibot.domain.quiet_hours import QuietHours
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import (
    Clock,
    ContactRepository,
    DeliveryQueue,
    Limit,
    LinkTokenRepository,
    MessengerGateway,
    NoTelemetry,
    OutgoingMessage,
    RateLimiter,
    SendReceipt,
    Telemetry,
    ViberLedger,
)
from omnibot.services import recipients
from omnibot.services.messages import Messages
from omnibot.services.rate_limits import RateLimits as RateLimits

log = logging.getLogger(__name__)

# The seed's answers, byte for byte, plus ours for a known customer we could not reach.
SENT_VIA = {Channel.TELEGRAM: "Sent via Telegram", Channel.VIBER: "Sent via Viber"}
USER_NOT_FOUND = "Failed: User not found"
NO_REACHABLE_CHANNEL = "Failed: No reachable channel"
DELIVERY_FAILED = "Failed: Delivery failed"
DELIVERY_CRASHED = "Failed: Delivery crashed"
QUEUED_FOR_RETRY = "Queued for retry"
VIBER_BUDGET_EXHAUSTED = "Failed: Viber budget exhausted"
EXPIRED = "Expired: deadline passed"
BUDGET_SKIP = "viber budget exhausted"


@dataclass(frozen=True)
class DeliveryPolicy:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Transient failures on one channel before the next channel is tried: waiting a little for
    # free Telegram beats paying for Viber at the first timeout.
    fallback_after: int = 3
    # A rate-limit wait up to this long is slept through in the sending thread; longer, requeue.
    max_rate_wait_seconds: float = 1.5
    # While the shared rate limiter does not answer, notifications come back after this long
    # rather than being sent uncounted (which would risk the messenger's 429s for everyone).
    limiter_retry_seconds: float = 5.0
    # Passes that may crash (raise an error no messenger failure explains) before the notification
    # fails for good: a poison message must not hold a lease and come back forever.
    max_crashes: int = 3
    # After a messenger accepted a message, how long the synchronous trigger keeps trying to write
    # that (the database away); a worker keeps trying until it is stopped. Giving up leaves the
    # lease to run out, and the message may go out again.
    outcome_write_patience_seconds: float = 20.0
    # A channel that cannot take the message for longer than this (a flood wait, an outage) hands
    # it to the next channel at once; the wait still applies to the channel.
    max_channel_wait_seconds: float = 60.0
    # While in force, notifications wait for its end (those a caller waits on go at once).
    quiet_hours: QuietHours | None = None
    # Viber's billing; None: Viber's sends are not counted (no budget enforced).
    viber_terms: ViberTerms | None = None
    # How far ahead a bulk send books its turn in the bulk share; further, it waits in the queue.
    bulk_horizon_seconds: float = 60.0


@runtime_checkable
class PassWriter(Protocol):
    """A queue that writes a pass's outcome later, with others (``GroupCommitQueue``)."""

    def end_later(self, notification: Notification, owner: str, *, complete: bool) -> Future[bool]:
        """Complete or reschedule; the future says whether the lease was still held."""
        ...


# What a pass asks its driver to do.
@dataclass(frozen=True, slots=True)
class _Send:
    step: routing.Step
    message: OutgoingMessage


@dataclass(frozen=True, slots=True)
class _Call:
    """A call to the store or the rate limiter; it blocks, so the event loop runs it on a thread."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class _EndPass:
    """Write the pass's outcome: completed, or back in the queue; answers whether the lease was held."""

    notification: Notification
    owner: str
    complete: bool


@dataclass(frozen=True, slots=True)
class _Acquire:
    """Take a token from each of these buckets, or from none; answers the wait (0 when taken)."""

    limits: Sequence[Limit]


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class _Charge:
    """What a send about to be made will cost, decided (and for Viber reserved) before it is made."""

    billing: Billing | None = None
    price: Price | None = None
    month: str | None = None  # the ledger month of a reservation to give back if the send fails


_Effect = _Send | _Call | _EndPass | _Acquire | _Sleep
_Pass = Generator[_Effect, Any, Notification]


def _advance(steps: _Pass, result: Any, error: Exception | None) -> tuple[_Effect | None, Notification | None]:
    """Resume the pass with an effect's result (or its error): the next effect it asks for, or
    ``(None, the notification)`` once it has ended."""
    try:
        return (steps.throw(error) if error is not None else steps.send(result)), None
    except StopIteration as done:
        return None, done.value


class _TokenRequests:
    """The rate-limit tokens the passes of one event loop ask for, taken together: every pass
    that asks during one turn of the loop is answered by one ``try_acquire_many`` (one round trip
    to Redis), on the store threads."""

    def __init__(self, limiter: RateLimiter, blocking: Executor | None) -> None:
        self._limiter = limiter
        self._blocking = blocking
        self._asking: list[tuple[Sequence[Limit], asyncio.Future[float]]] = []

    async def acquire(self, limits: Sequence[Limit]) -> float:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[float] = loop.create_future()
        if not self._asking:
            loop.call_soon(self._take, loop)  # after the other passes of this turn have asked
        self._asking.append((limits, answer))
        return await answer

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        asking, self._asking = self._asking, []
        taken = loop.run_in_executor(self._blocking, self._limiter.try_acquire_many, [limits for limits, _ in asking])

        def answer(done: asyncio.Future[list[float]]) -> None:
            error = done.exception()
            for index, (_, waiting) in enumerate(asking):
                if waiting.done():
                    continue
                if error is not None:
                    waiting.set_exception(error)
                else:
                    waiting.set_result(done.result()[index])

        taken.add_done_callback(answer)


class DeliveryEngine:
    def __init__(
        self,
        contacts: ContactRepository,
        tokens: LinkTokenRepository,
        messages: Messages,
        queue: DeliveryQueue,
        gateways: Mapping[Channel, MessengerGateway],
        limiter: RateLimiter,
        limits: RateLimits,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        channel_order: Iterable[Channel] = routing.DEFAULT_ORDER,
        status_callback: Callable[[Notification], StatusCallback | None] | None = None,
        trust_order_links: bool = False,
        telemetry: Telemetry | None = None,
        timer: Callable[[], float] = time.perf_counter,
        outage_errors: tuple[type[Exception], ...] = (),
        sleep_async: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ledger: ViberLedger | None = None,
    ) -> None:
        self._contacts = contacts
        self._tokens = tokens
        self._messages = messages
        self._trust_order_links = trust_order_links
        self._queue = queue
        self._gateways = dict(gateways)
        self._limiter = limiter
        self._limits = limits
        self._clock = clock
        self._policy = policy or DeliveryPolicy()
        if self._policy.viber_terms is not None and ledger is None:
            raise ValueError("Viber's billing terms need a ledger to count the month's messages in")
        self._ledger = ledger
        self._sleep = sleep
        self._sleep_async = sleep_async
        self._channel_order = tuple(channel_order)
        self._status_callback = status_callback
        self._telemetry = telemetry or NoTelemetry()
        self._timer = timer
        # Errors of the store that mean "try again later", not "this notification is broken": they
        # pass through, and the lease running out brings the notification back.
        self._outage_errors = outage_errors
        self._writer = queue if isinstance(queue, PassWriter) else None
        self._token_requests: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TokenRequests] = \
            weakref.WeakKeyDictionary()

    def recipients_of(self, batch: Sequence[Notification]) -> dict[str, Contact]:
        """The customers of a claimed batch, in one query (``recipients.resolve_batch``); the rest
        are looked up by their own pass. A copy each: passes run on several threads."""
        return recipients.resolve_batch(self._contacts, batch, trust_order_links=self._trust_order_links)

    def deliver(self, notification: Notification, owner: str, *, fall_back_at_once: bool = False,
                keep_trying: Callable[[], bool] | None = None, recipient: Contact | None = None) -> Notification:
        """One pass, on this thread. ``fall_back_at_once`` tries the next channel right after a
        transient failure (the synchronous trigger, which answers now); workers wait
        ``fallback_after`` failures.

        The pass's attempts and outcome are written together at its end. When a messenger has
        accepted the message, that write is retried while the database is away, for as long as
        ``keep_trying`` says (default: ``outcome_write_patience_seconds``): an outcome the messenger
        confirmed is not thrown away, so it is not sent again. ``recipient``: the customer
        ``recipients_of`` found for it when its batch was claimed.

        A pass that crashes is recorded as a ``crashed`` attempt and comes back later, until
        ``max_crashes``; then the notification fails with ``Failed: Delivery crashed``.
        """
        steps = self._guarded(notification, owner, fall_back_at_once, keep_trying, recipient)
        effect, finished = _advance(steps, None, None)
        while effect is not None:
            effect, finished = _advance(steps, *self._outcome(effect))
        assert finished is not None
        return finished

    async def deliver_async(self, notification: Notification, owner: str, *,
                            keep_trying: Callable[[], bool] | None = None, recipient: Contact | None = None,
                            blocking: Executor | None = None) -> Notification:
        """``deliver`` on an event loop: sends wait on the messenger without a thread each, calls to
        the store and the rate limiter run on ``blocking`` (default: the loop's executor), and the
        outcome is handed to the queue's group commit when it has one."""
        steps = self._guarded(notification, owner, False, keep_trying, recipient)
        effect, finished = _advance(steps, None, None)
        while effect is not None:
            effect, finished = _advance(steps, *await self._outcome_async(effect, blocking))
        assert finished is not None
        return finished

    def _outcome(self, effect: _Effect) -> tuple[Any, Exception | None]:
        """What the effect gave, or the error it raised: it goes back into the pass."""
        try:
            return self._perform(effect), None
        except Exception as error:
            return None, error

    async def _outcome_async(self, effect: _Effect, blocking: Executor | None) -> tuple[Any, Exception | None]:
        try:
            return await self._perform_async(effect, blocking), None
        except Exception as error:
            return None, error

    def _perform(self, effect: _Effect) -> Any:
        if isinstance(effect, _Send):
            return self._send(effect.step, effect.message)
        if isinstance(effect, _Acquire):
            return self._limiter.try_acquire(effect.limits)
        if isinstance(effect, _Call):
            return effect.function(*effect.args)
        if isinstance(effect, _EndPass):
            write = self._queue.complete if effect.complete else self._queue.reschedule
            return write(effect.notification, effect.owner)
        self._sleep(effect.seconds)
        return None

    async def _perform_async(self, effect: _Effect, blocking: Executor | None) -> Any:
        if isinstance(effect, _Send):
            return await self._send_async(effect.step, effect.message)
        if isinstance(effect, _Acquire):
            loop = asyncio.get_running_loop()
            requests = self._token_requests.get(loop)
            if requests is None:
                requests = self._token_requests[loop] = _TokenRequests(self._limiter, blocking)
            return await requests.acquire(effect.limits)
        if isinstance(effect, _Sleep):
            await self._sleep_async(effect.seconds)
            return None
        if isinstance(effect, _EndPass) and self._writer is not None:
            return await asyncio.wrap_future(
                self._writer.end_later(effect.notification, effect.owner, complete=effect.complete))
        # On the loop's executor, in this pass's context: its log lines keep their request id.
        return await asyncio.get_running_loop().run_in_executor(blocking, contextvars.copy_context().run,
                                                                self._perform, effect)

    def _guarded(self, notification: Notification, owner: str, fall_back_at_once: bool,
                 keep_trying: Callable[[], bool] | None, recipient: Contact | None) -> _Pass:
        try:
            return (yield from self._pass(notification, owner, fall_back_at_once, recipient, keep_trying))
        except self._outage_errors:
            raise
        except Exception as error:
            log.exception("notification.delivery_crashed id=%s error=%s", notification.id, type(error).__name__)
            return (yield from self._crashed(notification, owner, error, keep_trying))

    def _pass(self, notification: Notification, owner: str, fall_back_at_once: bool,
              recipient: Contact | None, keep_trying: Callable[[], bool] | None) -> _Pass:
        if (sent := notification.confirmed_send()) is not None:
            # Claimed again after a pass that sent it and died before closing the lease: finish, never resend.
            log.warning("notification.already_sent id=%s channel=%s", notification.id, sent.channel)
            notification.channel = sent.channel
            return (yield from self._finish(notification, owner, NotificationStatus.SENT, SENT_VIA[sent.channel],
                                            keep_trying))
        now = self._clock.now()
        if notification.expires_at is not None and now >= notification.expires_at:
            return (yield from self._expire(notification, owner, keep_trying))
        # The synchronous trigger answers now, and a high one is worth a late hour.
        quiet = None if fall_back_at_once or notification.priority is Priority.HIGH else self._quiet_for(now)
        if quiet is not None:
            # Nothing is tried and nothing recorded: the notification simply comes back in the morning.
            log.info("notification.quiet_hours id=%s wait=%.0f", notification.id, quiet)
            return (yield from self._again(notification, owner, quiet, keep_trying))
        contact = recipient or (yield _Call(self._recipient, (notification,)))
        if contact is None:
            log.warning("notification.recipient_unknown id=%s", notification.id)
            return (yield from self._finish(notification, owner, NotificationStatus.FAILED, USER_NOT_FOUND,
                                            keep_trying))
        notification.contact_id = contact.id
        message = self.render(notification, contact)
        skips, steps = self._candidates(notification, contact)
        for skip in skips:
            self._record(notification, skip.channel, AttemptOutcome.SKIPPED, skip.skip_reason)
        retry_after: float | None = None
        paused_for: float | None = None  # the shortest wait of a channel handed over below
        for index, step in enumerate(steps):
            another_channel = index + 1 < len(steps)
            wait, channel_waits = yield from self._acquire(step, notification.priority)
            if wait > 0:
                if channel_waits and another_channel and self._hands_over(notification, wait):
                    self._record(notification, step.channel, AttemptOutcome.SKIPPED,
                                 f"{step.channel} is paused for {wait:.0f} s: handed to the next channel")
                    paused_for = min(paused_for or wait, wait)
                    continue
                if self._too_old(notification):
                    # Waiting on a rate limit or an absent Redis counts against RETRY_MAX_AGE as retries do:
                    # an order message a day late is worse than a clear failure the shop can act on.
                    return (yield from self._finish(notification, owner, NotificationStatus.FAILED, DELIVERY_FAILED,
                                                    keep_trying))
                log.info("notification.rate_limited id=%s channel=%s wait=%.2f", notification.id, step.channel, wait)
                return (yield from self._again(notification, owner, wait, keep_trying))
            charge = yield from self._charge(step.channel, contact)
            if charge is None:
                log.warning("notification.budget_exhausted id=%s channel=%s", notification.id, step.channel)
                self._record(notification, step.channel, AttemptOutcome.SKIPPED, BUDGET_SKIP)
                continue
            try:
                receipt = yield _Send(step, message)
            except PermanentFailure as failure:
                yield from self._give_back(charge)
                self._record(notification, step.channel, AttemptOutcome.PERMANENT_FAILURE, failure.reason)
                if failure.recipient_state:
                    contact.set_state(step.channel, ChannelState(failure.recipient_state))
                    yield _Call(self._contacts.update, (contact,))
                continue
            except TransientFailure as failure:
                if not failure.may_have_arrived:
                    yield from self._give_back(charge)
                self._record(notification, step.channel, AttemptOutcome.TRANSIENT_FAILURE, failure.reason)
                if failure.retry_after:
                    yield _Call(self._pause, (step.channel, failure.retry_after))
                # A flood wait longer than a channel may hold a notification: the next channel now.
                handed_over = another_channel and self._hands_over(notification, failure.retry_after or 0.0)
                if not handed_over:
                    retry_after = max(retry_after or 0.0, failure.retry_after or 0.0)
                if fall_back_at_once or handed_over:
                    continue
                break
            self._record(notification, step.channel, AttemptOutcome.SENT, provider_id=receipt.provider_message_id,
                         price=charge.price, billing=charge.billing)
            if charge.price is not None:
                self._telemetry.billed(step.channel, charge.price)
            if charge.billing is not None:
                self._telemetry.charged(step.channel, charge.billing)
            notification.channel = step.channel
            log.info("notification.sent id=%s channel=%s", notification.id, step.channel)
            return (yield from self._finish(notification, owner, NotificationStatus.SENT, SENT_VIA[step.channel],
                                            keep_trying))
        return (yield from self._retry_or_fail(notification, owner, contact, retry_after, paused_for, keep_trying))

    def _recipient(self, notification: Notification) -> Contact | None:
        if notification.contact_id is not None:
            contact = self._contacts.get(notification.contact_id)
            if contact is not None:
                return contact
        return recipients.resolve(self._contacts, self._tokens, notification.phone, notification.order_id,
                                  trust_order_links=self._trust_order_links)

    def _candidates(self, notification: Notification,
                    contact: Contact) -> tuple[list[routing.Step], list[routing.Step]]:
        """(channels to record as skipped now, channels worth a send in this pass, in order)."""
        skipped = {a.channel for a in notification.attempts if a.outcome is AttemptOutcome.SKIPPED}
        # The month's budget does not come back for this notification: the channel is done with.
        over_budget = {a.channel for a in notification.attempts if a.error == BUDGET_SKIP}
        skips, usable = [], []
        for step in routing.plan(contact, self._gateways, notification.channels or self._channel_order):
            if step.skip_reason:
                if step.channel not in skipped:
                    skips.append(step)
            elif (not notification.failures(step.channel, AttemptOutcome.PERMANENT_FAILURE)
                  and step.channel not in over_budget):
                usable.append(step)

        def transient(step: routing.Step) -> int:
            return notification.failures(step.channel, AttemptOutcome.TRANSIENT_FAILURE)

        fresh = [s for s in usable
                 if transient(s) < self._policy.fallback_after and not self._down_too_long(notification, s.channel)]
        return skips, fresh or [s for s in usable if transient(s) < self._policy.retry.max_attempts]

    def _down_too_long(self, notification: Notification, channel: Channel) -> bool:
        """Whether ``channel`` has been failing this notification for longer than a channel may
        hold it: an outage hands over as a long flood wait does."""
        failed_at = [a.created_at for a in notification.attempts
                     if a.channel is channel and a.outcome is AttemptOutcome.TRANSIENT_FAILURE and a.created_at]
        return bool(failed_at) and (self._clock.now() - min(failed_at)).total_seconds() > \
            self._policy.max_channel_wait_seconds

    def _hands_over(self, notification: Notification, wait: float) -> bool:
        """Whether a channel's ``wait`` is too long to hold the notification for: longer than
        ``max_channel_wait_seconds``, or past its deadline."""
        if wait > self._policy.max_channel_wait_seconds:
            return True
        deadline = notification.expires_at
        return deadline is not None and self._clock.now() + timedelta(seconds=wait) >= deadline

    def _quiet_for(self, now: datetime) -> float | None:
        hours = self._policy.quiet_hours
        remaining = None if hours is None else hours.remaining(now)
        return None if remaining is None else remaining.total_seconds()

    def _charge(self, channel: Channel, contact: Contact) -> Generator[_Effect, Any, _Charge | None]:
        """What the send about to be made costs; None when the budget forbids it. A Viber send
        outside the customer's session takes a free-quota or billable message from the month's
        ledger first, so no number of workers at once can spend past the budget."""
        terms = self._policy.viber_terms
        if channel is not Channel.VIBER or terms is None or self._ledger is None:
            return _Charge(price=(yield from self._price(channel)))
        now = self._clock.now()
        if terms.in_session(contact.viber_last_message_at, now):
            return _Charge(Billing.FREE_SESSION)
        month = billing_month(now)
        billing: Billing | None = yield _Call(self._ledger.reserve, (month, terms.free_quota, terms.monthly_budget))
        if billing is None:
            return None
        return _Charge(billing, terms.price_of(billing), month)

    def _give_back(self, charge: _Charge) -> Generator[_Effect, Any, None]:
        """The messenger refused the send: what was reserved for it is free again."""
        if charge.month is not None and charge.billing is not None and self._ledger is not None:
            yield _Call(self._ledger.give_back, (charge.month, charge.billing))

    def _acquire(self, step: routing.Step, priority: Priority) -> Generator[_Effect, Any, tuple[float, bool]]:
        """Wait for the send's tokens, briefly; else (the wait, whether it is the channel's own:
        a pause or its limits, rather than the bulk share being booked)."""
        for_send = (self._limits.for_bulk_send if priority is Priority.BULK else None) or self._limits.for_send
        limits = for_send(step.channel, step.address)
        waited = 0.0
        try:
            if priority is Priority.BULK and (share := self._limits.bulk_share(step.channel)):
                # Bulk sends first book their turn in a bucket of a share of the bot's rate, and
                # sleep until it comes: they never drain the bot's bucket faster than that share,
                # so the rest stays free for normal and high ones, and hundreds of them waiting
                # cost a timer each instead of asking the limiter again and again.
                turn = yield _Call(self._limiter.reserve, (share, self._policy.bulk_horizon_seconds))
                if turn is None:
                    return self._policy.bulk_horizon_seconds / 2, False  # the share is booked that far
                if turn > 0:
                    yield _Sleep(turn)
            while (wait := (yield _Acquire(limits))) > 0:
                if waited + wait > self._policy.max_rate_wait_seconds:
                    return wait, True
                yield _Sleep(wait)
                waited += wait
        except RateLimiterUnavailable as exc:
            log.warning("notification.rate_limiter_unavailable channel=%s error=%s", step.channel, exc)
            return self._policy.limiter_retry_seconds, False
        return 0.0, False

    def _price(self, channel: Channel) -> Generator[_Effect, Any, Price | None]:
        """What this send will be billed: nothing, unless it is above the channel's free rate."""
        if (paid := self._limits.paid_above(channel)) is None:
            return None
        free_share, price = paid
        try:
            return None if (yield _Acquire(free_share)) == 0 else price
        except RateLimiterUnavailable:
            return price  # counted as billed: the spend shown errs on the side of too much

    def _pause(self, channel: Channel, seconds: float) -> None:
        try:
            self._limiter.pause(self._limits.pause_key(channel), seconds)
        except RateLimiterUnavailable as exc:
            # The notification itself still waits retry_after; other workers may meet a 429 of their own.
            log.warning("notification.pause_not_shared channel=%s error=%s", channel, exc)

    def _retry_or_fail(self, notification: Notification, owner: str, contact: Contact,
                       retry_after: float | None, paused_for: float | None,
                       keep_trying: Callable[[], bool] | None) -> _Pass:
        """After a pass without success: come back later while a channel has retries left, or
        when a channel handed over (``paused_for``) can take the message again."""
        transient = [a for a in notification.attempts if a.outcome is AttemptOutcome.TRANSIENT_FAILURE]
        if not transient and paused_for is not None and not self._too_old(notification):
            return (yield from self._again(notification, owner, paused_for, keep_trying))
        if not transient:
            tried = any(a.outcome is not AttemptOutcome.SKIPPED for a in notification.attempts)
            over_budget = any(a.error == BUDGET_SKIP for a in notification.attempts)
            result = VIBER_BUDGET_EXHAUSTED if over_budget else DELIVERY_FAILED if tried else NO_REACHABLE_CHANNEL
            return (yield from self._finish(notification, owner, NotificationStatus.FAILED, result, keep_trying))
        if self._too_old(notification) or not self._candidates(notification, contact)[1]:
            return (yield from self._finish(notification, owner, NotificationStatus.FAILED, DELIVERY_FAILED,
                                            keep_trying))
        failures = notification.failures(transient[-1].channel, AttemptOutcome.TRANSIENT_FAILURE)
        return (yield from self._again(notification, owner, self._policy.retry.delay(failures, retry_after),
                                       keep_trying))

    def _crashed(self, notification: Notification, owner: str, error: Exception,
                 keep_trying: Callable[[], bool] | None) -> _Pass:
        channel = notification.channel or (notification.channels or self._channel_order)[0]
        self._record(notification, channel, AttemptOutcome.CRASHED, f"crashed: {type(error).__name__}")
        crashes = sum(1 for a in notification.attempts if a.outcome is AttemptOutcome.CRASHED)
        if crashes >= self._policy.max_crashes:
            return (yield from self._finish(notification, owner, NotificationStatus.FAILED, DELIVERY_CRASHED,
                                            keep_trying))
        return (yield from self._again(notification, owner, self._policy.retry.delay(crashes), keep_trying))

    def _too_old(self, notification: Notification) -> bool:
        assert notification.created_at is not None
        return self._clock.now() - notification.created_at >= self._policy.retry.max_age

    def _again(self, notification: Notification, owner: str, delay: float,
               keep_trying: Callable[[], bool] | None) -> _Pass:
        next_attempt_at = self._clock.now() + timedelta(seconds=delay)
        if notification.expires_at is not None and next_attempt_at >= notification.expires_at:
            # Nothing can be sent before the deadline: say so now rather than at the deadline.
            return (yield from self._expire(notification, owner, keep_trying))
        notification.next_attempt_at = next_attempt_at
        notification.result = QUEUED_FOR_RETRY
        if not (yield from self._write_outcome(notification, owner, False, keep_trying)):
            log.warning("notification.lease_lost id=%s owner=%s", notification.id, owner)
        return notification

    def _expire(self, notification: Notification, owner: str, keep_trying: Callable[[], bool] | None) -> _Pass:
        log.info("notification.expired id=%s", notification.id)
        return (yield from self._finish(notification, owner, NotificationStatus.EXPIRED, EXPIRED, keep_trying))

    def _finish(self, notification: Notification, owner: str, status: NotificationStatus,
                result: str, keep_trying: Callable[[], bool] | None) -> _Pass:
        notification.status = status
        notification.result = result
        if status is NotificationStatus.FAILED:
            log.warning("notification.failed id=%s result=%s", notification.id, result)
        if self._status_callback is not None:
            # Written with the outcome, in its transaction: the shop hears of every final status.
            notification.unsaved_callback = self._status_callback(notification)
        if not (yield from self._write_outcome(notification, owner, True, keep_trying)):
            log.warning("notification.lease_lost id=%s owner=%s", notification.id, owner)
            return notification
        self._telemetry.finished(notification)
        return notification

    def _write_outcome(self, notification: Notification, owner: str, complete: bool,
                       keep_trying: Callable[[], bool] | None) -> Generator[_Effect, Any, bool]:
        """Complete or reschedule, tried again while the database is away if this pass holds a
        send the messenger accepted; other outcomes are simply redone by the next pass."""
        confirmed = any(a.outcome is AttemptOutcome.SENT for a in notification.unsaved_attempts)
        keep_trying = keep_trying or self._patience(self._policy.outcome_write_patience_seconds)
        pause = 0.1
        while True:
            try:
                held: bool = yield _EndPass(notification, owner, complete)
                return held
            except self._outage_errors as error:
                if not confirmed or not keep_trying():
                    if confirmed:
                        log.error("notification.sent_unrecorded id=%s error=%s", notification.id,
                                  type(error).__name__)
                    raise
                log.warning("notification.outcome_write_retry id=%s error=%s", notification.id,
                            type(error).__name__)
                yield _Sleep(pause)
                pause = min(pause * 2, 2.0)

    def _patience(self, seconds: float) -> Callable[[], bool]:
        deadline = self._timer() + seconds
        return lambda: self._timer() < deadline

    def _send(self, step: routing.Step, message: OutgoingMessage) -> SendReceipt:
        with self._provider_call(step.channel):
            return self._gateways[step.channel].send(step.address, message)

    async def _send_async(self, step: routing.Step, message: OutgoingMessage) -> SendReceipt:
        with self._provider_call(step.channel):
            return await self._gateways[step.channel].send_async(step.address, message)

    @contextmanager
    def _provider_call(self, channel: Channel) -> Iterator[None]:
        """One call to the messenger, timed for the operators' latency metric."""
        started, throttled = self._timer(), False
        try:
            yield
        except TransientFailure as failure:
            throttled = failure.throttled
            raise
        finally:
            self._telemetry.provider_call(channel, self._timer() - started, throttled)

    def _record(self, notification: Notification, channel: Channel, outcome: AttemptOutcome,
                error: str | None = None, provider_id: str | None = None, price: Price | None = None,
                billing: Billing | None = None) -> None:
        attempt = DeliveryAttempt(channel, outcome, error=error, provider_message_id=provider_id,
                                  created_at=self._clock.now(), price=price, billing=billing)
        notification.attempts.append(attempt)
        notification.unsaved_attempts.append(attempt)
        self._telemetry.attempt(channel, outcome)

    def render(self, notification: Notification, contact: Contact) -> OutgoingMessage:
        """The notification's text in the customer's language."""
        if notification.text is not None:
            return self._messages.free_text(notification.text)
        return self._messages.order_ready(notification.order_id, notification.items, contact.language)
