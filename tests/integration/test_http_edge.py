"""The HTTP edge on a real SQLite database: authentication, validation, webhook checks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tests.integration.apps import sqlite_apps

KEY = "edge-key"
VIBER_TOKEN = "edge-viber-token"


@pytest.fixture
def client(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    monkeypatch.chdir(tmp_path)
    # Nothing listens at the messengers' URLs: these tests never get as far as sending.
    with sqlite_apps(tmp_path / "edge.sqlite3", internal_api_key=f"old-key,{KEY}", viber_auth_token=VIBER_TOKEN,
                     viber_api_url="http://127.0.0.1:9/pa", telegram_webhook_secret="hook-secret") as make, \
            make().test_client() as test_client:
        yield test_client


def trigger(client: FlaskClient, body: object, key: str | None = KEY):
    headers = {"X-Internal-API-Key": key} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/trigger-notification", data=data, headers=headers,
                       content_type="application/json")


def test_missing_and_wrong_keys_are_401_json(client: FlaskClient) -> None:
    for key in (None, "nope"):
        response = trigger(client, {"phone": "+380501234567"}, key)
        assert response.status_code == 401
        assert response.json == {"error": {"code": "unauthorized",
                                           "message": "missing or wrong X-Internal-API-Key header"}}


def test_every_configured_key_works_during_a_rotation(client: FlaskClient) -> None:
    for key in ("old-key", KEY):
        response = trigger(client, {"phone": "+380501234567", "order_id": "ORD-1"}, key)
        assert response.json is not None and response.json["status"] == "Failed: User not found"


@pytest.mark.parametrize(("body", "code", "field"), [
    (b"{not json", "malformed_json", None),
    (b"", "malformed_json", None),
    (b"[1, 2]", "malformed_json", None),
    ({"order_id": "ORD-1"}, "missing_field", "phone"),
    ({"phone": 380501234567}, "invalid_field", "phone"),
    ({"phone": "+380501234567", "items": "Laptop"}, "invalid_field", "items"),
    ({"phone": "+380501234567", "items": ["ok", 5]}, "invalid_field", "items[1]"),
    ({"phone": "+380501234567", "order_id": 17}, "invalid_field", "order_id"),
    ({"phone": "not a number"}, "invalid_phone", "phone"),
])
def test_bad_trigger_bodies_are_400_naming_the_field(
    client: FlaskClient, body: object, code: str, field: str | None
) -> None:
    response = trigger(client, body)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"]["code"] == code
    assert response.json["error"].get("field") == field


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong_method = client.get("/trigger-notification")
    assert wrong_method.status_code == 405 and wrong_method.json["error"]["code"] == "method_not_allowed"


def test_oversized_bodies_are_413_json(client: FlaskClient) -> None:
    response = trigger(client, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.json["error"]["code"] == "request_entity_too_large"


def test_telegram_webhook_without_the_secret_is_refused(client: FlaskClient) -> None:
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},
                                          "from": {"id": 5, "first_name": "A"}, "text": "/start X"}}
    assert client.post("/webhook/telegram", json=update).status_code == 401
    wrong = client.post("/webhook/telegram", json=update,
                        headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
    assert wrong.status_code == 401


def test_viber_webhook_checks_the_signature_before_reading(client: FlaskClient) -> None:
    body = json.dumps({"event": "webhook", "timestamp": 1, "message_token": 1}).encode()
    unsigned = client.post("/webhook/viber", data=body, content_type="application/json")
    assert unsigned.status_code == 403
    forged = client.post("/webhook/viber", data=body, content_type="application/json",
                         headers={"X-Viber-Content-Signature": "00" * 32})
    assert forged.status_code == 403
    signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    signed = client.post("/webhook/viber", data=body, content_type="application/json",
                         headers={"X-Viber-Content-Signature": signature})
    assert signed.status_code == 200


def test_malformed_webhook_bodies_are_400(client: FlaskClient) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
    assert client.post("/webhook/telegram", data=b"{", headers=headers,
                       content_type="application/json").status_code == 400
    no_update_id = client.post("/webhook/telegram", json={"message": {}}, headers=headers)
    assert no_update_id.status_code == 400 and no_update_id.json["error"]["field"] == "update_id"


def test_probes(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok", "database": "ok"}
