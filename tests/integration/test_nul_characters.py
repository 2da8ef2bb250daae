"""Text that is valid JSON but not storable text: NUL characters, which PostgreSQL's text columns
refuse, and lone surrogates, which no encoder takes. A 400 naming the field before anything is
stored, never a 500; a webhook takes the update with the character replaced. Deep nesting: a 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.conftest import SQL_BACKENDS
from tests.integration.apps import apps

KEY = "nul-key"
HEADERS = {"X-Internal-API-Key": KEY}


@pytest.fixture(params=SQL_BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlaskClient]:
    url = (request.getfixturevalue("postgres_server").create_database() if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'nul.sqlite3'}")
    with apps(url, internal_api_key=KEY, telegram_webhook_secret="hook-secret") as make:
        yield make().test_client()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/trigger-notification", {"phone": "+380501234567", "order_id": "ORD\u00001", "items": []}, "order_id"),
    ("/v1/notifications", {"phone": "+380501234567", "items": ["Tea", "Mu\u0000g"]}, "items[1]"),
    ("/v1/notifications", {"phone": "+380501234567", "text": "hi\u0000"}, "text"),
    ("/v1/links", {"phone": "+380501234567", "order_id": "\u0000"}, "order_id"),
])
def test_api_bodies_with_nul_are_400_naming_the_field(client: FlaskClient, path: str, body: object,
                                                      field: str) -> None:
    answer = client.post(path, headers=HEADERS, json=body)
    assert answer.status_code == 400
    assert answer.json == {"error": {"code": "invalid_character", "field": field,
                                     "message": "text may not contain the NUL character (\\u0000)"}}


SURROGATE = "text must be valid Unicode: a lone UTF-16 surrogate (\\ud800-\\udfff) is not a character"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/trigger-notification", '{"phone": "+380501234567", "order_id": "ORD-1", "items": ["\\ud800"]}', "items[0]"),
    ("/v1/notifications", '{"phone": "+380501234567", "text": "hi \\udfff there"}', "text"),
    ("/v1/notifications", '{"phone": "+380501234567", "order_id": "1", "metadata\\ud83d": 1}', "metadata\ufffd"),
    ("/v1/links", '{"phone": "+380501234567", "order_id": "\\ude00\\ud83d"}', "order_id"),
])
def test_api_bodies_with_a_lone_surrogate_are_400_naming_the_field_and_store_nothing(
        client: FlaskClient, path: str, body: str, field: str) -> None:
    answer = client.post(path, headers=HEADERS, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json == {"error": {"code": "invalid_character", "field": field, "message": SURROGATE}}
    assert client.application.extensions["omnibot"].store.queue.depth() == (0, None)  # nothing stored


def test_a_surrogate_pair_is_one_character_and_welcome(client: FlaskClient) -> None:
    answer = client.post("/v1/notifications", headers=HEADERS, content_type="application/json",
                         data='{"phone": "+380501234567", "order_id": "ORD-1", "items": ["Gift \\ud83c\\udf81"]}')
    assert answer.status_code == 202


@pytest.mark.parametrize("path", ["/trigger-notification", "/v1/notifications", "/v1/links"])
def test_json_nested_ten_thousand_deep_is_a_400(client: FlaskClient, path: str) -> None:
    for depth in (10_000, 40):
        body = '{"phone": "+380501234567", "order_id": "1", "items": ' + "[" * depth + "]" * depth + "}"
        answer = client.post(path, headers=HEADERS, data=body, content_type="application/json")
        assert answer.status_code == 400
        assert answer.json == {"error": {"code": "malformed_json",
                                         "message": "request body is nested more than 32 levels deep"}}


def test_ids_and_keys_with_nul_are_404_and_400(client: FlaskClient) -> None:
    assert client.get("/v1/notifications/%00x", headers=HEADERS).status_code == 404
    answer = client.post("/v1/notifications", headers={**HEADERS, "Idempotency-Key": "a\x00b"},
                         json={"phone": "+380501234567", "order_id": "ORD-1"})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_header"  # type: ignore[index]


def test_a_webhook_update_with_nul_is_taken_without_it(client: FlaskClient) -> None:
    update = {"update_id": 7, "message": {
        "message_id": 1, "date": 0, "text": "/start ORD\u0000-9",
        "from": {"id": 5, "is_bot": False, "first_name": "Ta\u0000ras"},
        "chat": {"id": 5, "type": "private", "first_name": "Ta\u0000ras"}}}
    answer = client.post("/webhook/telegram", data=json.dumps(update),
                         headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret",
                                  "Content-Type": "application/json"})
    assert answer.status_code == 200  # the welcome could not be sent (nothing listens): logged, not retried


def test_webhook_updates_nested_too_deep_or_with_lone_surrogates_never_answer_500(client: FlaskClient) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret", "Content-Type": "application/json"}
    deep = '{"update_id": 8, "message": ' + "[" * 10_000 + "]" * 10_000 + "}"
    answer = client.post("/webhook/telegram", data=deep, headers=headers)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "malformed_json"  # type: ignore[index]
    surrogate = ('{"update_id": 9, "message": {"message_id": 1, "date": 0, "text": "/start \\ud800",'
                 ' "from": {"id": 5, "is_bot": false, "first_name": "\\udc00"}, "chat": {"id": 5, "type": "private"}}}')
    assert client.post("/webhook/telegram", data=surrogate, headers=headers).status_code == 200
