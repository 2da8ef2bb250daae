"""Hostile input against the real `omnibot serve` (SQLite, PostgreSQL; the sandbox behind it).

Property-based: hypothesis makes up bodies for every JSON endpoint and both webhooks (any JSON,
lone surrogates, NUL, deep nesting, huge and negative numbers, bytes that are not JSON, near-valid
bodies with one field gone wrong), authenticated so they reach the parsers. Whatever comes, the
answer is never a 5xx, a 4xx stores nothing, and a real customer is still served afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnibot.settings import Settings
from tests.e2e.conftest import API_KEY, Stack

pytestmark = pytest.mark.parametrize(
    "stack", ["sqlite-hostile", pytest.param("postgres-hostile", marks=pytest.mark.postgres)], indirect=True)

EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any character, lone surrogates and NUL included: json.dumps writes those as \ud800 and \u0000.
hostile_text = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "+380501234567", "0501234567", "ORD-1", "/start ORD-1", "", " " * 3])
hostile_number = st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
scalars = st.none() | st.booleans() | hostile_number | hostile_text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=12)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def near_valid(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` with one field replaced by anything, or removed, or one field added."""
    replaced = st.sampled_from(sorted(valid)).flatmap(
        lambda name: json_values.map(lambda value: {**valid, name: value}))
    removed = st.sampled_from(sorted(valid)).map(lambda name: {k: v for k, v in valid.items() if k != name})
    added = st.tuples(hostile_text, json_values).map(lambda pair: {**valid, pair[0]: pair[1]})
    return replaced | removed | added


def bodies(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    as_json = (near_valid(valid) | json_values).map(lambda value: json.dumps(value).encode())
    nested = st.integers(min_value=1, max_value=20_000).map(
        lambda depth: json.dumps(valid)[:-1].encode() + b', "x": ' + deep(depth).encode() + b"}")
    return as_json | nested | st.binary(max_size=64)


TELEGRAM_UPDATE = {"update_id": 1, "message": {
    "message_id": 1, "date": 0, "text": "/start ORD-1",
    "from": {"id": 5, "is_bot": False, "first_name": "Taras"}, "chat": {"id": 5, "type": "private"},
    "contact": {"phone_number": "+380501234567", "user_id": 5}}}
VIBER_CALLBACK = {"event": "message", "timestamp": 1, "message_token": 5,
                  "sender": {"id": "hostile=", "name": "Taras"},
                  "message": {"type": "contact", "contact": {"phone_number": "+380501234567"},
                              "tracking_data": "omnibot:share-phone"}}


def count_rows(stack: Stack, table: str) -> int:
    engine = sa.create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def post(stack: Stack, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    answer = stack.api.post(path, content=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code < 500, (path, body[:200], answer.status_code, answer.text[:500])
    if answer.status_code >= 400:
        error = answer.json()["error"]  # one JSON error shape, never a traceback
        assert set(error) <= {"code", "message", "field"} and error["code"] and error["message"]
    return answer


@pytest.mark.parametrize(("path", "valid", "table"), [
    ("/trigger-notification", {"phone": "+380501234567", "order_id": "ORD-1", "items": ["Laptop"]}, "notifications"),
    ("/v1/notifications", {"phone": "+380501234567", "order_id": "ORD-1", "items": ["Laptop"],
                           "channels": ["telegram"], "text": None}, "notifications"),
    ("/v1/links", {"phone": "+380501234567", "order_id": "ORD-1"}, "link_tokens"),
])
def test_api_endpoints_never_fail_and_store_nothing_they_refuse(stack: Stack, path: str, valid: dict[str, Any],
                                                               table: str) -> None:
    @EXAMPLES
    @given(body=bodies(valid))
    def probe(body: bytes) -> None:
        before = count_rows(stack, table)
        answer = post(stack, path, body, {"X-Internal-API-Key": API_KEY, "Idempotency-Key": uuid.uuid4().hex})
        if answer.status_code >= 400:
            assert count_rows(stack, table) == before, (body[:200], answer.text)

    probe()
    assert_still_delivers(stack)


def test_the_telegram_webhook_never_fails(stack: Stack) -> None:
    secret = Settings.from_env(telegram_bot_token=stack.env["TELEGRAM_BOT_TOKEN"],
                               telegram_webhook_secret=stack.env["TELEGRAM_WEBHOOK_SECRET"]).telegram_webhook_key()
    assert secret is not None

    @EXAMPLES
    @given(body=bodies(TELEGRAM_UPDATE) | near_valid(TELEGRAM_UPDATE["message"]).map(  # type: ignore[arg-type]
        lambda message: json.dumps({"update_id": 2, "message": message}).encode()))
    def probe(body: bytes) -> None:
        post(stack, "/webhook/telegram", body, {"X-Telegram-Bot-Api-Secret-Token": secret})

    probe()
    assert_still_delivers(stack)


def test_the_viber_webhook_never_fails(stack: Stack) -> None:
    token = stack.env["VIBER_AUTH_TOKEN"].encode()

    @EXAMPLES
    @given(body=bodies(VIBER_CALLBACK) | near_valid(VIBER_CALLBACK["message"]).map(  # type: ignore[arg-type]
        lambda message: json.dumps({**VIBER_CALLBACK, "message": message}).encode()))
    def probe(body: bytes) -> None:
        signature = hmac.new(token, body, hashlib.sha256).hexdigest()
        post(stack, "/webhook/viber", body, {"X-Viber-Content-Signature": signature})

    probe()
    assert_still_delivers(stack)


def test_ids_beyond_64_bits_are_refused_not_a_500(stack: Stack) -> None:
    secret = Settings.from_env(telegram_bot_token=stack.env["TELEGRAM_BOT_TOKEN"],
                               telegram_webhook_secret=stack.env["TELEGRAM_WEBHOOK_SECRET"]).telegram_webhook_key()
    assert secret is not None
    for where in ("update_id", "chat", "from", "contact"):
        update = json.loads(json.dumps(TELEGRAM_UPDATE))
        if where == "update_id":
            update["update_id"] = 2**70
        elif where == "contact":
            update["message"]["contact"]["user_id"] = -(2**64)
        else:
            update["message"][where]["id"] = 2**70
        answer = post(stack, "/webhook/telegram", json.dumps(update).encode(),
                      {"X-Telegram-Bot-Api-Secret-Token": secret})
        assert answer.status_code == 400, where
    callback = {**VIBER_CALLBACK, "event": "delivered", "user_id": "hostile=", "message_token": 2**64}
    body = json.dumps(callback).encode()
    signature = hmac.new(stack.env["VIBER_AUTH_TOKEN"].encode(), body, hashlib.sha256).hexdigest()
    assert post(stack, "/webhook/viber", body, {"X-Viber-Content-Signature": signature}).status_code == 400


def assert_still_delivers(stack: Stack) -> None:
    customer, phone = stack.customer()
    order = f"ORD-{uuid.uuid4().hex[:8]}"
    stack.act(customer, "open-link", url=f"https://t.me/{stack.env['TELEGRAM_BOT_USERNAME']}?start={order}")
    stack.act(customer, "telegram/share-contact")
    answer = stack.trigger(phone, order, ["Laptop"])
    assert answer.status_code == 200 and answer.json()["status"] == "Sent via Telegram"
