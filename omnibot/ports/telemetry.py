"""What the services report for the operators' metrics, and the null report."""

from __future__ import annotations

from typing import Protocol

from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    Notification,
    Price,
)


class Telemetry(Protocol):
    """What the services report for operators' metrics; the Prometheus adapter counts it."""

    def accepted(self, api: str) -> None:
        """A notification was committed by ``api`` (``trigger`` or ``v1``)."""
        ...

    def attempt(self, channel: Channel, outcome: AttemptOutcome) -> None:
        """One delivery attempt was recorded (a send's outcome, or a skip)."""
        ...

    def provider_call(self, channel: Channel, seconds: float, throttled: bool) -> None:
        """One call to a messenger took ``seconds``; ``throttled`` when it answered "too many requests"."""
        ...

    def billed(self, channel: Channel, price: Price) -> None:
        """A messenger accepted a send it bills (a paid broadcast's message above the free rate)."""
        ...

    def charged(self, channel: Channel, billing: Billing) -> None:
        """A messenger accepted a send of a channel with billing terms (Viber): free or billable."""
        ...

    def finished(self, notification: Notification) -> None:
        """A notification reached its final status (sent, failed or expired) in this pass."""
        ...

    def webhook_update(self, channel: Channel, kind: str) -> None:
        """A messenger's webhook delivered an update of ``kind`` (a short, fixed vocabulary)."""
        ...


class NoTelemetry:
    """The default: report nothing (unit tests, and any service built without metrics)."""

    def accepted(self, api: str) -> None:
        pass

    def attempt(self, channel: Channel, outcome: AttemptOutcome) -> None:
        pass

    def provider_call(self, channel: Channel, seconds: float, throttled: bool) -> None:
        pass

    def billed(self, channel: Channel, price: Price) -> None:
        pass

    def charged(self, channel: Channel, billing: Billing) -> None:
        pass

    def finished(self, notification: Notification) -> None:
        pass

    def webhook_update(self, channel: Channel, kind: str) -> None:
        pass
