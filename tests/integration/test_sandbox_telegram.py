"""The sandbox's Telegram Bot API answers and updates, as Telegram would send them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from omnibot_sandbox import SANDBOX_TELEGRAM_BOT_USERNAME, SANDBOX_TELEGRAM_TOKEN
from tests.sandbox_helpers import SandboxClient, WebhookReceiver, webhook_receiver

SECRET = "sandbox-secret_1"
REQUEST_CONTACT = {"keyboard": [[{"text": "Share my phone", "request_contact": True}]],
                   "resize_keyboard": True, "one_time_keyboard": True}


@pytest.fixture
def webhook(sandbox: SandboxClient) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        status, body = sandbox.telegram("setWebhook", url=receiver.url, secret_token=SECRET,
                                        allowed_updates=["message", "my_chat_member"])
        assert (status, body) == (200, {"ok": True, "result": True, "description": "Webhook was set"})
        yield receiver


def started_customer(sandbox: SandboxClient) -> dict[str, Any]:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "telegram/start")
    return customer


def test_get_me_describes_the_bot_and_method_names_ignore_case(sandbox: SandboxClient) -> None:
    status, body = sandbox.telegram("GETME")
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == SANDBOX_TELEGRAM_BOT_USERNAME
    assert body["result"]["id"] == 123456789
    by_get = sandbox.http.get(f"/bot{SANDBOX_TELEGRAM_TOKEN}/getme")
    assert by_get.status_code == 200 and by_get.get_json()["result"] == body["result"]


def test_wrong_token_is_401_and_unknown_method_is_404(sandbox: SandboxClient) -> None:
    assert sandbox.telegram("getMe", token="123456789:wrong-token") == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert sandbox.telegram("getMe", token="no-colon") == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert sandbox.telegram("sendPigeon") == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    no_method = sandbox.http.get(f"/bot{SANDBOX_TELEGRAM_TOKEN}/")
    assert no_method.status_code == 404 and no_method.get_json()["ok"] is False


def test_send_message_refuses_unknown_unstarted_and_blocked_chats(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    user_id = customer["telegram"]["user_id"]
    assert sandbox.telegram("sendMessage", chat_id=999, text="Hi") == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    assert sandbox.telegram("sendMessage", chat_id=user_id, text="Hi") == (
        403, {"ok": False, "error_code": 403,
              "description": "Forbidden: bot can't initiate conversation with a user"})
    sandbox.act(customer["id"], "telegram/start")
    sandbox.act(customer["id"], "telegram/block")
    assert sandbox.telegram("sendMessage", chat_id=user_id, text="Hi") == (
        403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    assert sandbox.messages(customer["id"], "telegram") == []


def test_send_message_checks_text_length_after_entity_parsing(sandbox: SandboxClient) -> None:
    chat_id = started_customer(sandbox)["telegram"]["user_id"]
    empty = sandbox.telegram("sendMessage", chat_id=chat_id, text="")
    assert empty == (400, {"ok": False, "error_code": 400,
                           "description": "Bad Request: message text is empty"})
    only_tags = sandbox.telegram("sendMessage", chat_id=chat_id, text="<b> </b>", parse_mode="HTML")
    assert only_tags[1]["description"] == "Bad Request: message text is empty"
    too_long = sandbox.telegram("sendMessage", chat_id=chat_id, text="x" * 4097)
    assert too_long == (400, {"ok": False, "error_code": 400,
                              "description": "Bad Request: message is too long"})
    tagged = "<b>" + "x" * 4096 + "</b>"
    status, body = sandbox.telegram("sendMessage", chat_id=chat_id, text=tagged, parse_mode="HTML")
    assert status == 200 and len(body["result"]["text"]) == 4096


@pytest.mark.parametrize("text", [
    "Order <ORD-1> is ready",  # user data with < and > left unescaped
    "Tom & Jerry",
    "Price > 100",
    "<br>line",
    "<b>bold</i>",
    "<b>unclosed",
    "<span>hidden</span>",
])
def test_html_that_telegram_would_refuse_is_400_cant_parse_entities(sandbox: SandboxClient,
                                                                     text: str) -> None:
    chat_id = started_customer(sandbox)["telegram"]["user_id"]
    status, body = sandbox.telegram("sendMessage", chat_id=chat_id, text=text, parse_mode="HTML")
    assert status == 400
    assert body["description"].startswith("Bad Request: can't parse entities: ")


def test_html_message_is_recorded_raw_and_rendered_with_its_keyboard(sandbox: SandboxClient) -> None:
    customer = started_customer(sandbox)
    text = '<b>Order ORD-1</b> &lt;Laptop&gt; &amp; <a href="https://shop.example/o?id=1&amp;x=2">track</a>'
    status, body = sandbox.telegram("sendMessage", chat_id=customer["telegram"]["user_id"],
                                    text=text, parse_mode="HTML", reply_markup=REQUEST_CONTACT)
    assert status == 200 and body["ok"] is True
    message = body["result"]
    assert message["text"] == "Order ORD-1 <Laptop> & track"
    assert message["chat"] == {"id": customer["telegram"]["user_id"], "first_name": "Olena",
                               "last_name": "Kovalenko", "type": "private"}
    assert message["from"]["is_bot"] is True and isinstance(message["date"], int)
    assert {"type": "bold", "offset": 0, "length": 11} in message["entities"]
    assert {"type": "text_link", "offset": 23, "length": 5,
            "url": "https://shop.example/o?id=1&x=2"} in message["entities"]
    [received] = sandbox.messages(customer["id"], "telegram")
    assert received["text"] == "Order ORD-1 <Laptop> & track"
    assert received["raw_text"] == text
    assert received["parse_mode"] == "HTML"
    assert received["reply_markup"] == REQUEST_CONTACT
    assert received["message_id"] == message["message_id"]


def test_markdown_v2_reserved_characters_must_be_escaped(sandbox: SandboxClient) -> None:
    chat_id = started_customer(sandbox)["telegram"]["user_id"]
    status, body = sandbox.telegram("sendMessage", chat_id=chat_id, text="Total: 1.5",
                                    parse_mode="MarkdownV2")
    assert status == 400 and "reserved" in body["description"]
    status, body = sandbox.telegram("sendMessage", chat_id=chat_id, text="*Total:* 1\\.5",
                                    parse_mode="MarkdownV2")
    assert status == 200 and body["result"]["text"] == "Total: 1.5"


def test_parameters_come_from_form_multipart_and_query_string(sandbox: SandboxClient) -> None:
    customer = started_customer(sandbox)
    chat_id = str(customer["telegram"]["user_id"])
    base = f"/bot{SANDBOX_TELEGRAM_TOKEN}/sendMessage"
    form = sandbox.http.post(base, data={"chat_id": chat_id, "text": "form",
                                         "reply_markup": json.dumps(REQUEST_CONTACT)})
    multipart = sandbox.http.post(base, data={"chat_id": chat_id, "text": "multipart"},
                                  content_type="multipart/form-data")
    query = sandbox.http.get(base, query_string={"chat_id": chat_id, "text": "query"})
    assert [r.status_code for r in (form, multipart, query)] == [200, 200, 200]
    received = sandbox.messages(customer["id"], "telegram")
    assert [m["text"] for m in received] == ["form", "multipart", "query"]
    assert received[0]["reply_markup"] == REQUEST_CONTACT
    bad_markup = sandbox.http.post(base, data={"chat_id": chat_id, "text": "x", "reply_markup": "{nope"})
    assert bad_markup.status_code == 400


def test_deep_link_posts_start_with_payload_and_secret_header(sandbox: SandboxClient,
                                                             webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    report = sandbox.act(customer["id"], "open-link",
                         url=f"https://t.me/{SANDBOX_TELEGRAM_BOT_USERNAME}?start=ORD-1")
    assert report["delivered"] is True and report["webhook_status"] == 200
    assert report["webhook_response"] == {"ok": True}
    received = webhook.last
    assert received.header("X-Telegram-Bot-Api-Secret-Token") == SECRET
    update = received.json()
    message = update["message"]
    assert message["text"] == "/start ORD-1"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"] == {"id": customer["telegram"]["user_id"], "is_bot": False, "first_name": "Olena",
                               "last_name": "Kovalenko", "language_code": "uk"}
    assert message["chat"]["id"] == customer["telegram"]["user_id"] and message["chat"]["type"] == "private"
    assert isinstance(message["date"], int)
    sandbox.act(customer["id"], "telegram/start")
    plain = webhook.last.json()
    assert plain["message"]["text"] == "/start"
    assert plain["update_id"] > update["update_id"]
    assert sandbox.http.get(f"/sandbox/customers/{customer['id']}").get_json()["telegram"]["started"] is True


def test_shared_contact_is_own_without_plus_or_someone_elses(sandbox: SandboxClient,
                                                           webhook: WebhookReceiver) -> None:
    customer = started_customer(sandbox)
    sandbox.act(customer["id"], "telegram/share-contact")
    own = webhook.last.json()["message"]
    assert own["contact"]["phone_number"] == "380501234567"
    assert own["contact"]["user_id"] == own["from"]["id"]
    assert "text" not in own
    sandbox.act(customer["id"], "telegram/share-contact", own=False, phone="+380671112233", name="Ivan")
    card = webhook.last.json()["message"]["contact"]
    assert card["phone_number"] == "380671112233" and card["first_name"] == "Ivan"
    assert card["user_id"] != own["from"]["id"]


def test_block_and_unblock_post_my_chat_member_updates(sandbox: SandboxClient,
                                                       webhook: WebhookReceiver) -> None:
    customer = started_customer(sandbox)
    sandbox.act(customer["id"], "telegram/block")
    blocked = webhook.last.json()["my_chat_member"]
    assert blocked["chat"]["id"] == customer["telegram"]["user_id"]
    assert blocked["from"]["id"] == customer["telegram"]["user_id"]
    assert blocked["old_chat_member"]["status"] == "member"
    assert blocked["new_chat_member"] == {"user": blocked["old_chat_member"]["user"],
                                          "status": "kicked", "until_date": 0}
    assert blocked["new_chat_member"]["user"]["is_bot"] is True
    sandbox.act(customer["id"], "telegram/unblock")
    unblocked = webhook.last.json()["my_chat_member"]
    statuses = (unblocked["old_chat_member"]["status"], unblocked["new_chat_member"]["status"])
    assert statuses == ("kicked", "member")


def test_silent_block_changes_state_without_an_update(sandbox: SandboxClient,
                                                      webhook: WebhookReceiver) -> None:
    customer = started_customer(sandbox)
    before = len(webhook.requests)
    response = sandbox.http.post(f"/sandbox/customers/{customer['id']}/telegram/block",
                                 query_string={"silent": "1"})
    assert response.status_code == 200 and response.get_json()["delivered"] is False
    assert len(webhook.requests) == before
    status, _ = sandbox.telegram("sendMessage", chat_id=customer["telegram"]["user_id"], text="Hi")
    assert status == 403


def test_restarting_a_blocked_bot_sends_unblock_then_start(sandbox: SandboxClient,
                                                          webhook: WebhookReceiver) -> None:
    customer = started_customer(sandbox)
    sandbox.act(customer["id"], "telegram/block")
    report = sandbox.act(customer["id"], "telegram/start", payload="ORD-2")
    assert report["update"]["message"]["text"] == "/start ORD-2"
    assert report["preceding"][0]["update"]["my_chat_member"]["new_chat_member"]["status"] == "member"
    assert [r.json().get("my_chat_member") is not None for r in webhook.requests[-2:]] == [True, False]


def test_method_call_in_the_webhook_answer_is_executed(sandbox: SandboxClient,
                                                       webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    webhook.reply = lambda received: (200, {
        "method": "sendMessage", "chat_id": received.json()["message"]["chat"]["id"],
        "text": "Welcome! <b>Share your phone</b>", "parse_mode": "HTML", "reply_markup": REQUEST_CONTACT})
    report = sandbox.act(customer["id"], "telegram/start", payload="ORD-7")
    assert report["webhook_method"]["ok"] is True
    [welcome] = sandbox.messages(customer["id"], "telegram")
    assert welcome["text"] == "Welcome! Share your phone"
    assert "request_contact" in json.dumps(welcome["reply_markup"])
    last_call = sandbox.requests()["requests"][-1]
    assert last_call["method"] == "sendMessage" and last_call["via"] == "webhook_response"


def test_allowed_updates_filters_what_reaches_the_webhook(sandbox: SandboxClient,
                                                          webhook: WebhookReceiver) -> None:
    customer = started_customer(sandbox)
    sandbox.telegram("setWebhook", url=webhook.url, secret_token=SECRET, allowed_updates=["message"])
    before = len(webhook.requests)
    report = sandbox.act(customer["id"], "telegram/block")
    assert report["delivered"] is False and "allowed_updates" in report["reason"]
    assert len(webhook.requests) == before


def test_webhook_lifecycle_and_get_updates_conflict(sandbox: SandboxClient) -> None:
    status, body = sandbox.telegram("setWebhook", url="http://127.0.0.1:9/hook", secret_token="bad secret!")
    assert status == 400 and "secret token" in body["description"]
    assert sandbox.telegram("setWebhook", url="not a url")[0] == 400
    sandbox.telegram("setWebhook", url="http://127.0.0.1:9/hook", max_connections=10)
    _, info = sandbox.telegram("getWebhookInfo")
    assert info["result"]["url"] == "http://127.0.0.1:9/hook"
    assert info["result"]["has_custom_certificate"] is False
    assert info["result"]["pending_update_count"] == 0
    assert info["result"]["max_connections"] == 10
    status, body = sandbox.telegram("getUpdates")
    assert status == 409 and body["description"].startswith("Conflict: ")
    assert sandbox.telegram("deleteWebhook")[1] == {"ok": True, "result": True,
                                                    "description": "Webhook was deleted"}
    assert sandbox.telegram("getWebhookInfo")[1]["result"]["url"] == ""


def test_without_a_webhook_updates_queue_for_get_updates(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    report = sandbox.act(customer["id"], "telegram/start", payload="ORD-9")
    assert report["delivered"] is False and report["reason"] == "no webhook set" and report["queued"] is True
    sandbox.act(customer["id"], "telegram/text", text="hello")
    assert sandbox.telegram("getWebhookInfo")[1]["result"]["pending_update_count"] == 2
    _, body = sandbox.telegram("getUpdates")
    first, second = body["result"]
    assert first["message"]["text"] == "/start ORD-9" and second["message"]["text"] == "hello"
    _, body = sandbox.telegram("getUpdates", offset=second["update_id"])
    assert [u["update_id"] for u in body["result"]] == [second["update_id"]]
    _, body = sandbox.telegram("getUpdates", offset=second["update_id"] + 1)
    assert body["result"] == []


def test_queued_updates_are_delivered_in_order_once_a_webhook_is_set(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "telegram/start", payload="ORD-1")
    with webhook_receiver() as receiver:
        sandbox.telegram("setWebhook", url=receiver.url)
        report = sandbox.act(customer["id"], "telegram/text", text="hi")
        assert [r.json()["message"]["text"] for r in receiver.requests] == ["/start ORD-1", "hi"]
        assert receiver.last.header("X-Telegram-Bot-Api-Secret-Token") is None
        assert len(report["preceding"]) == 1


def test_unreachable_or_failing_webhook_is_reported_not_raised(sandbox: SandboxClient,
                                                              webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    webhook.answer(500, {"error": "boom"})
    report = sandbox.act(customer["id"], "telegram/start")
    assert report["delivered"] is True and report["webhook_status"] == 500
    info = sandbox.telegram("getWebhookInfo")[1]["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    sandbox.telegram("setWebhook", url="http://127.0.0.1:9/unreachable")
    report = sandbox.act(customer["id"], "telegram/text", text="anyone?")
    assert report["delivered"] is False and "unreachable" in report["reason"]
