"""Use cases of the customer side: deep-link starts, shared phone numbers, stop, block, return."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnibot.domain.errors import InvalidPhone
from omnibot.domain.model import Channel, ChannelState, Contact, OrderLink
from omnibot.domain.phone import mask_phone, normalize_phone
from omnibot.ports import Clock, ContactRepository, LinkTokenRepository, OutgoingMessage
from omnibot.services.deep_links import LinkIssuer, TokenCheck, token_hash
from omnibot.services.messages import Messages

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

    def __init__(self, contacts: ContactRepository, tokens: LinkTokenRepository, links: LinkIssuer,
                 messages: Messages, clock: Clock, default_region: str) -> None:
        self._contacts = contacts
        self._tokens = tokens
        self._links = links
        self._messages = messages
        self._clock = clock
        self._region = default_region

    def start(self, user: MessengerUser, payload: str | None) -> OutgoingMessage:
        """The customer opened a deep link (a signed link token or the seed's raw order id)."""
        # On Viber, opening the chat is not subscribing: only a message or `subscribed` re-activates.
        contact = self._account(user, reactivate=user.channel is Channel.TELEGRAM)
        payload = (payload or "").strip() or None
        if payload is None:
            return self._greeting(contact, None, user)
        check = self._links.check(payload)
        if check is TokenCheck.SIGNED:
            return self._open_signed_link(contact, payload, user)
        if check is TokenCheck.FOREIGN:
            log.info("contact.link_foreign channel=%s", user.channel)
            return self._messages.reply("link_foreign", user.language)
        assert contact.id is not None
        self._contacts.link_order(OrderLink(payload, contact.id, user.channel))
        log.info("contact.order_linked contact=%s channel=%s", contact.id, user.channel)
        return self._greeting(contact, payload, user)

    def _greeting(self, contact: Contact, order_id: str | None, user: MessengerUser) -> OutgoingMessage:
        if contact.phone and contact.phone_verified:
            return self._messages.welcome_known(order_id, user.language)
        return self._messages.welcome(order_id, user.language)

    def _open_signed_link(self, contact: Contact, token: str, user: MessengerUser) -> OutgoingMessage:
        assert contact.id is not None
        stored = self._tokens.get(token_hash(token))
        now = self._clock.now()
        if stored is None or stored.expires_at <= now:
            log.info("contact.link_expired channel=%s", user.channel)
            return self._messages.reply("link_expired", user.language)
        if stored.used_at is not None or not self._tokens.use(stored.token_hash, contact.id, now):
            if stored.used_by_contact_id == contact.id:
                return self._messages.welcome_known(stored.order_id, user.language)
            log.info("contact.link_reused channel=%s", user.channel)
            return self._messages.reply("link_used", user.language)
        customer = self._bind_phone(contact, stored.phone)
        if stored.order_id:
            assert customer.id is not None
            self._contacts.link_order(OrderLink(stored.order_id, customer.id, user.channel))
        log.info("contact.linked_by_token channel=%s phone=%s", user.channel, mask_phone(stored.phone))
        return self._messages.linked_by_link(stored.phone, user.language)

    def share_contact(self, user: MessengerUser, raw_phone: str, is_own: bool) -> OutgoingMessage:
        """The customer shared a phone number; only their own binds (a forwarded card does not)."""
        if not is_own:
            log.info("contact.foreign_contact_ignored channel=%s", user.channel)
            return self._messages.reply("share_own_phone", user.language, request_phone=True)
        try:
            phone = normalize_phone(raw_phone, self._region)
        except InvalidPhone:
            return self._messages.reply("phone_unreadable", user.language, request_phone=True)
        account = self._account(user, reactivate=True, wrote=True)
        owner = self._contacts.find_by_phone(phone)
        if owner is not None and not owner.yields_phone_to_contact_card(account, user.channel):
            log.warning("contact.phone_claim_refused channel=%s phone=%s", user.channel, mask_phone(phone))
            return self._messages.reply("phone_taken", user.language, remove_keyboard=True)
        self._bind_phone(account, phone)
        log.info("contact.phone_linked channel=%s phone=%s", user.channel, mask_phone(phone))
        return self._messages.reply("phone_linked", user.language, remove_keyboard=True)

    def _bind_phone(self, contact: Contact, phone: str) -> Contact:
        """The account proved this phone: one customer per phone, verified."""
        owner = self._contacts.find_by_phone(phone)
        if owner is None or owner.id == contact.id:
            contact.phone, contact.phone_verified = phone, True
            self._contacts.update(contact)
            return contact
        # The phone's customer is already known (say, from the other messenger): one customer.
        owner.absorb(contact)
        owner.phone_verified = True
        self._contacts.merge(owner, contact)
        return owner

    def text(self, user: MessengerUser) -> OutgoingMessage:
        self._account(user, reactivate=user.channel is Channel.VIBER, wrote=True)  # a Viber message subscribes
        return self._messages.reply("help", user.language)

    def stop(self, user: MessengerUser) -> OutgoingMessage:
        """/stop: no more notifications on this channel until the customer starts again."""
        self._set_state(user, ChannelState.OPTED_OUT)
        return self._messages.reply("stopped", user.language, remove_keyboard=True)

    def set_state(self, user: MessengerUser, state: ChannelState) -> None:
        """A block, unsubscribe or return reported by the messenger itself."""
        self._set_state(user, state)

    def _set_state(self, user: MessengerUser, state: ChannelState) -> None:
        contact = self._find(user)
        if contact is None or contact.state(user.channel) is state:
            return
        contact.set_state(user.channel, state)
        self._contacts.update(contact)
        log.info("contact.channel_state contact=%s channel=%s state=%s", contact.id, user.channel, state)

    def _find(self, user: MessengerUser) -> Contact | None:
        if user.channel is Channel.TELEGRAM:
            return self._contacts.find_by_telegram_chat(int(user.address))
        return self._contacts.find_by_viber_user(user.address)

    def _account(self, user: MessengerUser, *, reactivate: bool, wrote: bool = False) -> Contact:
        """The contact of this messenger account, created on first sight, profile refreshed.
        ``wrote``: the customer sent the bot a message, which on Viber opens a free session."""
        contact = self._find(user)
        now = self._clock.now()
        opens_session = wrote and user.channel is Channel.VIBER
        if contact is None:
            contact = Contact(first_name=user.first_name, last_name=user.last_name, language=user.language)
            if user.channel is Channel.TELEGRAM:
                contact.telegram_chat_id, contact.telegram_linked_at = int(user.address), now
            else:
                contact.viber_user_id, contact.viber_linked_at = user.address, now
            if opens_session:
                contact.viber_last_message_at = now
            return self._contacts.add(contact)
        changed = opens_session
        if opens_session:
            contact.viber_last_message_at = now
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
