"""The notifications: the delivery queue, their one owner, that leases them, reads them, erases them,
and records what messengers report back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from omnibot.domain.model import (
    Channel,
    Notification,
    NotificationStatus,
)


class ReceiptLog(Protocol):
    """What the messenger reports back about a sent message."""

    def record_receipt(self, channel: Channel, provider_message_id: str,
                       status: NotificationStatus) -> Notification | None:
        """A messenger reported a sent message delivered or seen; status only moves forward."""
        ...

    def record_undelivered(self, channel: Channel, provider_message_id: str, error: str,
                           result: str) -> Notification | None:
        """A messenger could not deliver a message it had accepted: a ``sent`` notification becomes
        ``failed`` with ``result``, and ``error`` is kept as an attempt. Returns that notification, or
        None when no notification was changed (unknown message, already failed, delivered or seen)."""
        ...


class DeliveryQueue(ReceiptLog, Protocol):
    """Durable, leased work: notifications waiting for their next attempt.

    A claim is a lease: a notification held by a process that died is claimed again once the
    lease runs out, so nothing accepted is lost (and a send in flight at a crash may repeat).
    """

    def enqueue(
        self, notification: Notification, idempotency_key: str | None = None,
        fingerprint: str | None = None, lease_owner: str | None = None, lease_seconds: float = 0,
    ) -> tuple[Notification, bool]:
        """Commit a new notification; ``(stored, created)``.

        With an ``idempotency_key`` seen before, nothing is written: the stored notification comes
        back with ``created`` False, or ``IdempotencyConflict`` if ``fingerprint`` differs.
        With ``lease_owner`` it is stored already claimed by that owner (the synchronous trigger).
        """
        ...

    def claim(self, owner: str, limit: int, lease_seconds: float, bulk_limit: int | None = None) -> list[Notification]:
        """Lease up to ``limit`` due notifications (queued and due, or with an expired lease), in
        order: high priority, leases run out, normal, bulk; at most ``bulk_limit`` bulk ones (None:
        no cap of their own). The batch comes back in order of priority."""
        ...

    def reschedule(self, notification: Notification, owner: str) -> bool:
        """Back to queued until ``notification.next_attempt_at``; False if the lease was lost.

        Writes ``notification.unsaved_attempts`` in the same transaction (even when the lease was
        lost: they happened) and empties the list.
        """
        ...

    def complete(self, notification: Notification, owner: str) -> bool:
        """Save the final outcome and end the lease; False if the lease was lost. Writes the
        unsaved attempts in the same transaction, as ``reschedule`` does, and the unsaved status
        callback to the outbox if the lease was held."""
        ...

    def release(self, notification_ids: Sequence[str], owner: str) -> int:
        """Give leased notifications back untouched (a worker shutting down)."""
        ...

    def forget_idempotency_keys(self, older_than: datetime) -> int:
        """Drop the keys of notifications accepted before ``older_than``: the key may name a new
        request again. Returns how many."""
        ...

    def depth(self) -> tuple[int, datetime | None]:
        """How many notifications wait (queued or being sent), and since when the oldest has."""
        ...

    def get(self, notification_id: str) -> Notification | None:
        """The notification with its attempts in the order they were made."""
        ...

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        """Strip the personal data (phone, order, items, text, callback URL) from this customer's
        notifications; statuses, channels and attempts stay for the delivery counts. Returns how many."""
        ...
