"""The sandbox's control API, and the sandbox served for real over HTTP."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omnibot_sandbox import SANDBOX_TELEGRAM_TOKEN, SANDBOX_VIBER_TOKEN, create_app
from tests.sandbox_helpers import SandboxClient, WebhookReceiver, webhook_receiver


@pytest.fixture
def webhook(sandbox: SandboxClient) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        sandbox.telegram("setWebhook", url=receiver.url)
        sandbox.viber("set_webhook", {"url": receiver.url})
        yield receiver


def test_create_a_customer_with_an_account_on_each_messenger(sandbox: SandboxClient) -> None:
    response = sandbox.http.post("/sandbox/customers", json={
        "name": "Olena Kovalenko", "phone": "+380 50 123-45-67", "language": "uk"})
    assert response.status_code == 201
    customer = response.get_json()
    assert customer["id"] == "c1"
    assert customer["phone"] == "+380501234567"
    assert customer["telegram"] == {"user_id": 100000001, "started": False, "blocked": False}
    assert customer["viber"]["subscribed"] is False and customer["viber"]["user_id"].endswith("=")
    second = sandbox.customer(name="Ivan", phone="+380671112233")
    assert second["id"] == "c2" and second["telegram"]["user_id"] == 100000002
    assert [c["id"] for c in sandbox.http.get("/sandbox/customers").get_json()] == ["c1", "c2"]
    assert sandbox.http.get("/sandbox/customers/c2").get_json() == second


@pytest.mark.parametrize(("body", "field"), [
    ({"phone": "+380501234567"}, "name"),
    ({"name": "A", "phone": "call me"}, "phone"),
    ({"name": "A", "phone": "+380501234567", "language": "Ukrainian"}, "language"),
    ({"name": "A", "phone": "+380501234567", "nickname": "x"}, "nickname"),
])
def test_invalid_customer_is_400_naming_the_field(sandbox: SandboxClient, body: dict[str, Any],
                                                   field: str) -> None:
    response = sandbox.http.post("/sandbox/customers", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_errors_are_json_never_html(sandbox: SandboxClient) -> None:
    sandbox.customer()
    duplicate = sandbox.http.post("/sandbox/customers", json={"name": "B", "phone": "+380501234567"})
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "phone_taken"
    malformed = sandbox.http.post("/sandbox/customers", data=b"{nope", content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "malformed_json"
    missing = sandbox.http.get("/sandbox/customers/c99")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "customer_not_found"
    no_route = sandbox.http.get("/sandbox/nothing-here")
    assert no_route.status_code == 404 and no_route.get_json()["error"]["code"] == "not_found"
    wrong_method = sandbox.http.put("/sandbox/customers")
    assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()


def test_delete_customer_makes_their_chat_unknown(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "telegram/start")
    assert sandbox.http.delete(f"/sandbox/customers/{customer['id']}").get_json() == {"deleted": "c1"}
    assert sandbox.http.get(f"/sandbox/customers/{customer['id']}").status_code == 404
    status, body = sandbox.telegram("sendMessage", chat_id=customer["telegram"]["user_id"], text="Hi")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


@pytest.mark.parametrize(("url", "code"), [
    ("https://t.me/someone_else_bot?start=ORD-1", "unsupported_link"),
    ("viber://pa?chatURI=otherbot&context=ORD-1", "unsupported_link"),
    ("https://example.com/?start=ORD-1", "unsupported_link"),
    ("https://t.me/omnibot_sandbox_bot?start=ORD 1!", "invalid_start_payload"),
    ("https://t.me/omnibot_sandbox_bot?start=" + "x" * 65, "invalid_start_payload"),
])
def test_links_to_other_bots_or_with_bad_payloads_are_refused(sandbox: SandboxClient, url: str,
                                                               code: str) -> None:
    customer = sandbox.customer()
    response = sandbox.http.post(f"/sandbox/customers/{customer['id']}/open-link", json={"url": url})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_actions_without_a_webhook_report_it(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    report = sandbox.act(customer["id"], "open-link", url="viber://pa?chatURI=omnibotsandbox&context=ORD-1")
    assert report["delivered"] is False and report["reason"] == "no webhook set"
    assert report["callback"]["event"] == "conversation_started"


def test_customers_cannot_write_before_starting_the_bot(sandbox: SandboxClient) -> None:
    customer = sandbox.customer()
    response = sandbox.http.post(f"/sandbox/customers/{customer['id']}/telegram/text", json={"text": "hi"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_started"


def test_messages_are_listed_per_channel(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    customer = sandbox.customer()
    sandbox.act(customer["id"], "telegram/start")
    sandbox.act(customer["id"], "viber/text", text="hi")
    sandbox.telegram("sendMessage", chat_id=customer["telegram"]["user_id"], text="Hello on Telegram")
    sandbox.viber("send_message", {"receiver": customer["viber"]["user_id"], "sender": {"name": "Shop"},
                                   "type": "text", "text": "Hello on Viber"})
    [telegram] = sandbox.messages(customer["id"], "telegram")
    [viber] = sandbox.messages(customer["id"], "viber")
    assert telegram["channel"] == "telegram" and telegram["text"] == "Hello on Telegram"
    assert telegram["at"].endswith("Z") and telegram["message_id"] >= 1
    assert viber["channel"] == "viber" and viber["text"] == "Hello on Viber"
    assert isinstance(viber["message_token"], int)
    both = sandbox.http.get(f"/sandbox/customers/{customer['id']}/messages").get_json()
    assert [m["channel"] for m in both] == ["telegram", "viber"]
    assert sandbox.http.get(f"/sandbox/customers/{customer['id']}/messages?channel=sms").status_code == 400


def test_request_log_counts_every_call_and_reset_forgets_everything(sandbox: SandboxClient,
                                                                  webhook: WebhookReceiver) -> None:
    sandbox.customer()
    sandbox.telegram("getMe")
    sandbox.telegram("getMe", token="1:wrong")
    log = sandbox.requests()
    methods = [(r["channel"], r["method"], r["ok"]) for r in log["requests"]]
    assert methods == [("telegram", "setWebhook", True), ("viber", "set_webhook", True),
                       ("telegram", "getMe", True), ("telegram", "getMe", False)]
    assert log["requests"][-1]["error_code"] == 401 and log["requests"][-1]["description"] == "Unauthorized"
    assert log["counters"]["total"] == 4
    assert log["counters"]["telegram"]["by_method"]["getMe"] == {"ok": 1, "failed": 1}
    assert sandbox.http.post("/sandbox/reset").get_json() == {"reset": True}
    assert sandbox.http.get("/sandbox/customers").get_json() == []
    assert sandbox.requests()["requests"] == []
    assert sandbox.telegram("getWebhookInfo")[1]["result"]["url"] == ""
    assert sandbox.customer()["id"] == "c1"


def test_concurrent_customers_get_distinct_ids() -> None:
    app = create_app()
    ids: list[str] = []

    def create(n: int) -> None:
        response = app.test_client().post("/sandbox/customers",
                                          json={"name": f"Customer {n}", "phone": f"+3805000{n:05d}"})
        ids.append(response.get_json()["id"])

    threads = [threading.Thread(target=create, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_served_over_http_a_bot_can_reply_from_inside_its_webhook() -> None:
    """The real server, as ``omnibot sandbox`` runs it: the bot calls back while the update is open."""
    port = _free_port()
    env = {**os.environ, "SANDBOX_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "omnibot_sandbox.cli"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        assert f"listening on http://127.0.0.1:{port}" in process.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as http, webhook_receiver() as bot:
            def reply(received: Any) -> tuple[int, Any]:
                update = received.json()
                chat_id = update["message"]["chat"]["id"]
                sent = http.post(f"/bot{SANDBOX_TELEGRAM_TOKEN}/sendMessage",
                                 json={"chat_id": chat_id, "text": f"Got {update['message']['text']}"})
                return 200, {"sent": sent.json()["ok"]}

            bot.reply = reply
            assert http.post(f"/bot{SANDBOX_TELEGRAM_TOKEN}/setWebhook", data={"url": bot.url}).json()["ok"]
            viber = http.post("/pa/get_account_info", json={"auth_token": SANDBOX_VIBER_TOKEN}).json()
            assert viber["status"] == 0
            customer = http.post("/sandbox/customers",
                                 json={"name": "Olena", "phone": "+380501234567"}).json()
            report = http.post(f"/sandbox/customers/{customer['id']}/open-link",
                               json={"url": "https://t.me/omnibot_sandbox_bot?start=ORD-1"}).json()
            assert report["webhook_response"] == {"sent": True}
            messages = http.get(f"/sandbox/customers/{customer['id']}/messages").json()
            assert [m["text"] for m in messages] == ["Got /start ORD-1"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_served_sandbox_keeps_connections_alive_and_logs_requests_without_the_token() -> None:
    """gunicorn, one worker: answers reuse the connection; ``--access-log`` hides the token; SIGINT exits 0."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "omnibot_sandbox.cli", "--port", str(port),
                                "--threads", "4", "--access-log"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        assert f"listening on http://127.0.0.1:{port}" in process.stdout.readline()
        get_me = f"/bot{SANDBOX_TELEGRAM_TOKEN}/getMe"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        answers: list[tuple[int, str | None]] = []
        sockets: list[Any] = []
        for method, path in (("POST", get_me), ("GET", "/sandbox/customers"), ("POST", get_me)):
            connection.request(method, path)
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection")))
            response.read()
            sockets.append(connection.sock)
        connection.close()
        assert answers == [(200, "keep-alive")] * 3
        assert all(sock is sockets[0] for sock in sockets)  # http.client reconnects only if the server closes
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        log = process.stdout.read()
        assert '"POST /bot<token>/getMe HTTP/1.1" 200' in log and '"GET /sandbox/customers HTTP/1.1" 200' in log
        assert SANDBOX_TELEGRAM_TOKEN.split(":")[1] not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
