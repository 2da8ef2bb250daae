"""The seed's whole flow over HTTP: deep link, shared contact, trigger, message in the messenger."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import API_KEY, Stack

TELEGRAM_LINK = "https://t.me/omnibot_sandbox_bot?start={order}"
VIBER_LINK = "viber://pa?chatURI=omnibotsandbox&context={order}"


def order_id() -> str:
    return f"ORD-{uuid.uuid4().hex[:8]}"


def test_telegram_deep_link_then_contact_then_trigger_arrives_on_telegram(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = order_id()
    stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=order))
    [welcome] = stack.messages(customer, "telegram")
    assert order in str(welcome["text"])
    assert "request_contact" in str(welcome["reply_markup"])
    stack.act(customer, "telegram/share-contact")

    answer = stack.trigger(phone, order, ["Laptop", "Mouse"])

    assert answer.status_code == 200
    assert answer.json()["status"] == "Sent via Telegram"
    last = stack.messages(customer, "telegram")[-1]
    assert order in str(last["text"]) and "Laptop" in str(last["text"]) and "Mouse" in str(last["text"])


def test_an_attacker_who_opens_another_customers_order_link_receives_nothing(stack: Stack) -> None:
    victim, victim_phone = stack.customer("Olena Kovalenko")
    attacker, _ = stack.customer("Mallory", language="en")
    order = order_id()
    # Order ids are printed on receipts: the attacker guesses the next one and shares their own phone.
    stack.act(attacker, "open-link", url=TELEGRAM_LINK.format(order=order))
    stack.act(attacker, "telegram/share-contact")
    received_before = len(stack.messages(attacker, "telegram"))

    answer = stack.trigger(victim_phone, order, ["Engagement ring"])

    assert answer.json()["status"] == "Failed: User not found"
    assert len(stack.messages(attacker, "telegram")) == received_before
    assert not any("Engagement ring" in str(m["text"]) for m in stack.messages(attacker, "telegram"))
    assert stack.messages(victim, "telegram") == []


def test_blocked_telegram_falls_back_to_viber(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = order_id()
    stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=order))
    stack.act(customer, "telegram/share-contact")
    stack.act(customer, "open-link", url=VIBER_LINK.format(order=order))
    stack.act(customer, "viber/share-contact")
    stack.act(customer, "telegram/block")
    telegram_before = len(stack.messages(customer, "telegram"))

    answer = stack.trigger(phone, order, ["Phone case"])

    assert answer.json()["status"] == "Sent via Viber"
    assert "Phone case" in str(stack.messages(customer, "viber")[-1]["text"])
    assert len(stack.messages(customer, "telegram")) == telegram_before


def test_telegram_refusing_at_send_time_falls_back_to_viber_in_the_same_trigger(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = order_id()
    stack.act(customer, "open-link", url=VIBER_LINK.format(order=order))
    stack.act(customer, "viber/share-contact")
    stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=order))
    stack.act(customer, "telegram/share-contact")
    # Blocked without omnibot hearing of it: the sandbox refuses the send with Telegram's 403.
    stack.sandbox.post(f"/sandbox/customers/{customer}/telegram/block", params={"silent": "1"})
    answer = stack.trigger(phone, order, ["Charger"])
    assert answer.json()["status"] == "Sent via Viber"


def test_unknown_customer_is_not_found(stack: Stack) -> None:
    answer = stack.trigger("+380679999999", order_id(), ["Laptop"])
    assert answer.status_code == 200
    assert answer.json()["status"] == "Failed: User not found"


def test_wrong_api_key_is_401_json(stack: Stack) -> None:
    answer = stack.api.post("/trigger-notification", headers={"X-Internal-API-Key": "wrong"},
                            json={"phone": "+380501234567", "order_id": "ORD-1", "items": []})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_bad_input_is_400_naming_the_field(stack: Stack) -> None:
    headers = {"X-Internal-API-Key": API_KEY, "Content-Type": "application/json"}
    malformed = stack.api.post("/trigger-notification", headers=headers, content=b"{not json")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "malformed_json"
    wrong_type = stack.api.post("/trigger-notification", headers=headers,
                                json={"phone": "+380501234567", "items": "Laptop"})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["field"] == "items"
    bad_phone = stack.api.post("/trigger-notification", headers=headers, json={"phone": "call me"})
    assert bad_phone.status_code == 400 and bad_phone.json()["error"]["field"] == "phone"
