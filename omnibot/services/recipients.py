"""Finding the customer a notification is for: by phone, else by the order's deep link."""

from __future__ import annotations

from omnibot.domain.model import Channel, Contact
from omnibot.ports import ContactRepository


def resolve(contacts: ContactRepository, phone: str | None, order_id: str | None) -> Contact | None:
    """The customer with this phone; failing that, the account that opened this order's link.

    An account found through the order learns the phone. Accounts of both messengers that opened
    the same order's links (one e-mail, two buttons) become one customer.
    """
    if phone:
        contact = contacts.find_by_phone(phone)
        if contact is not None:
            return contact
    if not order_id:
        return None
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
