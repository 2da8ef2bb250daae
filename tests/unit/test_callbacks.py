"""Status callbacks: one per status change, signed over the exact body, retried, then given up."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from omnibot.domain.errors import DeliveryFailure, TransientFailure
from omnibot.domain.model import Channel, Notification, NotificationStatus
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import CallbackJob
from omnibot.services.callbacks import StatusCallbacks
from tests.fakes import ManualClock


@dataclass
class MemoryOutbox:
    jobs: dict[int, CallbackJob] = field(default_factory=dict)
    due: dict[int, float | None] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    def add(self, notification_id: str, url: str, body: str) -> None:
        job_id = len(self.jobs) + 1
        self.jobs[job_id] = CallbackJob(job_id, notification_id, url, body, 0)
        self.due[job_id] = 0.0

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]:
        claimed = []
        for job_id, due in list(self.due.items())[:limit]:
            if due == 0.0:
                job = self.jobs[job_id]
                self.jobs[job_id] = job = CallbackJob(job.id, job.notification_id, job.url, job.body, job.attempts + 1)
                self.due[job_id] = lease_seconds
                claimed.append(job)
        return claimed

    def done(self, job_id: int) -> None:
        del self.due[job_id]

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        self.due[job_id] = None if delay_seconds is None else 0.0  # due again at once, in this fake
        self.errors[job_id] = error


@dataclass
class RecordingTransport:
    posts: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    failure: DeliveryFailure | None = None

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self.failure:
            raise self.failure
        self.posts.append((url, body, headers))


def sent_notification(callback_url: str | None) -> Notification:
    return Notification(id="n1", phone="+380501234567", order_id="ORD-1", items=[], callback_url=callback_url,
                        status=NotificationStatus.SENT, channel=Channel.TELEGRAM, result="Sent via Telegram")


def test_callback_is_signed_over_the_exact_body() -> None:
    outbox, transport = MemoryOutbox(), RecordingTransport()
    callbacks = StatusCallbacks(outbox, transport, "s3cret", ManualClock())
    callbacks.status_changed(sent_notification("https://shop.example/hook"))
    assert callbacks.send_due() == 1
    [(url, body, headers)] = transport.posts
    assert url == "https://shop.example/hook"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Omnibot-Signature"] == expected
    payload = json.loads(body)
    assert (payload["notification_id"], payload["status"], payload["channel"]) == ("n1", "sent", "telegram")
    assert payload["event_id"] == "n1:sent"
    assert outbox.due == {}


def test_the_global_url_serves_notifications_without_their_own() -> None:
    outbox = MemoryOutbox()
    StatusCallbacks(outbox, RecordingTransport(), "k", ManualClock(),
                    default_url="https://shop.example/all").status_changed(sent_notification(None))
    assert [job.url for job in outbox.jobs.values()] == ["https://shop.example/all"]


def test_no_url_no_callback() -> None:
    outbox = MemoryOutbox()
    StatusCallbacks(outbox, RecordingTransport(), "k", ManualClock()).status_changed(sent_notification(None))
    assert outbox.jobs == {}


def test_a_failing_shop_is_retried_then_given_up() -> None:
    outbox, transport = MemoryOutbox(), RecordingTransport(failure=TransientFailure("callback: HTTP 502"))
    callbacks = StatusCallbacks(outbox, transport, "k", ManualClock(),
                                retry=RetryPolicy(max_attempts=3, jitter=lambda ceiling: ceiling))
    callbacks.status_changed(sent_notification("https://shop.example/hook"))
    for _ in range(5):
        callbacks.send_due()
    [job] = outbox.jobs.values()
    assert job.attempts == 3
    assert outbox.due[job.id] is None  # given up, kept with its error for operators
    assert outbox.errors[job.id] == "callback: HTTP 502"
