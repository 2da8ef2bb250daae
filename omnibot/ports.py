"""The interfaces the services need from the outside world. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    Contact,
    DeliveryAttempt,
    LinkToken,
    Notification,
    NotificationStatus,
    OrderLink,
    Price,
)

T = TypeVar("T")


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to one customer.

    ``text`` is plain text (Viber, and Telegram without formatting); ``html`` is the same message
    already escaped for Telegram's HTML parse mode. ``request_phone`` asks the messenger to show
    a share-my-phone button; ``remove_keyboard`` hides a button shown earlier.
    """

    text: str
    html: str | None = None
    request_phone: bool = False
    request_phone_label: str = "Share my phone"
    remove_keyboard: bool = False


@dataclass(frozen=True)
class SendReceipt:
    """The messenger's id of the message it accepted."""

    provider_message_id: str


class MessengerGateway(Protocol):
    """Sends messages through one messenger; raises ``PermanentFailure`` / ``TransientFailure``."""

    channel: Channel

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt: ...

    async def send_async(self, address: str, message: OutgoingMessage) -> SendReceipt:
        """``send`` for the delivery worker's event loop: it waits without holding a thread."""
        ...


class ContactRepository(Protocol):
    def get(self, contact_id: int) -> Contact | None: ...

    def find_by_phone(self, phone: str) -> Contact | None: ...

    def find_many(self, contact_ids: Collection[int], phones: Collection[str]) -> list[Contact]:
        """Every contact with one of ``contact_ids`` or one of ``phones``, in one query."""
        ...

    def find_by_telegram_chat(self, chat_id: int) -> Contact | None: ...

    def find_by_viber_user(self, user_id: str) -> Contact | None: ...

    def find_by_order(self, order_id: str) -> list[Contact]:
        """Contacts whose messenger account opened this order's deep link, most recent first."""
        ...

    def add(self, contact: Contact) -> Contact:
        """Store a new contact; returns it with ``id`` and timestamps set."""
        ...

    def update(self, contact: Contact) -> None: ...

    def merge(self, keep: Contact, duplicate: Contact) -> None:
        """In one transaction: delete ``duplicate``, move its order links to ``keep``, save ``keep``.

        ``keep`` already carries the fields it takes over (see ``Contact.absorb``).
        """
        ...

    def link_order(self, link: OrderLink) -> None:
        """Record that an account opened an order's link; repeating it refreshes the link."""
        ...

    def delete(self, contact_id: int) -> None:
        """Remove the contact and its order links (a data-protection erase)."""
        ...


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> None: ...

    def update(self, notification: Notification) -> None:
        """Save status, channel, contact_id, result and updated_at."""
        ...

    def add_attempt(self, notification_id: str, attempt: DeliveryAttempt) -> None: ...

    def get(self, notification_id: str) -> Notification | None:
        """The notification with its attempts in the order they were made."""
        ...

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        """Strip the personal data (phone, order, items, text) from this customer's notifications;
        statuses, channels and attempts stay for the delivery counts. Returns how many."""
        ...


class LinkTokenRepository(Protocol):
    def add(self, token: LinkToken) -> None: ...

    def get(self, token_hash: str) -> LinkToken | None: ...

    def use(self, token_hash: str, contact_id: int, at: datetime) -> bool:
        """Mark the token used by ``contact_id``; False if someone used it first."""
        ...

    def delete_for_phone(self, phone: str) -> int: ...

    def contacts_for_order(self, order_id: str) -> list[int]:
        """Contacts that opened a link made for this order, most recent first."""
        ...


@dataclass(frozen=True)
class BotReply:
    """What the bot answers one customer, on the messenger the customer wrote on."""

    channel: Channel
    address: str
    message: OutgoingMessage


class WebhookEndpoint(Protocol):
    """A messenger's side of omnibot's webhook: which updates are authentic, and how an answer
    carries the bot's reply."""

    channel: Channel

    def authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the update came from the messenger (its secret or its signature)."""
        ...

    def answer(self, reply: BotReply | None) -> dict[str, Any]:
        """The webhook's answer, carrying ``reply`` when there is one."""
        ...


