"""Status callbacks: telling the shop what became of its notifications, signed and retried.

Each POST carries the JSON body and ``X-Omnibot-Signature: sha256=<hex>``, the HMAC-SHA256 of
the exact body bytes keyed with the shared secret. The shop recomputes it over the raw body and
compares in constant time; ``event_id`` lets it drop a callback it already handled (delivery is
at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from omnibot.domain.callback_targets import CallbackRefused
from omnibot.domain.errors import DeliveryFailure
from omnibot.domain.model import Notification, StatusCallback
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import CallbackOutbox, CallbackTransport, Clock

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Omnibot-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class StatusCallbacks:
    """Records a callback with each status change, and sends the due ones."""

    def __init__(self, outbox: CallbackOutbox, transport: CallbackTransport, secret: str, clock: Clock,
                 default_url: str | None = None, retry: RetryPolicy | None = None) -> None:
        self._outbox = outbox
        self._transport = transport
        self._secret = secret
        self._clock = clock
        self._default_url = default_url
        self._retry = retry or RetryPolicy(base_seconds=5, cap_seconds=600, max_attempts=12)

    def status_changed(self, notification: Notification) -> None:
        """Record the callback of a status change made outside a delivery pass (a receipt)."""
        callback = self.callback_for(notification)
        if callback is not None:
            self._outbox.add(notification.id, callback.url, callback.body)

    def callback_for(self, notification: Notification) -> StatusCallback | None:
        """The callback the notification's current status calls for, if the shop asked for any. A
        delivery pass hands it to the queue, which writes it with the pass's outcome."""
        url = notification.callback_url or self._default_url
        if not url:
            return None
        at = self._clock.now().isoformat()
        body = json.dumps({
            "event_id": f"{notification.id}:{notification.status}",
            "notification_id": notification.id, "status": notification.status,
            "channel": notification.channel, "result": notification.result,
            "order_id": notification.order_id, "at": at,
        }, ensure_ascii=False)
        return StatusCallback(url, body)

    def send_due(self, limit: int = 50) -> int:
        """POST what is due; the number sent."""
        sent = 0
        for job in self._outbox.claim(limit, lease_seconds=60):
            body = job.body.encode()
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self._secret, body)}
            try:
                self._transport.post(job.url, body, headers)
            except CallbackRefused as refused:
                # The target is not allowed (a private address, say): no later try can change that.
                self._outbox.retry(job.id, None, refused.reason)
                log.warning("callback.refused notification=%s attempt=%d reason=%s",
                            job.notification_id, job.attempts, refused.reason)
                continue
            except DeliveryFailure as failure:
                gives_up = job.attempts >= self._retry.max_attempts
                self._outbox.retry(job.id, None if gives_up else self._retry.delay(job.attempts), failure.reason)
                log.warning("callback.failed notification=%s attempt=%d gave_up=%s reason=%s",
                            job.notification_id, job.attempts, gives_up, failure.reason)
                continue
            self._outbox.done(job.id)
            sent += 1
        return sent
