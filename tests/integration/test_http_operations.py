"""The HTTP edge for operators, on a real SQLite database: request ids, /metrics, body limit, proxies."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from omnibot import logging_setup
from omnibot.settings import Settings
from tests.integration.apps import AppFactory, sqlite_apps

KEY = "ops-key-1234"


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    monkeypatch.chdir(tmp_path)
    with sqlite_apps(tmp_path / "ops.sqlite3", internal_api_key=KEY, telegram_webhook_secret="hook-secret") as make:
        yield make


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()


def test_every_answer_echoes_the_callers_request_id_or_a_new_one(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "shop-7f3a"}).headers["X-Request-ID"] == "shop-7f3a"
    unauthorized = client.post("/v1/notifications", json={}, headers={"X-Request-ID": "shop-401"})
    assert unauthorized.status_code == 401 and unauthorized.headers["X-Request-ID"] == "shop-401"
    generated = client.get("/nope").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != client.get("/nope").headers["X-Request-ID"]
    forged = client.get("/healthz", headers={"X-Request-ID": "a\" injected=1"}).headers["X-Request-ID"]
    assert forged != "a\" injected=1"


def test_the_request_id_is_in_every_log_line_of_the_request_and_on_the_notification(client: FlaskClient) -> None:
    out = io.StringIO()
    logging_setup.configure(Settings.from_env(log_format="json"), stream=out)
    try:
        created = client.post("/v1/notifications", json={"phone": "+380501234567", "order_id": "ORD-1"},
                              headers={"X-Internal-API-Key": KEY, "X-Request-ID": "shop-req-1"})
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "omnibot"]:
            root.removeHandler(handler)
        logging.captureWarnings(False)
    assert created.status_code == 202
    accepted = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in accepted] == ["notification.accepted"]
    assert accepted[0]["request_id"] == "shop-req-1" and accepted[0]["phone"] == "+380*******67"


def test_metrics_need_no_key_and_speak_prometheus(client: FlaskClient) -> None:
    client.post("/trigger-notification", json={"phone": "+380501234567", "order_id": "ORD-1"},
                headers={"X-Internal-API-Key": KEY})
    client.post("/webhook/telegram", json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    for line in ('omnibot_notifications_accepted_total{api="trigger"} 1.0',
                 'omnibot_notifications_failed_total{reason="Failed: User not found"} 1.0',
                 'omnibot_webhook_updates_total{channel="telegram",kind="rejected"} 1.0',
                 "omnibot_queue_depth 0.0", "omnibot_queue_oldest_age_seconds 0.0",
                 "omnibot_viber_messages_this_month 0.0", "omnibot_database_up 1.0"):
        assert line in text


def test_the_body_limit_is_max_body_bytes(make_app: AppFactory) -> None:
    client = make_app(max_body_bytes=2048).test_client()
    headers = {"X-Internal-API-Key": KEY, "Content-Type": "application/json"}
    small = json.dumps({"phone": "+380501234567", "order_id": "ORD-1", "items": ["x" * 1500]})
    assert client.post("/trigger-notification", data=small, headers=headers).status_code == 200
    large = json.dumps({"phone": "+380501234567", "order_id": "ORD-1", "items": ["x" * 2100]})
    too_large = client.post("/trigger-notification", data=large, headers=headers)
    assert too_large.status_code == 413 and too_large.json["error"]["code"] == "request_entity_too_large"


def _remote_addr_route(app: Flask) -> FlaskClient:
    app.add_url_rule("/_test/remote", "remote", lambda: {"addr": request.remote_addr, "scheme": request.scheme})
    return app.test_client()


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app: AppFactory) -> None:
    client = _remote_addr_route(make_app())
    answer = client.get("/_test/remote", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert answer.json == {"addr": "127.0.0.1", "scheme": "http"}


def test_one_trusted_proxy_believes_only_the_last_hop(make_app: AppFactory) -> None:
    client = _remote_addr_route(make_app(trusted_proxy_count=1))
    answer = client.get("/_test/remote", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9",
                                                  "X-Forwarded-Proto": "https"})
    assert answer.json == {"addr": "203.0.113.9", "scheme": "https"}
