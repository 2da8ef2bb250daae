"""Viber's receipts over HTTP: delivered and seen move a notification forward, failed ends it."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.e2e.test_customer_side import HEADERS, linked_customer


def viber_notification(stack: Stack, order_id: str) -> tuple[str, str]:
    """A customer reachable on Viber alone, and a notification sent to them there: (customer, id)."""
    customer, phone = linked_customer(stack, viber=True)
    stack.act(customer, "telegram/text", text="/stop")
    answer = stack.trigger(phone, order_id, ["Tea"]).json()
    assert answer["status"] == "Sent via Viber"
    return customer, answer["notification_id"]


def status_of(stack: Stack, notification_id: str) -> dict[str, object]:
    found: dict[str, object] = stack.api.get(f"/v1/notifications/{notification_id}", headers=HEADERS).json()
    return found


def test_delivered_then_seen_are_recorded(stack: Stack) -> None:
    customer, notification_id = viber_notification(stack, "ORD-R1")
    assert stack.act(customer, "viber/delivered")["delivered"] is True
    assert status_of(stack, notification_id)["status"] == "delivered"
    stack.act(customer, "viber/seen")
    assert status_of(stack, notification_id)["status"] == "seen"


def test_failed_receipt_fails_the_notification_with_viber_reason(stack: Stack) -> None:
    customer, notification_id = viber_notification(stack, "ORD-R2")
    assert stack.act(customer, "viber/failed", desc="user device is switched off")["delivered"] is True
    view = status_of(stack, notification_id)
    assert view["status"] == "failed" and view["channel"] == "viber"
    last = view["attempts"][-1]  # type: ignore[index]
    assert last["outcome"] == "permanent_failure" and "user device is switched off" in last["error"]
    stack.act(customer, "viber/seen")  # a late receipt does not revive it
    assert status_of(stack, notification_id)["status"] == "failed"
