"""Domain exceptions: what can go wrong, in omnibot's words."""

from __future__ import annotations


class OmnibotError(Exception):
    """Base of every error omnibot raises on purpose."""


class InvalidPhone(OmnibotError):
    def __init__(self, raw: str) -> None:
        super().__init__("phone is not a valid phone number")
        self.raw = raw


class RepositoryError(OmnibotError):
    """A repository refused a change; nothing of it was written."""


class Conflict(RepositoryError):
    """The record clashes with one already stored (a notification id used twice)."""


class ContactConflict(Conflict):
    """Another contact already has this phone, Telegram chat or Viber account.

    ``field`` names the column (one of the contact keys) when the database said which. The message
    never contains the value: it may be a phone number.
    """

    def __init__(self, field: str | None) -> None:
        super().__init__(f"another contact already has this {field or 'phone or messenger account'}")
        self.field = field


class NotFound(RepositoryError):
    """The record to change, or the one it refers to, does not exist."""


class IdempotencyConflict(Conflict):
    """An Idempotency-Key already used for a different request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request body")


class DeliveryFailure(OmnibotError):
    """A messenger refused or could not take a message. Raised by gateways."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(DeliveryFailure):
    """Retrying the same message to the same address will not help.

    ``recipient_state`` says what this means for the customer's channel (blocked, unreachable),
    or is None when the fault is ours or the bot's (bad token, malformed request), not theirs.
    """

    def __init__(self, reason: str, recipient_state: str | None = None) -> None:
        super().__init__(reason)
        self.recipient_state = recipient_state


class TransientFailure(DeliveryFailure):
    """The messenger may take the message later (timeouts, outages, rate limits).

    ``throttled``: the messenger said "too many requests" (HTTP 429, Viber's tooManyRequests).
    ``may_have_arrived``: no answer came after the request went out (a timeout, a dropped
    connection), so the messenger may have taken the message: a billed send is not given back.
    """

    def __init__(self, reason: str, retry_after: float | None = None, throttled: bool = False,
                 may_have_arrived: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.throttled = throttled
        self.may_have_arrived = may_have_arrived


class StoreError(OmnibotError):
    """The database failed a statement for a reason of its own, not the data's (a bug, a schema
    that does not match): nothing of it was written. ``reason`` is the driver's error class only,
    never its message, which may quote the values."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"database error: {reason}")
        self.reason = reason


class StoreUnavailable(StoreError):
    """The database did not answer (down, restarting, unreachable, out of connections): nothing
    was written; the same work may simply run again later. ``lost_connection``: a pooled connection
    turned out dead, and the pool has dropped it and every older one."""

    def __init__(self, reason: str, lost_connection: bool = False) -> None:
        super().__init__(reason)
        self.lost_connection = lost_connection


class RateLimiterUnavailable(OmnibotError):
    """The shared rate limiter (Redis) did not answer: no send may go out uncounted."""
