"""Sending the bot's queued replies: the ones a webhook's answer could not carry.

They wait in the reply outbox, written with the update they answer, and go out from the workers
through the same rate limits as deliveries, so a burst of customers writing to the bot never
pushes the bot over the messenger's limits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from omnibot.domain.errors import DeliveryFailure, PermanentFailure, TransientFailure
from omnibot.domain.model import Channel
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import MessengerGateway, RateLimiter, ReplyJob, ReplyOutbox
from omnibot.services.rate_limits import RateLimits

log = logging.getLogger(__name__)
LEASE_SECONDS = 60.0


class ReplySender:
    def __init__(self, outbox: ReplyOutbox, gateways: Mapping[Channel, MessengerGateway], limiter: RateLimiter,
                 limits: RateLimits, retry: RetryPolicy | None = None) -> None:
        self._outbox = outbox
        self._gateways = gateways
        self._limiter = limiter
        self._limits = limits
        # A reply answers something the customer just did: a few quick tries, then it is stale.
        self._retry = retry or RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=8)

    def send_due(self, limit: int = 50) -> int:
        """Send what is due; the number sent."""
        sent = 0
        for job in self._outbox.claim(limit, LEASE_SECONDS):
            sent += self._send(job)
        return sent

    def _send(self, job: ReplyJob) -> int:
        reply = job.reply
        gateway = self._gateways.get(reply.channel)
        if gateway is None:
            self._outbox.retry(job.id, None, f"{reply.channel} is not configured")
            return 0
        wait = self._limiter.try_acquire(self._limits.for_send(reply.channel, reply.address))
        if wait > 0:
            # Not a failed try: the bucket will have a token for it in ``wait`` seconds.
            self._outbox.postpone(job.id, wait)
            return 0
        try:
            gateway.send(reply.address, reply.message)
        except DeliveryFailure as failure:
            self._failed(job, failure)
            return 0
        except Exception as error:  # a reply that breaks the gateway gets its few tries, like any other
            log.exception("reply.send_crashed channel=%s", reply.channel)
            self._failed(job, TransientFailure(f"unexpected {type(error).__name__}"))
            return 0
        self._outbox.done(job.id)
        return 1

    def _failed(self, job: ReplyJob, failure: DeliveryFailure) -> None:
        retry_after = failure.retry_after if isinstance(failure, TransientFailure) else None
        if isinstance(failure, TransientFailure) and failure.throttled and retry_after:
            # The messenger's pause is the bot's: deliveries wait it out too.
            self._limiter.pause(self._limits.pause_key(job.reply.channel), retry_after)
        gives_up = isinstance(failure, PermanentFailure) or job.attempts >= self._retry.max_attempts
        self._outbox.retry(job.id, None if gives_up else self._retry.delay(job.attempts, retry_after), failure.reason)
        log.warning("reply.failed channel=%s attempt=%d gave_up=%s reason=%s", job.reply.channel, job.attempts,
                    gives_up, failure.reason)
