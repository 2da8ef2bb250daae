"""The customer side over HTTP: opt-outs that hold and reverse, erase, language, duplicate updates."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from omnibot_sandbox import SANDBOX_VIBER_TOKEN
from tests.e2e.conftest import API_KEY, Stack

HEADERS = {"X-Internal-API-Key": API_KEY}


def linked_customer(stack: Stack, language: str = "uk", viber: bool = False) -> tuple[str, str]:
    """A customer bound through a signed link on Telegram (and Viber): (sandbox id, phone)."""
    customer, phone = stack.customer(language=language)
    link = stack.api.post("/v1/links", headers=HEADERS, json={"phone": phone}).json()
    stack.act(customer, "open-link", url=link["telegram_url"])
    if viber:
        # The link is spent; on Viber the customer proves the phone by sharing it instead.
        stack.act(customer, "open-link", url=f"viber://pa?chatURI=omnibotsandbox&context=ORD-{uuid.uuid4().hex[:6]}")
        stack.act(customer, "viber/share-contact")
        # The reply to the shared phone goes out from a worker, after the answer: wait for it, so
        # that it is not taken for a later notification (receipts name the latest message).
        deadline = time.monotonic() + 10
        while len(stack.messages(customer, "viber")) < 2:
            assert time.monotonic() < deadline, "the phone-linked reply never arrived"
            time.sleep(0.05)
    return customer, phone


def contact(stack: Stack, phone: str) -> dict[str, object]:
    found: dict[str, object] = stack.api.get(f"/v1/contacts/{phone}", headers=HEADERS).json()
    return found


def test_ukrainian_customer_gets_ukrainian_with_markup_escaped(stack: Stack) -> None:
    customer, phone = linked_customer(stack, language="uk")
    answer = stack.trigger(phone, "ORD-77", ["<b>Ноутбук</b>", "Миша & килимок"])
    assert answer.json()["status"] == "Sent via Telegram"
    last = stack.messages(customer, "telegram")[-1]
    assert last["text"] == "Ваше замовлення ORD-77 готове!\nТовари:\n• <b>Ноутбук</b>\n• Миша & килимок"
    assert last["parse_mode"] == "HTML"
    assert "&lt;b&gt;Ноутбук&lt;/b&gt;" in str(last["raw_text"])  # arrived as characters, not markup


def test_stop_is_honoured_and_start_reverses_it(stack: Stack) -> None:
    customer, phone = linked_customer(stack)
    stack.act(customer, "telegram/text", text="/stop")
    assert "/start" in str(stack.messages(customer, "telegram")[-1]["text"])
    assert contact(stack, phone)["telegram"]["state"] == "opted_out"  # type: ignore[index]
    assert stack.trigger(phone, "ORD-1", ["Tea"]).json()["status"] == "Failed: No reachable channel"
    stack.act(customer, "telegram/start")
    assert stack.trigger(phone, "ORD-1", ["Tea"]).json()["status"] == "Sent via Telegram"


def test_block_is_honoured_and_unblock_reverses_it(stack: Stack) -> None:
    customer, phone = linked_customer(stack)
    stack.act(customer, "telegram/block")
    assert contact(stack, phone)["telegram"]["state"] == "blocked"  # type: ignore[index]
    answer = stack.trigger(phone, "ORD-2", ["Tea"])
    assert answer.json()["status"] == "Failed: No reachable channel"
    view = stack.api.get(f"/v1/notifications/{answer.json()['notification_id']}", headers=HEADERS).json()
    assert view["attempts"][0]["outcome"] == "skipped" and "blocked" in view["attempts"][0]["error"]
    stack.act(customer, "telegram/unblock")
    assert stack.trigger(phone, "ORD-2", ["Tea"]).json()["status"] == "Sent via Telegram"


def test_viber_unsubscribe_is_honoured_and_a_message_resubscribes(stack: Stack) -> None:
    customer, phone = linked_customer(stack, viber=True)
    stack.act(customer, "telegram/text", text="/stop")
    stack.act(customer, "viber/unsubscribe")
    assert contact(stack, phone)["viber"]["state"] == "opted_out"  # type: ignore[index]
    assert stack.trigger(phone, "ORD-3", ["Tea"]).json()["status"] == "Failed: No reachable channel"
    stack.act(customer, "viber/text", text="hi again")
    assert stack.trigger(phone, "ORD-3", ["Tea"]).json()["status"] == "Sent via Viber"


def test_erase_removes_the_customer(stack: Stack) -> None:
    customer, phone = linked_customer(stack)
    sent = stack.trigger(phone, "ORD-4", ["Secret"]).json()
    erased = stack.api.delete(f"/v1/contacts/{phone}", headers=HEADERS)
    assert erased.status_code == 200 and erased.json()["erased"] is True
    assert stack.api.get(f"/v1/contacts/{phone}", headers=HEADERS).status_code == 404
    view = stack.api.get(f"/v1/notifications/{sent['notification_id']}", headers=HEADERS).json()
    assert (view["phone"], view["order_id"], view["status"]) == (None, None, "sent")  # counts stay, data goes
    assert stack.trigger(phone, "ORD-5", ["Tea"]).json()["status"] == "Failed: User not found"


def test_a_redelivered_update_is_processed_once(stack: Stack) -> None:
    customer, _ = stack.customer()
    stack.act(customer, "telegram/start")
    token = stack.api.post("/v1/links", headers=HEADERS, json={"phone": "+380931234567"}).json()["token"]
    user_id = stack.sandbox.get(f"/sandbox/customers/{customer}").json()["telegram"]["user_id"]
    update = {"update_id": 900000000 + uuid.uuid4().int % 1000000, "message": {
        "message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Olena"}, "text": f"/start {token}"}}
    headers = {"X-Telegram-Bot-Api-Secret-Token": stack.env["TELEGRAM_WEBHOOK_SECRET"]}
    answers = []
    for _ in range(3):  # Telegram retries an update whose answer it did not get
        answer = stack.api.post("/webhook/telegram", json=update, headers=headers)
        assert answer.status_code == 200
        answers.append(answer.json())
    # The reply rides in the answer; a redelivery gets the same one (the first may be the lost
    # one), not the reply a second run would make ("this link is already yours").
    assert answers[0]["method"] == "sendMessage" and answers[0]["chat_id"] == user_id
    assert "+380*******67" in answers[0]["text"]
    assert answers[1] == answers[0] and answers[2] == answers[0]
    again = stack.api.post("/webhook/telegram", json={**update, "update_id": update["update_id"] + 1},
                           headers=headers).json()
    assert again["method"] == "sendMessage" and again["text"] != answers[0]["text"]


def test_viber_callbacks_are_signed_and_deduplicated(stack: Stack) -> None:
    body = json.dumps({"event": "unsubscribed", "user_id": "nobody=", "message_token": 42, "timestamp": 1}).encode()
    signature = hmac.new(SANDBOX_VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    for _ in range(2):
        answer = stack.api.post("/webhook/viber", content=body,
                                headers={"X-Viber-Content-Signature": signature, "Content-Type": "application/json"})
        assert answer.status_code == 200
