"""Posting updates and callbacks to the bot's webhook, and reporting what came back.

A delivery never raises: an unreachable or failing webhook is an outcome the control API reports,
exactly as a messenger would note it and carry on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Delivery:
    """What happened when one payload was posted to the webhook."""

    delivered: bool
    status: int | None = None
    response: Any = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        if not self.delivered:
            return {"delivered": False, "reason": self.reason}
        return {"delivered": True, "webhook_status": self.status, "webhook_response": self.response}


def not_delivered(reason: str) -> Delivery:
    return Delivery(delivered=False, reason=reason)


def silent_report(customer: dict[str, Any]) -> dict[str, Any]:
    """The answer to an action taken with ``silent``: the state changed, nothing was posted."""
    return {"delivered": False, "reason": "silent: the bot was not told", "customer": customer}


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent, so a signature can be computed over them."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def viber_signature(body: bytes, token: str) -> str:
    """``X-Viber-Content-Signature``: lower-case hex HMAC-SHA256 of the raw body, keyed with the token."""
    return hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookPoster:
    """Posts to webhooks through one shared, thread-safe HTTP client, made on first use."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                # trust_env=False: a webhook on localhost must never go through an HTTP proxy.
                self._client = httpx.Client(timeout=self._timeout, trust_env=False)
            return self._client

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Delivery:
        try:
            response = self._http().post(url, content=body,
                                         headers={"Content-Type": "application/json", **headers})
        except httpx.TimeoutException:
            return not_delivered(f"webhook timed out after {self._timeout:g} s")
        except httpx.HTTPError as error:
            return not_delivered(f"webhook unreachable: {type(error).__name__}: {error}")
        try:
            parsed = response.json() if response.content.strip() else None
        except ValueError:
            parsed = None
        return Delivery(delivered=True, status=response.status_code, response=parsed)
