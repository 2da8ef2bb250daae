"""Finding the customer a notification is for, without ever handing one customer's order to another.

Safe by default: a notification goes to the customer whose *verified* phone it names (they shared
their own contact, or opened a link the shop made for that phone), or, with no phone, to an
account that opened a signed link made for that order. Order ids are printed on receipts and are
easy to guess, so an account that merely opened ``?start=ORD-1235`` receives nothing.
``trust_order_links`` restores the seed's behaviour: the account that opened the order's link is
the customer and learns the phone (anyone who guesses an order id gets its notifications).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from omnibot.domain.model import Channel, Contact, Notification
from omnibot.ports import ContactRepository, LinkTokenRepository


def resolve(contacts: ContactRepository, tokens: LinkTokenRepository, phone: str | None,
            order_id: str | None, *, trust_order_links: bool = False) -> Contact | None:
    if phone:
        contact = contacts.find_by_phone(phone)
        if contact is not None and _phone_counts(contact, trust_order_links):
            return contact
    if not order_id:
        return None
    if not trust_order_links:
        if phone:
            return None
        for contact_id in tokens.contacts_for_order(order_id):
            contact = contacts.get(contact_id)
            if contact is not None:
                return contact
        return None
    return _seed_order_fallback(contacts, phone, order_id)


def resolve_batch(contacts: ContactRepository, batch: Sequence[Notification], *,
                  trust_order_links: bool = False) -> dict[str, Contact]:
    """The customers of many notifications in one query, by notification id: the contact each was
    delivered to before, else the one whose phone it names when that phone counts (as ``resolve``).
    The rest (order links) are left to ``resolve``. Each gets a copy of its own."""
    contact_ids = {n.contact_id for n in batch if n.contact_id is not None}
    phones = {n.phone for n in batch if n.phone}
    if not contact_ids and not phones:
        return {}
    found = contacts.find_many(contact_ids, phones)
    by_id = {c.id: c for c in found}
    by_phone = {c.phone: c for c in found if c.phone is not None and _phone_counts(c, trust_order_links)}
    chosen: dict[str, Contact] = {}
    for notification in batch:
        contact = by_id.get(notification.contact_id) if notification.contact_id is not None else None
        if contact is None and notification.phone:
            contact = by_phone.get(notification.phone)
        if contact is not None:
            chosen[notification.id] = replace(contact)
    return chosen


def _phone_counts(contact: Contact, trust_order_links: bool) -> bool:
    """Whether naming this customer's phone reaches them: a verified phone, or any under the seed's rule."""
    return contact.phone_verified or trust_order_links


def _seed_order_fallback(contacts: ContactRepository, phone: str | None, order_id: str) -> Contact | None:
    """The seed's rule: the account that opened this order's link is the customer, and learns the phone.

    Accounts of both messengers that opened the same order's links (one e-mail, two buttons)
    become one customer.
    """
    # An account that already has another phone belongs to someone else.
    linked = [c for c in contacts.find_by_order(order_id) if c.phone in (None, phone)]
    if not linked:
        return None
    customer = linked[0]
    for other in linked[1:]:
        if not _overlaps(customer, other):
            customer.absorb(other)
            contacts.merge(customer, other)
    if phone and customer.phone is None:
        customer.phone = phone
        contacts.update(customer)
    return customer


def _overlaps(a: Contact, b: Contact) -> bool:
    return any(a.address(ch) is not None and b.address(ch) is not None for ch in Channel)
