"""``callback_url`` at the API, on a real SQLite database: non-public targets are a 400, never stored.

Nothing here connects anywhere: the API decides by the URL alone, and no worker runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.integration.apps import AppFactory, sqlite_apps

KEY = "callback-key-1234"
REFUSED = [
    "http://127.0.0.1:5201/sandbox/stats/reset", "http://localhost:8080/hook", "http://[::1]/hook",
    "http://0x7f000001/hook", "http://2130706433/hook", "http://127.1/hook", "http://0177.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://192.168.0.5/hook",
    "http://[fd00::5]/hook", "http://[fe80::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
    "http://[::]/hook", "http://224.0.0.1/hook", "http://[ff02::1]/hook", "http://240.0.0.1/hook",
    "https://shopuser:hunter2@shop.example.com/hook",
]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    monkeypatch.chdir(tmp_path)
    with sqlite_apps(tmp_path / "callbacks.sqlite3", internal_api_key=KEY) as make:
        yield make


def notify(client: FlaskClient, callback_url: str) -> tuple[int, dict[str, object]]:
    response = client.post("/v1/notifications", headers={"X-Internal-API-Key": KEY},
                           json={"phone": "+380501234567", "order_id": "ORD-1", "callback_url": callback_url})
    body: dict[str, object] = response.get_json()
    return response.status_code, body


@pytest.mark.parametrize("url", REFUSED)
def test_a_callback_url_on_a_non_public_address_or_with_credentials_is_a_400(url: str, make_app: AppFactory) -> None:
    status, body = notify(make_app().test_client(), url)
    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert (error["code"], error["field"]) == ("invalid_callback_url", "callback_url")
    assert "hunter2" not in error["message"] and "shopuser" not in error["message"]


def test_a_refused_callback_url_stores_nothing(make_app: AppFactory) -> None:
    app = make_app()
    assert notify(app.test_client(), "http://127.0.0.1:5201/sandbox/stats/reset")[0] == 400
    assert app.extensions["omnibot"].store.queue.depth() == (0, None)


def test_the_message_says_why_and_what_opens_it(make_app: AppFactory) -> None:
    _, body = notify(make_app().test_client(), "http://10.0.0.1/hook")
    assert body["error"] == {
        "code": "invalid_callback_url", "field": "callback_url",
        "message": "the callback host 10.0.0.1 is a private address; callbacks go to public addresses only "
                   "(CALLBACK_ALLOW_PRIVATE=true opens private networks)"}


def test_a_public_callback_url_is_accepted(make_app: AppFactory) -> None:
    assert notify(make_app().test_client(), "https://shop.example.com/omnibot/status")[0] == 202


def test_callback_allow_private_accepts_a_backend_on_loopback_but_not_the_metadata_service(
        make_app: AppFactory) -> None:
    client = make_app(callback_allow_private=True).test_client()
    assert notify(client, "http://127.0.0.1:9/callback")[0] == 202
    assert notify(client, "http://10.0.0.1/hook")[0] == 202
    assert notify(client, "http://169.254.169.254/latest/meta-data/")[0] == 400
