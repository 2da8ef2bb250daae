"""The language of omnibot: customers, their messenger channels, notifications and attempts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    VIBER = "viber"


class ChannelState(enum.StrEnum):
    """Whether a customer's messenger account can receive our messages."""

    ACTIVE = "active"
    BLOCKED = "blocked"  # the customer blocked the bot (Telegram)
    OPTED_OUT = "opted_out"  # the customer asked to stop (/stop on Telegram, unsubscribed on Viber)
    UNREACHABLE = "unreachable"  # the messenger said the account cannot receive (gone, no device)


class NotificationStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt
    SENDING = "sending"  # leased by a worker (or the synchronous trigger) right now
    SENT = "sent"  # a messenger accepted it
    DELIVERED = "delivered"  # the messenger reported it on the customer's device (Viber)
    SEEN = "seen"  # the customer opened it (Viber)
    FAILED = "failed"  # every channel refused, or retries ran out
    EXPIRED = "expired"  # its deadline passed before any messenger took it: never sent

    @property
    def is_final(self) -> bool:
        return self not in (NotificationStatus.QUEUED, NotificationStatus.SENDING)

    def moved_from_by_receipt(self) -> list[NotificationStatus]:
        """The statuses a messenger's receipt of this one (delivered, seen) moves a notification
        from: only forward, sent → delivered → seen, whatever order the receipts arrive in."""
        order = [NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.SEEN]
        return order[: order.index(self)]


class Priority(enum.StrEnum):
    """How a notification waits its turn: high before everything waiting; bulk (announcements) only
    with what normal and high ones leave free."""

    HIGH = "high"
    NORMAL = "normal"
    BULK = "bulk"

    @property
    def rank(self) -> int:
        """The order workers take them in: 0 first."""
        return _PRIORITY_RANKS[self]


_PRIORITY_RANKS = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.BULK: 2}


class AttemptOutcome(enum.StrEnum):
    SENT = "sent"
    PERMANENT_FAILURE = "permanent_failure"
    TRANSIENT_FAILURE = "transient_failure"
    SKIPPED = "skipped"
    # The pass raised an error no messenger answer explains (a bug, or input nothing can send).
    CRASHED = "crashed"


@dataclass
class Contact:
    """One customer, known by phone and/or by their messenger accounts.

    ``phone`` is E.164 (``+380501234567``). A contact created by a deep-link start has no phone
    until the customer shares it or a trigger names the order they linked through.
    """

    id: int | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    telegram_chat_id: int | None = None
    telegram_state: ChannelState = ChannelState.ACTIVE
    viber_user_id: str | None = None
    viber_state: ChannelState = ChannelState.ACTIVE
    # True once the customer proved the phone is theirs: shared their own contact, or opened a
    # link the shop made for this phone. Only verified phones receive order contents by default.
    phone_verified: bool = False
    telegram_linked_at: datetime | None = None
    viber_linked_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # When the customer last wrote to the bot on Viber: it opens Viber's free session window.
    viber_last_message_at: datetime | None = None

    def address(self, channel: Channel) -> str | None:
        if channel is Channel.TELEGRAM:
            return None if self.telegram_chat_id is None else str(self.telegram_chat_id)
        return self.viber_user_id

    def state(self, channel: Channel) -> ChannelState:
        return self.telegram_state if channel is Channel.TELEGRAM else self.viber_state

    def set_state(self, channel: Channel, state: ChannelState) -> None:
        if channel is Channel.TELEGRAM:
            self.telegram_state = state
        else:
            self.viber_state = state

    def yields_phone_to_contact_card(self, sharer: Contact, channel: Channel) -> bool:
        """Whether a contact card that ``sharer`` shared on ``channel``, carrying this customer's
        phone, may bind that phone to ``sharer`` (README, "What proves a phone").

        A phone nobody has proved yet is free to prove. A verified one never moves to another
        account of the same messenger without its customer's own proof (a signed link the shop
        made for it). A card the messenger vouches for as the sender's own (Telegram's contact
        with the sender's ``user_id``; Viber's answer to omnibot's share-phone keyboard, which
        the webhook has already checked) may add that messenger to a customer who has no
        account on it yet: the same person reaching the shop on a second messenger.
        """
        if self.id == sharer.id or not self.phone_verified:
            return True
        if channel is Channel.VIBER:
            return self.viber_user_id is None
        return self.telegram_chat_id is None

    def absorb(self, other: Contact) -> None:
        """Take over the messenger accounts and profile of ``other``, a duplicate of this customer."""
        if other.telegram_chat_id is not None:
            self.telegram_chat_id = other.telegram_chat_id
            self.telegram_state = other.telegram_state
            self.telegram_linked_at = other.telegram_linked_at
        if other.viber_user_id is not None:
            self.viber_user_id = other.viber_user_id
            self.viber_state = other.viber_state
            self.viber_linked_at = other.viber_linked_at
            self.viber_last_message_at = other.viber_last_message_at
        self.first_name = self.first_name or other.first_name
        self.last_name = self.last_name or other.last_name
        self.language = self.language or other.language


