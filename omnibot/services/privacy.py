"""Use cases of data protection: what omnibot knows about a customer, and erasing it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnibot.domain.model import Contact
from omnibot.domain.phone import mask_phone
from omnibot.ports import ContactRepository, DeliveryQueue, LinkTokenRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    contact: bool
    notifications_anonymized: int
    links_deleted: int


class CustomerRecords:
    def __init__(self, contacts: ContactRepository, notifications: DeliveryQueue,
                 tokens: LinkTokenRepository) -> None:
        self._contacts = contacts
        self._notifications = notifications
        self._tokens = tokens

    def find(self, phone: str) -> Contact | None:
        return self._contacts.find_by_phone(phone)

    def erase(self, phone: str) -> Erased:
        """Forget the customer: contact, messenger accounts, order links, link tokens, and the
        personal fields of their notifications. Delivery statuses stay, anonymous, for the counts."""
        contact = self._contacts.find_by_phone(phone)
        anonymized = self._notifications.anonymize(phone, contact.id if contact else None)
        links = self._tokens.delete_for_phone(phone)
        if contact is not None and contact.id is not None:
            self._contacts.delete(contact.id)
        log.info("contact.erased phone=%s found=%s notifications=%d", mask_phone(phone), contact is not None,
                 anonymized)
        return Erased(contact is not None, anonymized, links)