class UpdateLog(Protocol):
    """Webhook updates already handled: messengers redeliver, omnibot acts once."""

    def claim(self, channel: Channel, key: str) -> bool:
        """Record the update as handled in the caller's transaction; False when it was already
        (waits for a transaction handling it at the same time to end)."""
        ...

    def keep_reply(self, channel: Channel, key: str, reply: BotReply) -> None:
        """Keep the reply carried in the webhook's answer, to answer a redelivery alike."""
        ...

    def reply_to(self, channel: Channel, key: str) -> BotReply | None:
        """The reply kept for a handled update."""
        ...

    def forget_before(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class ReplyJob:
    id: int
    reply: BotReply
    attempts: int


class ReplyOutbox(Protocol):
    """Bot replies that cannot ride in a webhook's answer, stored with the update, sent by the workers."""

    def add(self, reply: BotReply) -> None: ...

    def claim(self, limit: int, lease_seconds: float) -> list[ReplyJob]: ...

    def done(self, job_id: int) -> None: ...

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        """Try again after ``delay_seconds``; ``None`` gives up (the error stays for operators)."""
        ...

    def postpone(self, job_id: int, delay_seconds: float) -> None:
        """Due again in ``delay_seconds``; the claim does not count as a try."""
        ...


class ReceiptLog(Protocol):
    """What the messenger reports back about a sent message."""

    def record_receipt(self, channel: Channel, provider_message_id: str,
                       status: NotificationStatus) -> Notification | None:
        """A messenger reported a sent message delivered or seen; status only moves forward."""
        ...

    def record_undelivered(self, channel: Channel, provider_message_id: str, error: str,
                           result: str) -> Notification | None:
        """A messenger could not deliver a message it had accepted: a ``sent`` notification becomes
        ``failed`` with ``result``, and ``error`` is kept as an attempt. Returns that notification, or
        None when no notification was changed (unknown message, already failed, delivered or seen)."""
        ...


class InboundUnit(Protocol):
    """The stores one webhook update reads and writes, all in one transaction."""

    contacts: ContactRepository
    tokens: LinkTokenRepository
    updates: UpdateLog
    replies: ReplyOutbox
    receipts: ReceiptLog
    callbacks: CallbackOutbox


class InboundStore(Protocol):
    def run(self, work: Callable[[InboundUnit], T]) -> T:
        """Run ``work`` in one transaction, committed when it returns and rolled back when it
        raises; once more on a fresh connection when the first one turned out dead."""
        ...


class OperatorSignOuts(Protocol):
    """Dashboard sign-outs, shared by every process on the database.

    An operator's session carries the generation it was issued at; a sign-out moves the generation
    on, so every session issued before it no longer counts, whichever process issued it.
    """

    def generation(self, operator: str) -> int:
        """How many times ``operator`` has signed out; 0 if never."""
        ...

    def sign_out(self, operator: str) -> int:
        """Void every session of ``operator`` issued so far; returns the new generation."""
        ...


class DeliveryQueue(ReceiptLog, Protocol):
    """Durable, leased work: notifications waiting for their next attempt.

    A claim is a lease: a notification held by a process that died is claimed again once the
    lease runs out, so nothing accepted is lost (and a send in flight at a crash may repeat).
    """

    def enqueue(
        self, notification: Notification, idempotency_key: str | None = None,
        fingerprint: str | None = None, lease_owner: str | None = None, lease_seconds: float = 0,
    ) -> tuple[Notification, bool]:
        """Commit a new notification; ``(stored, created)``.

        With an ``idempotency_key`` seen before, nothing is written: the stored notification comes
        back with ``created`` False, or ``IdempotencyConflict`` if ``fingerprint`` differs.
        With ``lease_owner`` it is stored already claimed by that owner (the synchronous trigger).
        """
        ...

    def claim(self, owner: str, limit: int, lease_seconds: float, bulk_limit: int | None = None) -> list[Notification]:
        """Lease up to ``limit`` due notifications (queued and due, or with an expired lease), in
        order: high priority, leases run out, normal, bulk; at most ``bulk_limit`` bulk ones (None:
        no cap of their own). The batch comes back in order of priority."""
        ...

    def reschedule(self, notification: Notification, owner: str) -> bool:
        """Back to queued until ``notification.next_attempt_at``; False if the lease was lost.

        Writes ``notification.unsaved_attempts`` in the same transaction (even when the lease was
        lost: they happened) and empties the list.
        """
        ...

    def complete(self, notification: Notification, owner: str) -> bool:
        """Save the final outcome and end the lease; False if the lease was lost. Writes the
        unsaved attempts in the same transaction, as ``reschedule`` does, and the unsaved status
        callback to the outbox if the lease was held."""
        ...

    def release(self, notification_ids: Sequence[str], owner: str) -> int:
        """Give leased notifications back untouched (a worker shutting down)."""
        ...


class ViberLedger(Protocol):
    """The month's count of Viber's free-quota and billable messages, shared by every worker."""

    def reserve(self, month: str, free_quota: int, budget: int) -> Billing | None:
        """Take, atomically, one of ``month``'s ``free_quota`` free messages while any is left
        (``FREE_QUOTA``), else one of its ``budget`` billable ones (``BILLABLE``); None when both
        are spent: the send must not be made."""
        ...

    def give_back(self, month: str, billing: Billing) -> None:
        """Return a message ``reserve`` took for a send the messenger refused."""
        ...

    def used(self, month: str) -> tuple[int, int]:
        """``(free-quota messages, billable messages)`` taken in ``month``."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class Limit:
    """One token bucket: ``rate`` tokens a second, holding at most ``burst``."""

    key: str
    rate: float
    burst: float


class RateLimiter(Protocol):
    """Token buckets shared by every process that sends through the same bot."""

    def try_acquire(self, limits: Sequence[Limit]) -> float:
        """Take one token from every bucket, or from none.

        Returns 0.0 when taken; otherwise the seconds to wait before all could be taken
        (including any pause in force on one of the keys). Raises ``RateLimiterUnavailable``
        when the buckets cannot be read.
        """
        ...

    def try_acquire_many(self, requests: Sequence[Sequence[Limit]]) -> list[float]:
        """``try_acquire`` for each request in turn, in one call (one round trip to a shared
        store): per request, 0.0 when its tokens were taken, else its wait."""
        ...

    def reserve(self, limits: Sequence[Limit], within: float) -> float | None:
        """Take one token from every bucket, now or at the first moment all could give one if
        that is at most ``within`` seconds away: the seconds until the reserved tokens are due
        (0.0: now), during which the caller waits instead of asking again. None, with nothing
        taken, when that moment (or a pause in force) is further away. Those who reserve are served
        in turn, without asking again and again."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Refuse every acquire that touches ``key`` for ``seconds`` (a 429's ``retry_after``).

        Raises ``RateLimiterUnavailable`` when the pause cannot be stored.
        """
        ...

    def paused(self) -> dict[str, float]:
        """Pauses in force: key → seconds left. Raises ``RateLimiterUnavailable`` when they cannot be read."""
        ...


@dataclass(frozen=True)
class CallbackJob:
    """One status change waiting to be POSTed to the shop."""

    id: int
    notification_id: str
    url: str
    body: str
    attempts: int


class CallbackOutbox(Protocol):
    """Status callbacks to the shop, stored with the change so none is lost, sent by the workers."""

    def add(self, notification_id: str, url: str, body: str) -> None: ...

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]: ...

    def done(self, job_id: int) -> None: ...

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        """Try again after ``delay_seconds``; ``None`` gives up (the error stays for operators)."""
        ...


class CallbackTransport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST; raise ``DeliveryFailure`` unless the shop answered 2xx, ``CallbackRefused`` (one of
        them) when ``url`` may not receive callbacks at all."""
        ...


class Telemetry(Protocol):
    """What the services report for operators' metrics; the Prometheus adapter counts it."""

    def accepted(self, api: str) -> None:
        """A notification was committed by ``api`` (``trigger`` or ``v1``)."""
        ...

    def attempt(self, channel: Channel, outcome: AttemptOutcome) -> None:
        """One delivery attempt was recorded (a send's outcome, or a skip)."""
        ...

    def provider_call(self, channel: Channel, seconds: float, throttled: bool) -> None:
        """One call to a messenger took ``seconds``; ``throttled`` when it answered "too many requests"."""
        ...

    def billed(self, channel: Channel, price: Price) -> None:
        """A messenger accepted a send it bills (a paid broadcast's message above the free rate)."""
        ...

    def charged(self, channel: Channel, billing: Billing) -> None:
        """A messenger accepted a send of a channel with billing terms (Viber): free or billable."""
        ...

    def finished(self, notification: Notification) -> None:
        """A notification reached its final status (sent, failed or expired) in this pass."""
        ...

    def webhook_update(self, channel: Channel, kind: str) -> None:
        """A messenger's webhook delivered an update of ``kind`` (a short, fixed vocabulary)."""
        ...


class NoTelemetry:
    """The default: report nothing (unit tests, and any service built without metrics)."""

    def accepted(self, api: str) -> None:
        pass

    def attempt(self, channel: Channel, outcome: AttemptOutcome) -> None:
        pass

    def provider_call(self, channel: Channel, seconds: float, throttled: bool) -> None:
        pass

    def billed(self, channel: Channel, price: Price) -> None:
        pass

    def charged(self, channel: Channel, billing: Billing) -> None:
        pass

    def finished(self, notification: Notification) -> None:
        pass

    def webhook_update(self, channel: Channel, kind: str) -> None:
        pass
