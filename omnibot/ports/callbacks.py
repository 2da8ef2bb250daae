"""The shop's status callbacks: the outbox they wait in and the transport that posts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CallbackJob:
    """One status change waiting to be POSTed to the shop."""

    id: int
    notification_id: str
    url: str
    body: str
    attempts: int


class CallbackOutbox(Protocol):
    """Status callbacks to the shop, stored with the change so none is lost, sent by the workers."""

    def add(self, notification_id: str, url: str, body: str) -> None: ...

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]: ...

    def done(self, job_id: int) -> None: ...

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        """Try again after ``delay_seconds``; ``None`` gives up (the error stays for operators)."""
        ...


class CallbackTransport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST; raise ``DeliveryFailure`` unless the shop answered 2xx, ``CallbackRefused`` (one of
        them) when ``url`` may not receive callbacks at all."""
        ...
