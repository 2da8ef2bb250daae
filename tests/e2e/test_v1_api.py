"""The queued API end to end: accepted, delivered by a worker (in-process on SQLite), tracked."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from tests.e2e.conftest import API_KEY, Stack
from tests.e2e.test_seed_flow import TELEGRAM_LINK
from tests.sandbox_helpers import webhook_receiver

HEADERS = {"X-Internal-API-Key": API_KEY}


def wait_for_status(stack: Stack, location: str, wanted: set[str], seconds: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        view: dict[str, object] = stack.api.get(location, headers=HEADERS).json()
        if view["status"] in wanted or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_accepted_notification_is_delivered_and_tracked(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = f"ORD-{uuid.uuid4().hex[:8]}"
    stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=order))
    stack.act(customer, "telegram/share-contact")

    accepted = stack.api.post("/v1/notifications", headers=HEADERS,
                              json={"phone": phone, "order_id": order, "items": ["Kettle"]})
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"
    view = wait_for_status(stack, accepted.headers["Location"], {"sent", "failed"})

    assert (view["status"], view["channel"], view["result"]) == ("sent", "telegram", "Sent via Telegram")
    assert [a["outcome"] for a in view["attempts"]] == ["sent"]  # type: ignore[union-attr]
    assert "Kettle" in str(stack.messages(customer, "telegram")[-1]["text"])


def test_a_signed_link_binds_in_one_click_and_serves_order_only_notifications(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = f"ORD-{uuid.uuid4().hex[:8]}"
    link = stack.api.post("/v1/links", headers=HEADERS, json={"phone": phone.replace("+380", "0"), "order_id": order})
    assert link.status_code == 201
    assert link.json()["phone"] == phone
    stack.act(customer, "open-link", url=link.json()["telegram_url"])  # one click, no contact sharing
    contact = stack.api.get(f"/v1/contacts/{phone}", headers=HEADERS).json()
    assert contact["phone_verified"] is True and contact["telegram"]["state"] == "active"

    accepted = stack.api.post("/v1/notifications", headers=HEADERS,
                              json={"order_id": order, "text": "Courier at 14:00 <today> & tomorrow"})
    assert accepted.status_code == 202
    assert wait_for_status(stack, accepted.headers["Location"], {"sent", "failed"})["status"] == "sent"
    assert stack.messages(customer, "telegram")[-1]["text"] == "Courier at 14:00 <today> & tomorrow"


def test_unknown_recipient_fails_with_the_seed_reason(stack: Stack) -> None:
    accepted = stack.api.post("/v1/notifications", headers=HEADERS, json={"phone": "+380639998877"})
    view = wait_for_status(stack, accepted.headers["Location"], {"sent", "failed"})
    assert (view["status"], view["result"]) == ("failed", "Failed: User not found")


def test_v1_validation(stack: Stack) -> None:
    nobody = stack.api.post("/v1/notifications", headers=HEADERS, json={"items": ["x"]})
    assert nobody.status_code == 400 and "phone or order_id" in nobody.json()["error"]["message"]
    unknown_field = stack.api.post("/v1/notifications", headers=HEADERS, json={"phone": "+380501234567", "x": 1})
    assert unknown_field.status_code == 400 and unknown_field.json()["error"]["field"] == "x"
    bad_channel = stack.api.post("/v1/notifications", headers=HEADERS,
                                 json={"phone": "+380501234567", "channels": ["sms"]})
    assert bad_channel.status_code == 400 and bad_channel.json()["error"]["field"] == "channels[0]"
    missing = stack.api.get(f"/v1/notifications/{uuid.uuid4()}", headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_status_callback_reaches_the_shop_signed(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = f"ORD-{uuid.uuid4().hex[:8]}"
    stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=order))
    stack.act(customer, "telegram/share-contact")
    with webhook_receiver() as shop:
        accepted = stack.api.post("/v1/notifications", headers=HEADERS,
                                  json={"phone": phone, "order_id": order, "callback_url": shop.url})
        deadline = time.monotonic() + 20
        while not shop.requests and time.monotonic() < deadline:
            time.sleep(0.1)
    [callback] = shop.requests
    # The stack has no STATUS_WEBHOOK_SECRET: the first API key signs.
    expected = "sha256=" + hmac.new(API_KEY.encode(), callback.body, hashlib.sha256).hexdigest()
    assert callback.headers["X-Omnibot-Signature"] == expected
    payload = json.loads(callback.body)
    assert (payload["notification_id"], payload["status"]) == (accepted.json()["id"], "sent")
