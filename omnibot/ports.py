"""The interfaces the services need from the outside world. Adapters implement them; tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from omnibot.domain.model import Channel, Contact, DeliveryAttempt, Notification, OrderLink


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


class ContactRepository(Protocol):
    def get(self, contact_id: int) -> Contact | None: ...

    def find_by_phone(self, phone: str) -> Contact | None: ...

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


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> None: ...

    def update(self, notification: Notification) -> None:
        """Save status, channel, contact_id, result and updated_at."""
        ...

    def add_attempt(self, notification_id: str, attempt: DeliveryAttempt) -> None: ...

    def get(self, notification_id: str) -> Notification | None:
        """The notification with its attempts in the order they were made."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...
