"""NUL characters, valid in JSON but refused by PostgreSQL's text columns: a 400 naming the field, never a 500."""

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
