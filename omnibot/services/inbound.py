"""The inbound use case: what omnibot stores and answers for each update a messenger sends.

The webhook entrypoint verifies an update, parses it into one of the events below and hands it
to ``Inbound.handle``. Each update is one transaction: the update's key (messengers redeliver),
the customer's account, the order link and the reply are committed together or not at all.

A reply never waits on the messenger inside the webhook. Where the messenger lets a webhook's
answer carry it (Telegram for every update, Viber for ``conversation_started``), it goes back in
the answer and is kept with the update's key, so a redelivered update (the answer was lost) is
answered alike. Everything else goes to the reply outbox in the same transaction, and the workers
send it through the rate limiter, as they send deliveries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from omnibot.domain.errors import ContactConflict
from omnibot.domain.model import Channel, ChannelState, Notification, NotificationStatus
from omnibot.ports import BotReply, Clock, InboundStore, InboundUnit, NoTelemetry, OutgoingMessage, Telemetry
from omnibot.services.callbacks import StatusCallbacks
from omnibot.services.deep_links import LinkIssuer
from omnibot.services.delivery import DELIVERY_FAILED
from omnibot.services.linking import Linking, MessengerUser
from omnibot.services.messages import Messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """The customer opened the bot, through a deep link (``payload``) or not."""

    user: MessengerUser
    payload: str | None


@dataclass(frozen=True)
class SharedContact:
    user: MessengerUser
    phone: str
    is_own: bool  # the customer's own number (a share-phone button), not a card from the address book


@dataclass(frozen=True)
class Stopped:
    """``/stop``: no more notifications on this messenger until the customer starts again."""

    user: MessengerUser


@dataclass(frozen=True)
class StateReported:
    """The messenger itself reports a block, an unsubscribe or a return."""

    user: MessengerUser
    state: ChannelState


@dataclass(frozen=True)
class Texted:
    """Any other message from the customer."""

    user: MessengerUser


@dataclass(frozen=True)
class Receipt:
    """A message omnibot sent was delivered or seen."""

    channel: Channel
    provider_message_id: str
    status: NotificationStatus


@dataclass(frozen=True)
class Undelivered:
    """The messenger gave up on a message omnibot sent."""

    channel: Channel
    provider_message_id: str
    reason: str


Event = Started | SharedContact | Stopped | StateReported | Texted | Receipt | Undelivered


@dataclass(frozen=True)
class InboundUpdate:
    """One update as the webhook received it: ``key`` names it among redeliveries (None: the
    messenger gives it no name, it is acted on every time); ``reply_in_answer`` says whether the
    webhook's answer can carry a reply."""

    channel: Channel
    key: str | None
    event: Event
    reply_in_answer: bool


@dataclass(frozen=True)
class _Outcome:
    reply: BotReply | None = None  # to carry in the webhook's answer
    finished: Notification | None = None  # a notification this update ended (for the metrics)
    queued_reply: bool = False


class Inbound:
    def __init__(self, store: InboundStore, links: LinkIssuer, messages: Messages, clock: Clock,
                 default_region: str, callbacks: StatusCallbacks, telemetry: Telemetry | None = None,
                 replies_waiting: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._links = links
        self._messages = messages
        self._clock = clock
        self._region = default_region
        self._callbacks = callbacks
        self._telemetry = telemetry or NoTelemetry()
        self._replies_waiting = replies_waiting

    def handle(self, update: InboundUpdate) -> BotReply | None:
        """Act on the update once; the reply the webhook's answer carries, if any."""
        try:
            outcome = self._store.run(lambda unit: self._handle(unit, update))
        except ContactConflict:
            # Another update of the same account (a double tap) took the account first: this one
            # now finds it.
            outcome = self._store.run(lambda unit: self._handle(unit, update))
        if outcome.finished is not None:
            self._telemetry.finished(outcome.finished)
        if outcome.queued_reply:
            self._replies_waiting()
        return outcome.reply

    def _handle(self, unit: InboundUnit, update: InboundUpdate) -> _Outcome:
        if update.key is not None and not unit.updates.claim(update.channel, update.key):
            log.info("webhook.duplicate channel=%s", update.channel)
            # Answered again: the messenger redelivers an update whose answer it did not get.
            return _Outcome(reply=unit.updates.reply_to(update.channel, update.key))
        event = update.event
        if isinstance(event, Receipt | Undelivered):
            return _Outcome(finished=self._record_report(unit, event))
        message = self._act(self._linking(unit), event)
        if message is None:
            return _Outcome()
        reply = BotReply(update.channel, event.user.address, message)
        if not update.reply_in_answer:
            unit.replies.add(reply)
            return _Outcome(queued_reply=True)
        if update.key is not None:
            unit.updates.keep_reply(update.channel, update.key, reply)
        return _Outcome(reply=reply)

    def _linking(self, unit: InboundUnit) -> Linking:
        return Linking(unit.contacts, unit.tokens, self._links, self._messages, self._clock, self._region)

    @staticmethod
    def _act(linking: Linking, event: Event) -> OutgoingMessage | None:
        match event:
            case Started(user, payload):
                return linking.start(user, payload)
            case SharedContact(user, phone, is_own):
                return linking.share_contact(user, phone, is_own)
            case Stopped(user):
                return linking.stop(user)
            case Texted(user):
                return linking.text(user)
            case StateReported(user, state):
                linking.set_state(user, state)
        return None

    def _record_report(self, unit: InboundUnit, event: Receipt | Undelivered) -> Notification | None:
        """A receipt or failure report; the notification when it ended there."""
        if isinstance(event, Receipt):
            updated = unit.receipts.record_receipt(event.channel, event.provider_message_id, event.status)
            if updated is not None and updated.status is event.status:
                self._record_callback(unit, updated)
            return None
        log.warning("webhook.delivery_failed channel=%s message=%s", event.channel, event.provider_message_id)
        error = f"{event.channel.value.capitalize()} could not deliver it: {event.reason[:200]}"
        updated = unit.receipts.record_undelivered(event.channel, event.provider_message_id, error,
                                                   DELIVERY_FAILED)
        if updated is None:  # only the report that changed it tells the shop and the metrics
            return None
        self._record_callback(unit, updated)
        return updated

    def _record_callback(self, unit: InboundUnit, notification: Notification) -> None:
        callback = self._callbacks.callback_for(notification)
        if callback is not None:
            unit.callbacks.add(notification.id, callback.url, callback.body)
