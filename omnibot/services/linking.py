"""Use cases of the customer side: deep-link starts, shared phone numbers, blocks and returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Channel, ChannelState, Contact, OrderLink
from omnibot.domain.phone import mask_phone, normalize_phone
from omnibot.ports import ContactRepository, OutgoingMessage
from omnibot.services import messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessengerUser:
    """A messenger account as an inbound update describes it."""

    channel: Channel
    address: str  # Telegram chat id (as text) or Viber user id
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None


class Linking:
    """Binds messenger accounts to orders and phone numbers, and follows their state."""

    def __init__(self, contacts: ContactRepository, default_region: str) -> None:
        self._contacts = contacts
        self._region = default_region

    def start(self, user: MessengerUser, payload: str | None) -> OutgoingMessage:
        """The customer opened a deep link (``payload`` is the order id) or a plain start."""
        contact = self._account(user, reactivate=True)
        order_id = payload.strip() if payload and payload.strip() else None
        if order_id:
            assert contact.id is not None
            self._contacts.link_order(OrderLink(order_id, contact.id, user.channel))
            log.info("contact.order_linked contact=%s channel=%s order=%s",
                     contact.id, user.channel, order_id)
        if contact.phone:
            return messages.welcome_known(order_id)
        return messages.welcome(order_id)

    def share_contact(self, user: MessengerUser, raw_phone: str, is_own: bool) -> OutgoingMessage:
        """The customer shared a phone number; only their own binds (a forwarded card does not)."""
        if not is_own:
            log.info("contact.foreign_contact_ignored channel=%s", user.channel)
            return messages.share_own_phone()
        try:
            phone = normalize_phone(raw_phone, self._region)
        except InvalidPhone:
            return messages.phone_unreadable()
        contact = self._account(user, reactivate=True)
        owner = self._contacts.find_by_phone(phone)
        if owner is None:
            contact.phone = phone
            self._contacts.update(contact)
        elif owner.id != contact.id:
            # The phone's customer is already known (say, from the other messenger): one customer.
            owner.absorb(contact)
            self._contacts.merge(owner, contact)
        log.info("contact.phone_linked channel=%s phone=%s", user.channel, mask_phone(phone))
        return messages.phone_linked()

    def text(self, user: MessengerUser) -> OutgoingMessage:
        self._account(user, reactivate=False)
        return messages.help_text()

    def blocked(self, user: MessengerUser) -> None:
        """The customer blocked the bot (Telegram) or unsubscribed (Viber)."""
        self._set_state(user, ChannelState.BLOCKED)

    def unblocked(self, user: MessengerUser) -> None:
        self._set_state(user, ChannelState.ACTIVE)

    def _set_state(self, user: MessengerUser, state: ChannelState) -> None:
        contact = self._find(user)
        if contact is None or contact.state(user.channel) is state:
            return
        contact.set_state(user.channel, state)
        self._contacts.update(contact)
        log.info("contact.channel_state contact=%s channel=%s state=%s",
                 contact.id, user.channel, state)

    def _find(self, user: MessengerUser) -> Contact | None:
        if user.channel is Channel.TELEGRAM:
            return self._contacts.find_by_telegram_chat(int(user.address))
        return self._contacts.find_by_viber_user(user.address)

    def _account(self, user: MessengerUser, *, reactivate: bool) -> Contact:
        """The contact of this messenger account, created on first sight, profile refreshed."""
        contact = self._find(user)
        if contact is None:
            contact = Contact(first_name=user.first_name, last_name=user.last_name,
                              language=user.language)
            if user.channel is Channel.TELEGRAM:
                contact.telegram_chat_id = int(user.address)
            else:
                contact.viber_user_id = user.address
            return self._contacts.add(contact)
        changed = False
        for name in ("first_name", "last_name", "language"):
            value = getattr(user, name)
            if value and value != getattr(contact, name):
                setattr(contact, name, value)
                changed = True
        if reactivate and contact.state(user.channel) is not ChannelState.ACTIVE:
            contact.set_state(user.channel, ChannelState.ACTIVE)
            changed = True
        if changed:
                self._contacts.update(contact)
        return contact
