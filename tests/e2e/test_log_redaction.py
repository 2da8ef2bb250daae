"""Real `omnibot serve` (SQLite) and sandbox with LOG_FORMAT=json: a whole flow leaves no secret in the log.

Every line must be JSON, and no bot token, API key, webhook secret or full phone number may
appear in any of them; the request id of a `/v1` call follows its notification into the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import omnibot_sandbox as sandbox
from omnibot.entrypoints.dev import sandbox_environment
from tests.e2e.conftest import API_KEY, _omnibot, free_port, wait_until_up

WEBHOOK_SECRET = sandbox_environment(0)["TELEGRAM_WEBHOOK_SECRET"]


@dataclass
class LoggedStack:
    api: httpx.Client
    sandbox: httpx.Client
    processes: list[subprocess.Popen[bytes]]
    api_log: Path
    upgrade_log: Path

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)

    def act(self, customer: str, action: str, **body: object) -> None:
        answer = self.sandbox.post(f"/sandbox/customers/{customer}/{action}", json=body).json()
        assert answer.get("webhook_status") == 200, answer


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedStack]:
    workdir = tmp_path_factory.mktemp("e2e-logs")
    sandbox_port, api_port = free_port(), free_port()
    env = {**os.environ, **sandbox_environment(sandbox_port), "LOG_FORMAT": "json",
           "DATABASE_URL": f"sqlite:///{workdir / 'omnibot.sqlite3'}", "INTERNAL_API_KEY": API_KEY}
    upgrade_log, sandbox_log, api_log = workdir / "upgrade.log", workdir / "sandbox.log", workdir / "api.log"
    with upgrade_log.open("wb") as out:
        subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True, cwd=workdir,
                       stdout=out, stderr=subprocess.STDOUT)
    processes = [_omnibot(["sandbox", "--port", str(sandbox_port)], env, sandbox_log),
                 _omnibot(["serve", "--host", "127.0.0.1", "--port", str(api_port)], env, api_log)]
    stack = None
    try:
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/customers", processes[0], sandbox_log)
        wait_until_up(f"http://127.0.0.1:{api_port}/healthz", processes[1], api_log)
        subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks", "--url", f"http://127.0.0.1:{api_port}"],
                       env=env, check=True, cwd=workdir, capture_output=True)
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as api, \
                httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}", timeout=10) as sandbox_client:
            stack = LoggedStack(api, sandbox_client, processes, api_log, upgrade_log)
            yield stack
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def test_user_text_with_key_value_pairs_stays_inside_its_own_field(logged: LoggedStack) -> None:
    # Runs before the whole flow below, which stops the stack; lines are flushed one by one.
    order = f"ORD-{uuid.uuid4().hex[:6]} phone=+380991112233 level=ERROR"
    queued = logged.api.post("/v1/notifications", headers={"X-Internal-API-Key": API_KEY},
                             json={"phone": "+380501112233", "order_id": order})
    assert queued.status_code == 202
    assert logged.api.get("/zz%20phone=+380991112233%20user=root").status_code == 404

    accepted = _wait_for_line(logged.api_log, lambda line: line["event"] == "notification.accepted"
                              and line.get("id") == queued.json()["id"])
    assert set(accepted) == {"time", "level", "logger", "event", "id", "phone", "order", "request_id"}
    assert (accepted["level"], accepted["order"]) == ("INFO", order.replace("+380991112233", "+380*******33"))
    access = _wait_for_line(logged.api_log, lambda line: line["event"] == "http.access"
                            and str(line.get("path", "")).startswith("/zz"))
    assert set(access) == {"time", "level", "logger", "event", "method", "path", "status", "duration_ms", "remote",
                           "request_id"}
    assert (access["path"], access["status"]) == ("/zz phone=+380*******33 user=root", "404")


def test_a_whole_flow_logs_json_lines_without_secrets_and_follows_the_request_id(logged: LoggedStack) -> None:
    phone = f"+38050{uuid.uuid4().int % 10**7:07d}"
    order = f"ORD-{uuid.uuid4().hex[:8]}"
    key = {"X-Internal-API-Key": API_KEY}
    customer = logged.sandbox.post("/sandbox/customers", json={"name": "Olena", "phone": phone}).json()["id"]
    logged.act(customer, "open-link", url=f"https://t.me/{sandbox.SANDBOX_TELEGRAM_BOT_USERNAME}?start={order}")
    logged.act(customer, "telegram/share-contact")
    logged.act(customer, "open-link", url=f"viber://pa?chatURI={sandbox.SANDBOX_VIBER_BOT_URI}&context={order}")
    logged.act(customer, "viber/share-contact")

    triggered = logged.api.post("/trigger-notification", headers=key,
                                json={"phone": phone, "order_id": order, "items": ["Laptop"]})
    assert triggered.json()["status"] == "Sent via Telegram"
    queued = logged.api.post("/v1/notifications", headers=key,
                             json={"phone": phone, "order_id": order, "channels": ["viber"]})
    assert queued.status_code == 202
    request_id, notification_id = queued.headers["X-Request-ID"], queued.json()["id"]
    assert _wait_until_sent(logged.api, notification_id)["channel"] == "viber"
    national = "0" + phone[4:]
    assert logged.api.get(f"/v1/contacts/{national}", headers=key).status_code == 200
    assert logged.api.post("/v1/notifications", headers={"X-Internal-API-Key": "wrong-key-guess"},
                           json={"phone": phone}).status_code == 401
    assert logged.api.post("/webhook/telegram", json={"update_id": 1},
                           headers={"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"}).status_code == 401
    logged.stop()  # every line written and flushed

    text = logged.api_log.read_text()
    for secret in (sandbox.SANDBOX_TELEGRAM_TOKEN, sandbox.SANDBOX_TELEGRAM_TOKEN.split(":")[-1],
                   sandbox.SANDBOX_VIBER_TOKEN, API_KEY, WEBHOOK_SECRET, phone, phone[1:], national):
        assert secret not in text + logged.upgrade_log.read_text(), f"{secret[:3]}… is in the log"
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # the CLI's own output is not a log
    assert all({"time", "level", "logger", "event"} <= line.keys() for line in lines)

    of_request = [line for line in lines if line.get("request_id") == request_id]
    api_lines = {(line["logger"], line["event"]) for line in of_request}
    assert {("omnibot.services.notify", "notification.accepted"), ("gunicorn.access", "http.access")} <= api_lines
    assert any(line["event"] == "notification.sent" and line.get("id") == notification_id
               and line["logger"] == "omnibot.services.delivery" for line in of_request)
    rejected = [line for line in lines if line["event"] == "webhook.rejected"]
    assert rejected and rejected[0]["request_id"] != request_id
    # The start's configuration warnings are events too (the tests' API key is short on purpose).
    assert any(line["event"] == "config.warning" and line.get("variable") == "INTERNAL_API_KEY"
               and line["level"] == "WARNING" for line in lines)


def _wait_until_sent(api: httpx.Client, notification_id: str, seconds: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found: dict[str, object] = api.get(f"/v1/notifications/{notification_id}",
                                           headers={"X-Internal-API-Key": API_KEY}).json()
        if found["status"] == "sent":
            return found
        time.sleep(0.1)
    raise AssertionError(f"notification {notification_id} was not sent within {seconds} s")


def _wait_for_line(log: Path, wanted: Callable[[dict[str, object]], bool], seconds: float = 15) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for text in log.read_text().splitlines():
            if text.startswith("{") and wanted(line := json.loads(text)):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no such line in {log} within {seconds} s:\n{log.read_text()}")
