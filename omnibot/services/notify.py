"""Use case: a shop asks omnibot to tell a customer that their order is ready."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from omnibot.domain import routing
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import (
    AttemptOutcome,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)
from omnibot.domain.phone import mask_phone
from omnibot.ports import Clock, ContactRepository, MessengerGateway, NotificationRepository
from omnibot.services import messages

log = logging.getLogger(__name__)

# The seed's answers, byte for byte, plus ours for a known customer we could not reach.
SENT_VIA = {Channel.TELEGRAM: "Sent via Telegram", Channel.VIBER: "Sent via Viber"}
USER_NOT_FOUND = "Failed: User not found"
NO_REACHABLE_CHANNEL = "Failed: No reachable channel"
DELIVERY_FAILED = "Failed: Delivery failed"


class Notifier:
    """Records a notification, finds its customer and sends it by the cheapest channel that works."""

    def __init__(
        self,
        contacts: ContactRepository,
        notifications: NotificationRepository,
        gateways: Mapping[Channel, MessengerGateway],
        clock: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        channel_order: Iterable[Channel] = routing.DEFAULT_ORDER,
    ) -> None:
        self._contacts = contacts
        self._notifications = notifications
        self._gateways = dict(gateways)
        self._clock = clock
        self._new_id = new_id
        self._channel_order = tuple(channel_order)

    def trigger(self, phone: str | None, order_id: str | None, items: Sequence[str]) -> Notification:
        """Send now; the notification and every attempt are stored whatever the outcome.

        ``phone`` is already E.164. The returned notification's ``result`` is the caller's answer.
        """
        now = self._clock.now()
        notification = Notification(
            id=self._new_id(), phone=phone, order_id=order_id, items=list(items),
            created_at=now, updated_at=now,
        )
        self._notifications.add(notification)
        contact = self._resolve(phone, order_id)
        if contact is None:
            log.warning("notification.recipient_unknown id=%s phone=%s order=%s",
                        notification.id, mask_phone(phone), order_id)
            return self._finish(notification, NotificationStatus.FAILED, USER_NOT_FOUND)
        notification.contact_id = contact.id
        return self._deliver(notification, contact)

    def _deliver(self, notification: Notification, contact: Contact) -> Notification:
        message = messages.order_ready(notification.order_id, notification.items)
        for step in routing.plan(contact, self._gateways, self._channel_order):
            if step.skip_reason:
                self._record(notification, DeliveryAttempt(
                    step.channel, AttemptOutcome.SKIPPED, error=step.skip_reason))
                continue
            try:
                receipt = self._gateways[step.channel].send(step.address, message)
            except PermanentFailure as failure:
                self._record(notification, DeliveryAttempt(
                    step.channel, AttemptOutcome.PERMANENT_FAILURE, error=failure.reason))
                if failure.recipient_state:
                    contact.set_state(step.channel, ChannelState(failure.recipient_state))
                    self._contacts.update(contact)
            except TransientFailure as failure:
                self._record(notification, DeliveryAttempt(
                    step.channel, AttemptOutcome.TRANSIENT_FAILURE, error=failure.reason))
            else:
                self._record(notification, DeliveryAttempt(
                    step.channel, AttemptOutcome.SENT,
                    provider_message_id=receipt.provider_message_id))
                notification.channel = step.channel
                log.info("notification.sent id=%s channel=%s", notification.id, step.channel)
                return self._finish(notification, NotificationStatus.SENT, SENT_VIA[step.channel])
        tried = any(a.outcome is not AttemptOutcome.SKIPPED for a in notification.attempts)
        result = DELIVERY_FAILED if tried else NO_REACHABLE_CHANNEL
        log.warning("notification.failed id=%s result=%s", notification.id, result)
        return self._finish(notification, NotificationStatus.FAILED, result)

    def _resolve(self, phone: str | None, order_id: str | None) -> Contact | None:
        """The customer by phone; failing that, the account that opened this order's link."""
        if phone:
            contact = self._contacts.find_by_phone(phone)
            if contact is not None:
                return contact
        if not order_id:
            return None
        # An account that already has another phone belongs to someone else.
        linked = [c for c in self._contacts.find_by_order(order_id) if c.phone in (None, phone)]
        if not linked:
            return None
        customer = linked[0]
        for other in linked[1:]:
            # The same customer often opens both links (Telegram and Viber) from one e-mail.
            if not _overlaps(customer, other):
                customer.absorb(other)
                self._contacts.merge(customer, other)
        if phone and customer.phone is None:
            customer.phone = phone
            self._contacts.update(customer)
        return customer

    def _record(self, notification: Notification, attempt: DeliveryAttempt) -> None:
        attempt.created_at = self._clock.now()
        notification.attempts.append(attempt)
        self._notifications.add_attempt(notification.id, attempt)

    def _finish(
        self, notification: Notification, status: NotificationStatus, result: str
    ) -> Notification:
        notification.status = status
        notification.result = result
        notification.updated_at = self._clock.now()
        self._notifications.update(notification)
        return notification


def _overlaps(a: Contact, b: Contact) -> bool:
    return any(a.address(ch) is not None and b.address(ch) is not None for ch in Channel)
