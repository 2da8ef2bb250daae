"""The sandbox's Viber REST API answers and signed callbacks, as Viber would send them."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from omnibot_sandbox import SANDBOX_VIBER_BOT_URI
from tests.sandbox_helpers import Received, SandboxClient, WebhookReceiver, viber_signature, webhook_receiver

SHARE_PHONE = {"Type": "keyboard", "DefaultHeight": False,
               "Buttons": [{"ActionType": "share-phone", "ActionBody": "share-phone",
                            "Text": "Share my phone", "Columns": 6, "Rows": 1}]}
SENDER = {"name": "Omnibot Shop"}


@pytest.fixture
def webhook(sandbox: SandboxClient) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        answer = sandbox.viber("set_webhook", {"url": receiver.url})
        assert answer["status"] == 0, answer
        yield receiver


def signed_correctly(received: Received) -> bool:
    signature = received.header("X-Viber-Content-Signature") or ""
    return hmac.compare_digest(signature, viber_signature(received.body))


def text_message(receiver: str, text: str = "Your order ORD-1 is ready", **extra: Any) -> dict[str, Any]:
    return {"receiver": receiver, "min_api_version": 1, "sender": SENDER, "type": "text", "text": text,
            **extra}


def subscribed_customer(sandbox: SandboxClient) -> dict[str, Any]:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "viber/text", text="hi")
    return customer


def test_auth_token_by_header_or_body_and_http_200_for_errors(sandbox: SandboxClient) -> None:
    assert sandbox.viber("get_account_info")["status"] == 0
    by_body = sandbox.viber("get_account_info", {"auth_token": "sandbox-viber-auth-token"}, token=None)
    assert by_body["status"] == 0
    wrong = sandbox.viber("get_account_info", token="wrong")
    assert (wrong["status"], wrong["status_message"]) == (2, "invalidAuthToken")
    missing = sandbox.viber("send_message", text_message("x"), token=None)
    assert (missing["status"], missing["status_message"]) == (2, "invalidAuthToken")


def test_set_webhook_posts_a_signed_webhook_event_first(sandbox: SandboxClient) -> None:
    with webhook_receiver() as receiver:
        answer = sandbox.viber("set_webhook", {"url": receiver.url, "event_types": ["delivered", "seen"]})
        assert answer["status"] == 0 and answer["status_message"] == "ok"
        assert answer["event_types"] == ["delivered", "seen"]
        [event] = receiver.requests
        assert signed_correctly(event)
        body = event.json()
        assert body["event"] == "webhook"
        assert isinstance(body["timestamp"], int) and body["timestamp"] > 10**12  # milliseconds
        assert isinstance(body["message_token"], int) and body["chat_hostname"]
    assert sandbox.viber("get_account_info")["webhook"] == receiver.url


def test_set_webhook_refuses_a_url_that_does_not_answer_200(sandbox: SandboxClient) -> None:
    with webhook_receiver() as receiver:
        receiver.answer(500)
        assert sandbox.viber("set_webhook", {"url": receiver.url})["status"] == 1
    unreachable = sandbox.viber("set_webhook", {"url": "http://127.0.0.1:9/hook"})
    assert (unreachable["status"], unreachable["status_message"]) == (1, "invalidUrl")
    assert sandbox.viber("set_webhook", {"url": "ftp://example.com"})["status"] == 1
    assert sandbox.viber("get_account_info")["webhook"] == ""


def test_empty_url_removes_the_webhook(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    assert sandbox.viber("set_webhook", {"url": ""})["status"] == 0
    assert sandbox.viber("send_message", text_message("anyone"))["status"] == 10


def test_send_message_before_set_webhook_is_webhook_not_set(sandbox: SandboxClient) -> None:
    answer = sandbox.viber("send_message", text_message("01234567890A="))
    assert (answer["status"], answer["status_message"]) == (10, "webhookNotSet")


@pytest.mark.parametrize(("change", "status"), [
    ({"receiver": None}, 4),
    ({"text": None}, 4),
    ({"sender": None}, 4),
    ({"receiver": 12345}, 3),
    ({"sender": {"name": "x" * 29}}, 3),
    ({"text": "x" * 7001}, 3),
    ({"type": "carrier-pigeon"}, 3),
    ({"keyboard": {"Buttons": "nope"}}, 3),
])
def test_malformed_send_message_is_bad_or_missing_data(sandbox: SandboxClient, webhook: WebhookReceiver,
                                                       change: dict[str, Any], status: int) -> None:
    customer = subscribed_customer(sandbox)
    body = {key: value for key, value in {**text_message(customer["viber"]["user_id"]), **change}.items()
            if value is not None}
    answer = sandbox.viber("send_message", body)
    assert answer["status"] == status
    assert answer["status_message"] == {3: "badData", 4: "missingData"}[status]


def test_send_message_to_unknown_or_unsubscribed_receivers_fails(sandbox: SandboxClient,
                                                                webhook: WebhookReceiver) -> None:
    unknown = sandbox.viber("send_message", text_message("nobody0000000A=="))
    assert (unknown["status"], unknown["status_message"]) == (5, "receiverNotRegistered")
    customer = sandbox.customer()
    unsubscribed = sandbox.viber("send_message", text_message(customer["viber"]["user_id"]))
    assert (unsubscribed["status"], unsubscribed["status_message"]) == (6, "receiverNotSubscribed")


def test_send_message_delivers_text_and_keyboard_with_an_int64_token(sandbox: SandboxClient,
                                                                    webhook: WebhookReceiver) -> None:
    customer = subscribed_customer(sandbox)
    user_id = customer["viber"]["user_id"]
    assert "+" in user_id and "/" in user_id and user_id.endswith("=")
    answer = sandbox.viber("send_message", text_message(user_id, keyboard=SHARE_PHONE, min_api_version=3,
                                                        tracking_data="ORD-1"))
    assert answer["status"] == 0 and answer["status_message"] == "ok"
    assert isinstance(answer["message_token"], int) and 2**32 < answer["message_token"] < 2**63
    assert answer["chat_hostname"].startswith("SN-")
    [received] = sandbox.messages(customer["id"], "viber")
    assert received["text"] == "Your order ORD-1 is ready"
    assert received["keyboard"]["Buttons"][0]["ActionType"] == "share-phone"
    assert received["message_token"] == answer["message_token"]
    sandbox.act(customer["id"], "viber/text", text="thanks")
    assert webhook.last.json()["message"]["tracking_data"] == "ORD-1"


def test_deep_link_posts_conversation_started_and_records_the_welcome(sandbox: SandboxClient,
                                                                     webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    welcome = {"sender": SENDER, "type": "text", "text": "Share your phone for ORD-1",
               "min_api_version": 3, "keyboard": SHARE_PHONE}
    webhook.answer(200, welcome)
    report = sandbox.act(customer["id"], "open-link",
                         url=f"viber://pa?chatURI={SANDBOX_VIBER_BOT_URI}&context=ORD-1")
    assert report["delivered"] is True and report["webhook_status"] == 200
    assert report["welcome_message"]["status"] == 0
    received = webhook.last
    assert signed_correctly(received)
    event = received.json()
    assert event["event"] == "conversation_started" and event["type"] == "open"
    assert event["context"] == "ORD-1" and event["subscribed"] is False
    assert set(event["user"]) == {"id", "name", "avatar", "language", "country", "api_version"}
    assert event["user"]["id"] == customer["viber"]["user_id"] and event["user"]["language"] == "uk"
    assert isinstance(event["message_token"], int) and event["chat_hostname"]
    [shown] = sandbox.messages(customer["id"], "viber")
    assert shown["text"] == "Share your phone for ORD-1" and shown["keyboard"] == SHARE_PHONE
    assert shown["via"] == "webhook_response"
    # Opening the chat does not subscribe: the bot still cannot send_message.
    assert sandbox.viber("send_message", text_message(customer["viber"]["user_id"]))["status"] == 6


def test_shared_contact_arrives_without_plus_and_subscribes(sandbox: SandboxClient,
                                                           webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "viber/open", context="ORD-1")
    report = sandbox.act(customer["id"], "viber/share-contact")
    assert report["delivered"] is True
    event = webhook.last.json()
    assert signed_correctly(webhook.last)
    assert event["event"] == "message" and event["sender"]["id"] == customer["viber"]["user_id"]
    assert event["message"] == {"type": "contact",
                                "contact": {"name": "Olena Kovalenko", "phone_number": "380501234567"}}
    assert sandbox.http.get(f"/sandbox/customers/{customer['id']}").get_json()["viber"]["subscribed"] is True
    assert sandbox.viber("send_message", text_message(customer["viber"]["user_id"]))["status"] == 0


def test_unsubscribe_and_subscribe_callbacks(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    customer = subscribed_customer(sandbox)
    user_id = customer["viber"]["user_id"]
    sandbox.act(customer["id"], "viber/unsubscribe")
    event = webhook.last.json()
    assert event["event"] == "unsubscribed" and event["user_id"] == user_id
    assert sandbox.viber("send_message", text_message(user_id))["status"] == 6
    sandbox.act(customer["id"], "viber/subscribe")
    event = webhook.last.json()
    assert event["event"] == "subscribed" and event["user"]["id"] == user_id
    assert sandbox.viber("send_message", text_message(user_id))["status"] == 0


def test_delivered_and_seen_receipts_name_the_message(sandbox: SandboxClient,
                                                      webhook: WebhookReceiver) -> None:
    customer = subscribed_customer(sandbox)
    token = sandbox.viber("send_message", text_message(customer["viber"]["user_id"]))["message_token"]
    sandbox.act(customer["id"], "viber/delivered")
    assert webhook.last.json()["message_token"] == token and webhook.last.json()["event"] == "delivered"
    sandbox.act(customer["id"], "viber/seen", message_token=token)
    assert webhook.last.json()["event"] == "seen"
    missing = sandbox.http.post(f"/sandbox/customers/{customer['id']}/viber/seen", json={"message_token": 1})
    assert missing.status_code == 404


def test_events_left_out_of_event_types_are_not_sent(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    with webhook_receiver() as receiver:
        sandbox.viber("set_webhook", {"url": receiver.url, "event_types": ["delivered"]})
        report = sandbox.act(customer["id"], "viber/open", context="ORD-1")
        assert report["delivered"] is False and "event_types" in report["reason"]
        # message is mandatory: it always reaches the webhook.
        assert sandbox.act(customer["id"], "viber/text", text="hi")["delivered"] is True


def test_account_info_and_user_details(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    customer = subscribed_customer(sandbox)
    info = sandbox.viber("get_account_info")
    assert info["uri"] == SANDBOX_VIBER_BOT_URI and info["subscribers_count"] == 1
    assert info["event_types"] and info["webhook"] == webhook.url
    details = sandbox.viber("get_user_details", {"id": customer["viber"]["user_id"]})
    assert details["status"] == 0 and details["user"]["name"] == "Olena Kovalenko"
    assert details["user"]["api_version"] >= 3
    assert sandbox.viber("get_user_details", {})["status"] == 4
    assert sandbox.viber("get_user_details", {"id": "nobody"})["status"] == 5


def test_calls_are_logged_with_their_status(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    sandbox.viber("send_message", text_message("nobody"))
    last = sandbox.requests()["requests"][-1]
    assert last["channel"] == "viber" and last["method"] == "send_message"
    assert (last["ok"], last["status"], last["status_message"]) == (False, 5, "receiverNotRegistered")


def test_wrong_http_method_and_unknown_endpoint_stay_json(sandbox: SandboxClient) -> None:
    wrong_method = sandbox.http.get("/pa/send_message")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    unknown = sandbox.http.post("/pa/teleport", json={})
    assert unknown.status_code == 404 and unknown.get_json()["status"] != 0
    malformed = sandbox.http.post("/pa/get_account_info", data=b"{nope",
                                  headers={"X-Viber-Auth-Token": "sandbox-viber-auth-token"})
    assert malformed.get_json()["status"] == 3


def test_a_plain_or_malformed_answer_to_conversation_started_shows_nothing(sandbox: SandboxClient,
                                                                         webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    webhook.answer(200, {"status": 0})
    assert "welcome_message" not in sandbox.act(customer["id"], "viber/open", context="ORD-1")
    webhook.answer(200, {"sender": {"name": "x" * 29}, "type": "text", "text": "Welcome"})
    report = sandbox.act(customer["id"], "viber/open", context="ORD-1")
    assert report["welcome_message"]["status"] == 3
    assert sandbox.messages(customer["id"], "viber") == []
    last = sandbox.requests()["requests"][-1]
    assert (last["method"], last["ok"], last["via"]) == ("conversation_started_reply", False, "webhook_response")
