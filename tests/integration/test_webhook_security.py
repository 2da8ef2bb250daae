"""Who may speak for a customer: the Telegram webhook is never open, and a contact card moves no
verified phone (README, "What proves a phone"). On a real SQLite database through the whole app."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from omnibot.adapters.viber import SHARE_PHONE_TRACKING
from omnibot.bootstrap import Services
from omnibot.domain.model import ChannelState
from omnibot.settings import Settings
from tests.integration.apps import sqlite_apps

TOKEN = "123456:security-test-token"
VIBER_TOKEN = "security-viber-token"
VICTIM_PHONE = "+380501234567"
VICTIM_CHAT, ATTACKER_CHAT = 4242, 6666
_update_ids = itertools.count(1000)


@pytest.fixture
def app(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    # No TELEGRAM_WEBHOOK_SECRET: the production-like start the probe found open. Replies go to a
    # closed loopback port and fail quietly; the updates themselves are what is tested.
    with sqlite_apps(tmp_path / "security.sqlite3", internal_api_key="security-key", telegram_bot_token=TOKEN,
                     viber_auth_token=VIBER_TOKEN, viber_api_url="http://127.0.0.1:9/pa") as make:
        yield make()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def services(app: Flask) -> Services:
    found: Services = app.extensions["omnibot"]
    return found


def derived_secret() -> str:
    key = Settings.from_env(telegram_bot_token=TOKEN, telegram_webhook_secret=None).telegram_webhook_key()
    assert key is not None
    return key


def telegram(client: FlaskClient, update: dict[str, object], secret: str | None):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhook/telegram", json={"update_id": next(_update_ids), **update}, headers=headers)


def own_contact(chat: int, phone: str) -> dict[str, object]:
    sender = {"id": chat, "is_bot": False, "first_name": "Someone"}
    return {"message": {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private"}, "from": sender,
                        "contact": {"phone_number": phone, "first_name": "Someone", "user_id": chat}}}


def kicked(chat: int) -> dict[str, object]:
    sender = {"id": chat, "is_bot": False, "first_name": "Someone"}
    return {"my_chat_member": {"chat": {"id": chat, "type": "private"}, "from": sender, "date": 0,
                               "old_chat_member": {"status": "member"}, "new_chat_member": {"status": "kicked"}}}


def viber(client: FlaskClient, callback: dict[str, object]):
    body = json.dumps({"timestamp": 1, "message_token": next(_update_ids), **callback}).encode()
    signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/webhook/viber", data=body, content_type="application/json",
                       headers={"X-Viber-Content-Signature": signature})


def viber_contact(user_id: str, phone: str, tracking_data: str | None) -> dict[str, object]:
    message: dict[str, object] = {"type": "contact", "contact": {"name": "Someone", "phone_number": phone}}
    if tracking_data is not None:
        message["tracking_data"] = tracking_data
    return {"event": "message", "sender": {"id": user_id, "name": "Someone"}, "message": message}


def test_the_derived_secret_is_stable_per_token_and_fits_telegrams_alphabet() -> None:
    first = derived_secret()
    assert first == derived_secret()  # every process and restart derives the same
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", first)
    other = Settings.from_env(telegram_bot_token="999:another", telegram_webhook_secret=None).telegram_webhook_key()
    assert other != first
    assert Settings.from_env(telegram_bot_token=TOKEN, telegram_webhook_secret="own-secret").telegram_webhook_key() \
        == "own-secret"


def test_without_a_configured_secret_the_telegram_webhook_still_refuses_strangers(client: FlaskClient,
                                                                                  app: Flask) -> None:
    for secret in (None, "", "guess"):
        answer = telegram(client, own_contact(ATTACKER_CHAT, VICTIM_PHONE), secret)
        assert answer.status_code == 401
        assert answer.json == {"error": {"code": "unauthorized",
                                         "message": "missing or wrong X-Telegram-Bot-Api-Secret-Token"}}
    assert services(app).store.contacts.find_by_phone(VICTIM_PHONE) is None
    assert telegram(client, own_contact(VICTIM_CHAT, VICTIM_PHONE), derived_secret()).status_code == 200
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.telegram_chat_id == VICTIM_CHAT and victim.phone_verified


def test_a_forged_kick_cannot_block_a_customer(client: FlaskClient, app: Flask) -> None:
    assert telegram(client, own_contact(VICTIM_CHAT, VICTIM_PHONE), derived_secret()).status_code == 200
    assert telegram(client, kicked(VICTIM_CHAT), None).status_code == 401
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.telegram_state is ChannelState.ACTIVE


def test_another_telegram_account_cannot_take_a_verified_phone_with_its_contact(client: FlaskClient,
                                                                              app: Flask) -> None:
    secret = derived_secret()
    assert telegram(client, own_contact(VICTIM_CHAT, VICTIM_PHONE), secret).status_code == 200
    # Even through the authenticated webhook: a contact card is no proof against a verified owner.
    assert telegram(client, own_contact(ATTACKER_CHAT, VICTIM_PHONE), secret).status_code == 200
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.telegram_chat_id == VICTIM_CHAT
    attacker = services(app).store.contacts.find_by_telegram_chat(ATTACKER_CHAT)
    assert attacker is not None and attacker.phone is None


def test_a_viber_contact_card_binds_only_as_the_answer_to_the_share_phone_keyboard(client: FlaskClient,
                                                                                 app: Flask) -> None:
    assert viber(client, viber_contact("picked-card=", "+380671112233", None)).status_code == 200
    assert services(app).store.contacts.find_by_phone("+380671112233") is None
    assert viber(client, viber_contact("own-button=", "+380671112233", SHARE_PHONE_TRACKING)).status_code == 200
    owner = services(app).store.contacts.find_by_phone("+380671112233")
    assert owner is not None and owner.viber_user_id == "own-button=" and owner.phone_verified


def test_a_viber_contact_never_rebinds_a_phone_verified_on_another_viber_account(client: FlaskClient,
                                                                                app: Flask) -> None:
    assert viber(client, viber_contact("victim=", VICTIM_PHONE, SHARE_PHONE_TRACKING)).status_code == 200
    answer = viber(client, viber_contact("attacker=", VICTIM_PHONE, SHARE_PHONE_TRACKING))
    assert answer.status_code == 200
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.viber_user_id == "victim="
    attacker = services(app).store.contacts.find_by_viber_user("attacker=")
    assert attacker is not None and attacker.phone is None


def test_a_card_picked_on_viber_does_not_join_a_customer_verified_on_telegram(client: FlaskClient,
                                                                            app: Flask) -> None:
    assert telegram(client, own_contact(VICTIM_CHAT, VICTIM_PHONE), derived_secret()).status_code == 200
    assert viber(client, viber_contact("attacker=", VICTIM_PHONE, None)).status_code == 200
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.viber_user_id is None and victim.telegram_chat_id == VICTIM_CHAT
    # The customer's own answer to the share-phone keyboard adds Viber to the same customer.
    assert viber(client, viber_contact("victim=", VICTIM_PHONE, SHARE_PHONE_TRACKING)).status_code == 200
    victim = services(app).store.contacts.find_by_phone(VICTIM_PHONE)
    assert victim is not None and victim.viber_user_id == "victim=" and victim.telegram_chat_id == VICTIM_CHAT
