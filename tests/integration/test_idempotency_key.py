"""`Idempotency-Key`: 1-255 visible ASCII characters, or a 400 naming the header; the document says the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jsonschema_rs
import pytest
from flask.testing import FlaskClient

from omnibot.entrypoints.http.api.operations import document
from tests.integration.apps import sqlite_apps

KEY = "idem-key"
BODY = {"phone": "+380501234567", "order_id": "ORD-1"}
CYRILLIC = "замовлення-1"
# What WSGI hands the app when a client sends the key as UTF-8: its bytes read as Latin-1.
CYRILLIC_ON_THE_WIRE = CYRILLIC.encode().decode("latin-1")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    with sqlite_apps(tmp_path / "idem.sqlite3", internal_api_key=KEY) as make:
        yield make().test_client()


def create(client: FlaskClient, key: str) -> tuple[int, dict[str, object]]:
    answer = client.post("/v1/notifications", json=BODY, headers={"X-Internal-API-Key": KEY, "Idempotency-Key": key})
    return answer.status_code, answer.json  # type: ignore[return-value]


@pytest.mark.parametrize("key", ["clé", CYRILLIC, CYRILLIC_ON_THE_WIRE, "k" * 256, "", " order-1", "tab\tbed"],
                         ids=["latin-1", "cyrillic", "cyrillic-as-wsgi-gives-it", "256-chars", "empty",
                              "leading-space", "control-character"])
def test_a_key_beyond_visible_ascii_or_255_characters_is_400_naming_the_header(client: FlaskClient,
                                                                              key: str) -> None:
    status, body = create(client, key)

    assert status == 400
    assert body == {"error": {"code": "invalid_header", "field": "Idempotency-Key",
                              "message": "Idempotency-Key must be 1-255 visible ASCII characters "
                                         "(spaces only between them)"}}


@pytest.mark.parametrize("key", ["order-ORD-1234-ready", "a", "k" * 255, "shop 7: order #12 {ready}/~"])
def test_a_visible_ascii_key_is_taken_and_replayed(client: FlaskClient, key: str) -> None:
    first, created = create(client, key)
    again, replayed = create(client, key)

    assert (first, again) == (202, 200)
    assert replayed["id"] == created["id"]


@pytest.mark.parametrize("key", ["clé", CYRILLIC, CYRILLIC_ON_THE_WIRE, "k" * 256, " order-1", "order-1 ",
                                 "order-ORD-1234-ready", "a", "k" * 255, "shop 7: order #12 {ready}/~"])
def test_the_documented_pattern_takes_the_keys_the_server_takes(client: FlaskClient, key: str) -> None:
    parameters = document(client.application)["paths"]["/v1/notifications"]["post"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == "Idempotency-Key")

    status, _ = create(client, key)
    assert jsonschema_rs.validator_for(schema).is_valid(key) == (status == 202)
