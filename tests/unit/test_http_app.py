"""The whole HTTP app on in-memory fakes (``bootstrap.build(settings, store=..., gateways=...)``):
the seed's trigger, the /v1 API, the webhooks, the probes, the dashboard; no database, no messenger."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import ChannelState, Contact, NotificationStatus
from tests.memory_store import MemoryApp, memory_app

KEY = "shop-key"
SECRET = "telegram-hook-secret"
VIBER_TOKEN = "viber-token"
PHONE = "+380501234567"
_ids = itertools.count(1)


@pytest.fixture
def shop(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> MemoryApp:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return memory_app(internal_api_key=KEY, telegram_bot_token="1:test", telegram_webhook_secret=SECRET,
                      telegram_bot_username="shop_bot", viber_auth_token=VIBER_TOKEN, viber_bot_uri="shopbot",
                      admin_password_hash=generate_password_hash("operator-password", "pbkdf2:sha256:1000"),
                      secret_key="s" * 32)


@pytest.fixture
def client(shop: MemoryApp) -> Iterator[FlaskClient]:
    with shop.app.test_client() as test_client:
        yield test_client


def trigger(client: FlaskClient, body: object, key: str | None = KEY) -> Any:
    headers = {"X-Internal-API-Key": key} if key is not None else {}
    return client.post("/trigger-notification", json=body, headers=headers)


def customer(shop: MemoryApp, **fields: Any) -> Contact:
    return shop.memory.contacts.add(Contact(phone=PHONE, phone_verified=True, **fields))


def telegram_update(client: FlaskClient, update: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhook/telegram", json={"update_id": next(_ids), **update}, headers=headers)


def telegram_message(chat: int, **message: Any) -> dict[str, Any]:
    sender = {"id": chat, "is_bot": False, "first_name": "Olena", "language_code": "uk"}
    return {"message": {"message_id": next(_ids), "date": 0, "chat": {"id": chat, "type": "private"},
                        "from": sender, **message}}


def viber_callback(client: FlaskClient, callback: dict[str, Any], token: str = VIBER_TOKEN) -> Any:
    body = json.dumps({"timestamp": 1, "message_token": next(_ids), **callback}).encode()
    signature = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/webhook/viber", data=body, content_type="application/json",
                       headers={"X-Viber-Content-Signature": signature})


# --- the seed's synchronous trigger ---------------------------------------------------------------


def test_trigger_answers_the_seeds_three_results(shop: MemoryApp, client: FlaskClient) -> None:
    assert trigger(client, {"phone": PHONE, "order_id": "ORD-1", "items": ["Laptop"]}).json["status"] \
        == "Failed: User not found"

    customer(shop, telegram_chat_id=42, viber_user_id="v=")
    answer = trigger(client, {"phone": "050 123 45 67", "order_id": "ORD-2", "items": ["Laptop"]})
    assert answer.status_code == 200 and answer.json["status"] == "Sent via Telegram"
    [(chat, message)] = shop.telegram.sent
    assert chat == "42" and "ORD-2" in message.text

    shop.telegram.failure = PermanentFailure("Forbidden: bot was blocked by the user", ChannelState.BLOCKED)
    assert trigger(client, {"phone": PHONE, "order_id": "ORD-3", "items": []}).json["status"] == "Sent via Viber"
    assert [address for address, _ in shop.viber.sent] == ["v="]
    assert shop.statuses() == [NotificationStatus.FAILED, NotificationStatus.SENT, NotificationStatus.SENT]


def test_trigger_keeps_what_it_cannot_send_now_for_the_workers(shop: MemoryApp, client: FlaskClient) -> None:
    customer(shop, telegram_chat_id=42)
    shop.telegram.failure = TransientFailure("HTTP 502")
    answer = trigger(client, {"phone": PHONE, "order_id": "ORD-1", "items": []})
    assert answer.json["status"] == "Queued for retry"
    assert shop.statuses() == [NotificationStatus.QUEUED]


def test_trigger_refuses_without_the_key_and_explains_bad_bodies(shop: MemoryApp, client: FlaskClient) -> None:
    for key in (None, "wrong"):
        answer = trigger(client, {"phone": PHONE, "order_id": "ORD-1"}, key=key)
        assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
    answer = client.post("/trigger-notification", data=b"{not json", content_type="application/json",
                         headers={"X-Internal-API-Key": KEY})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "malformed_json"
    answer = trigger(client, {"phone": "not a phone", "order_id": "ORD-1"})
    assert answer.status_code == 400 and answer.json["error"]["field"] == "phone"
    assert shop.statuses() == []  # nothing refused was stored


# --- the queued /v1 API -----------------------------------------------------------------------------


def create(client: FlaskClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/notifications", json=body, headers={"X-Internal-API-Key": KEY, **headers})


def test_a_queued_notification_is_stored_then_read_back_and_nothing_is_sent_by_the_request(
        shop: MemoryApp, client: FlaskClient) -> None:
    customer(shop, telegram_chat_id=42)
    answer = create(client, {"phone": PHONE, "order_id": "ORD-7", "items": ["Mouse"], "priority": "high",
                             "ttl_seconds": 600})
    assert answer.status_code == 202
    created = answer.json
    assert answer.headers["Location"] == f"/v1/notifications/{created['id']}"
    assert (created["status"], created["priority"]) == ("queued", "high")
    assert shop.telegram.sent == []  # the workers deliver it
    assert shop.memory.queue.depth()[0] == 1
    read = client.get(f"/v1/notifications/{created['id']}", headers={"X-Internal-API-Key": KEY})
    assert read.status_code == 200 and read.json == created
    missing = client.get("/v1/notifications/00000000-0000-0000-0000-000000000000",
                         headers={"X-Internal-API-Key": KEY})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_an_idempotency_key_answers_a_retry_with_the_first_notification(shop: MemoryApp,
                                                                       client: FlaskClient) -> None:
    body = {"phone": PHONE, "order_id": "ORD-8"}
    first = create(client, body, **{"Idempotency-Key": "order-8"})
    again = create(client, body, **{"Idempotency-Key": "order-8"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = create(client, {**body, "order_id": "ORD-9"}, **{"Idempotency-Key": "order-8"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert len(shop.statuses()) == 1


def test_a_deadline_is_given_one_way_only(client: FlaskClient) -> None:
    answer = create(client, {"phone": PHONE, "order_id": "ORD-1", "ttl_seconds": 60,
                             "expires_at": "2099-01-01T00:00:00Z"})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_request"


# --- webhooks ---------------------------------------------------------------------------------------


def test_a_start_with_a_signed_link_links_the_chat_and_the_reply_rides_in_the_answer(
        shop: MemoryApp, client: FlaskClient) -> None:
    link = shop.services.links.create(PHONE, "ORD-1")
    answer = telegram_update(client, telegram_message(42, text=f"/start {link.token}"))
    assert answer.status_code == 200
    assert answer.json["method"] == "sendMessage" and answer.json["chat_id"] == 42
    contact = shop.memory.contacts.find_by_telegram_chat(42)
    assert contact is not None and contact.phone == PHONE and contact.language == "uk"
    assert shop.telegram.sent == []  # nothing sent on a second path while the webhook waited
    assert shop.memory.replies.rows == {}


def test_a_redelivered_update_gets_the_same_answer_and_changes_nothing(shop: MemoryApp,
                                                                      client: FlaskClient) -> None:
    link = shop.services.links.create(PHONE, "ORD-1")
    update = {"update_id": 7000, **telegram_message(42, text=f"/start {link.token}")}
    first = client.post("/webhook/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    again = client.post("/webhook/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert first.json == again.json
    assert len(shop.memory.contacts.stored()) == 1


def test_webhooks_refuse_strangers_and_store_nothing(shop: MemoryApp, client: FlaskClient) -> None:
    for secret in (None, "guess"):
        answer = telegram_update(client, telegram_message(42, text="/start"), secret=secret)
        assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
    answer = viber_callback(client, {"event": "subscribed", "user": {"id": "v=", "name": "Olena"}}, token="forged")
    assert answer.status_code == 403
    assert shop.memory.contacts.stored() == [] and shop.memory.updates.handled == {}


def test_stop_opts_the_customer_out_and_is_acknowledged_in_the_answer(shop: MemoryApp,
                                                                           client: FlaskClient) -> None:
    customer(shop, telegram_chat_id=42)
    answer = telegram_update(client, telegram_message(42, text="/stop"))
    assert answer.status_code == 200
    contact = shop.memory.contacts.find_by_telegram_chat(42)
    assert contact is not None and contact.telegram_state is ChannelState.OPTED_OUT
    assert (answer.json["method"], answer.json["chat_id"]) == ("sendMessage", 42)
    assert "/start" in answer.json["text"] and answer.json["reply_markup"] == {"remove_keyboard": True}
    assert shop.memory.replies.rows == {}  # nothing left for the outbox


def test_viber_receipts_move_a_sent_notification_and_an_unsubscribe_opts_out(
        shop: MemoryApp, client: FlaskClient) -> None:
    customer(shop, viber_user_id="v=")
    assert trigger(client, {"phone": PHONE, "order_id": "ORD-1", "items": []}).json["status"] == "Sent via Viber"
    [notification] = shop.memory.notifications.stored()
    sent = notification.confirmed_send()
    assert sent is not None and sent.provider_message_id is not None
    receipt = {"event": "delivered", "message_token": int(sent.provider_message_id), "user_id": "v="}
    assert viber_callback(client, receipt).status_code == 200
    assert shop.stored(notification.id).status is NotificationStatus.DELIVERED
    assert viber_callback(client, {"event": "unsubscribed", "user_id": "v="}).status_code == 200
    contact = shop.memory.contacts.find_by_viber_user("v=")
    assert contact is not None and contact.viber_state is ChannelState.OPTED_OUT


# --- probes and the dashboard -------------------------------------------------------------------------


def test_the_probes_answer_from_the_store(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200


def test_the_dashboard_shows_the_queue_to_a_signed_in_operator(shop: MemoryApp, client: FlaskClient) -> None:
    assert client.get("/admin/queue").status_code in (302, 303)
    form = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    signed_in = client.post("/admin/login", data={"password": "operator-password", "csrf_token": token.group(1)})
    assert signed_in.status_code in (302, 303)
    create(client, {"phone": PHONE, "order_id": "ORD-1"})
    page = client.get("/admin/queue")
    assert page.status_code == 200 and b"queued" in page.data.lower()
