"""Use cases of the shop: accept a notification (queued, idempotent) or trigger one synchronously."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from omnibot.domain.model import Channel, Notification, Priority
from omnibot.domain.phone import mask_phone
from omnibot.ports import Clock, DeliveryQueue, NoTelemetry, Telemetry
from omnibot.services.delivery import DeliveryEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationRequest:
    """What a shop asks for; ``phone`` (E.164) and/or ``order_id`` name the customer."""

    phone: str | None
    order_id: str | None
    items: Sequence[str] = ()
    event: str = "order_ready"
    text: str | None = None
    channels: Sequence[Channel] | None = None
    callback_url: str | None = None
    # The deadline, as the shop gave it: an instant, or seconds from acceptance (None: the default).
    expires_at: datetime | None = None
    ttl_seconds: int | None = None
    priority: Priority = Priority.NORMAL

    def fingerprint(self) -> str:
        """Same request, same fingerprint: how a replayed Idempotency-Key is told from a misused one."""
        canonical = json.dumps({
            "phone": self.phone, "order_id": self.order_id, "items": list(self.items),
            "event": self.event, "text": self.text, "callback_url": self.callback_url,
            "channels": None if self.channels is None else [str(c) for c in self.channels],
            **({"expires_at": self.expires_at.isoformat()} if self.expires_at is not None else {}),
            **({"ttl_seconds": self.ttl_seconds} if self.ttl_seconds is not None else {}),
            **({"priority": str(self.priority)} if self.priority is not Priority.NORMAL else {}),
        }, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class Notifier:
    def __init__(self, queue: DeliveryQueue, delivery: DeliveryEngine, clock: Clock, owner: str,
                 lease_seconds: float = 120.0, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 telemetry: Telemetry | None = None, default_ttl: timedelta | None = None) -> None:
        self._queue = queue
        self._default_ttl = default_ttl
        self._delivery = delivery
        self._clock = clock
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._new_id = new_id
        self._telemetry = telemetry or NoTelemetry()

    def submit(self, request: NotificationRequest, idempotency_key: str | None = None,
               request_id: str | None = None) -> tuple[Notification, bool]:
        """Commit the notification for the workers; ``(notification, created)``.

        Returns only once the notification is durably stored. A repeated ``idempotency_key`` with
        the same request returns the first notification and stores nothing.
        """
        notification, created = self._queue.enqueue(
            self._new(request, request_id), idempotency_key, request.fingerprint())
        if created:
            log.info("notification.accepted id=%s phone=%s order=%s", notification.id,
                     mask_phone(notification.phone), notification.order_id)
            self._telemetry.accepted("v1")
        return notification, created

    def trigger(self, phone: str | None, order_id: str | None, items: Sequence[str],
                request_id: str | None = None) -> Notification:
        """The seed's synchronous trigger: commit first, then one delivery pass right now.

        Whatever the pass leaves undone (every channel failed transiently) stays queued for the
        workers: the notification's ``result`` then says ``Queued for retry``.
        """
        request = NotificationRequest(phone=phone, order_id=order_id, items=items)
        notification, _ = self._queue.enqueue(self._new(request, request_id), lease_owner=self._owner,
                                              lease_seconds=self._lease_seconds)
        self._telemetry.accepted("trigger")
        return self._delivery.deliver(notification, self._owner, fall_back_at_once=True)

    def _new(self, request: NotificationRequest, request_id: str | None) -> Notification:
        now = self._clock.now()
        expires_at = request.expires_at
        if expires_at is None and request.ttl_seconds is not None:
            expires_at = now + timedelta(seconds=request.ttl_seconds)
        if expires_at is None and self._default_ttl is not None:
            expires_at = now + self._default_ttl
        return Notification(
            id=self._new_id(), phone=request.phone, order_id=request.order_id, items=list(request.items),
            event=request.event, text=request.text,
            channels=None if request.channels is None else list(request.channels),
            callback_url=request.callback_url, request_id=request_id,
            created_at=now, updated_at=now, next_attempt_at=now, expires_at=expires_at, priority=request.priority,
        )
