"""The customers: their contacts and the deep links made for their phones."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from omnibot.domain.model import (
    Contact,
    LinkToken,
    OrderLink,
)


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