@dataclass
class LinkToken:
    """A one-customer deep link the shop made for a phone: opening it proves that phone."""

    token_hash: str  # SHA-256 of the token: a database leak does not leak working links
    phone: str
    order_id: str | None
    expires_at: datetime
    used_at: datetime | None = None
    used_by_contact_id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class OrderLink:
    """A messenger account that opened the deep link of an order."""

    order_id: str
    contact_id: int
    channel: Channel


@dataclass(frozen=True)
class Price:
    """What a send costs the shop: ``amount`` of ``currency`` (ISO 4217, or ``XTR``: Telegram Stars)."""

    amount: Decimal
    currency: str


class Billing(enum.StrEnum):
    """How a messenger bills one send (Viber's terms: README, "What Viber costs")."""

    FREE_SESSION = "free_session"  # inside the session the customer's own message opened
    FREE_QUOTA = "free_quota"  # one of the account's free messages of the month
    BILLABLE = "billable"  # paid for, and counted against VIBER_MONTHLY_BUDGET


@dataclass
class DeliveryAttempt:
    channel: Channel
    outcome: AttemptOutcome
    error: str | None = None
    provider_message_id: str | None = None
    created_at: datetime | None = None
    price: Price | None = None  # a send the messenger bills; None when it is free
    billing: Billing | None = None  # None on a channel whose sends are free (Telegram)

    @property
    def billable(self) -> bool:
        return self.price is not None or self.billing is Billing.BILLABLE


@dataclass(frozen=True)
class StatusCallback:
    """What to post to the shop about a notification's new status (signed when it is sent)."""

    url: str
    body: str


@dataclass
class Notification:
    """One request to tell a customer something, and what became of it."""

    id: str
    phone: str | None
    order_id: str | None
    items: list[str]
    event: str = "order_ready"
    text: str | None = None  # free-form text instead of an event's template
    channels: list[Channel] | None = None  # the shop's own channel order for this notification
    callback_url: str | None = None
    status: NotificationStatus = NotificationStatus.QUEUED
    channel: Channel | None = None
    contact_id: int | None = None
    result: str | None = None  # the answer given to the caller, e.g. "Sent via Telegram"
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    next_attempt_at: datetime | None = None
    request_id: str | None = None  # the HTTP request that created it, for following it in logs
    # Past this instant nothing is sent: the notification is expired (None: no deadline).
    expires_at: datetime | None = None
    priority: Priority = Priority.NORMAL
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Attempts of the delivery pass in progress, also in ``attempts``: the queue writes them with
    # the pass's outcome, in one transaction, and empties this list.
    unsaved_attempts: list[DeliveryAttempt] = field(default_factory=list, repr=False, compare=False)
    # The status callback of the pass in progress: written with its outcome, if the lease was held.
    unsaved_callback: StatusCallback | None = field(default=None, repr=False, compare=False)

    def failures(self, channel: Channel, outcome: AttemptOutcome) -> int:
        return sum(1 for a in self.attempts if a.channel is channel and a.outcome is outcome)

    def confirmed_send(self) -> DeliveryAttempt | None:
        """The attempt a messenger accepted, if one was written: the notification is sent, whatever
        became of the pass that sent it (a worker killed before it closed the lease)."""
        return next((a for a in self.attempts if a.outcome is AttemptOutcome.SENT), None)
