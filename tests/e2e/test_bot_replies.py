"""The bot's replies off the request path: in the webhook's answer, or through the reply outbox, never lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from omnibot.entrypoints.dev import sandbox_environment
from omnibot.entrypoints.http.api.responses import TelegramAnswer
from tests.conftest import PostgresServer
from tests.e2e.conftest import API_KEY, Stack, free_port, wait_until_up

HEADERS = {"X-Internal-API-Key": API_KEY}


def _wait_for(found: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"nothing after {seconds} s")


def test_telegram_replies_ride_in_the_webhook_answer(stack: Stack) -> None:
    customer, phone = stack.customer()
    link = stack.api.post("/v1/links", headers=HEADERS, json={"phone": phone}).json()
    answer = stack.act(customer, "open-link", url=link["telegram_url"])
    carried = answer["webhook_response"]
    assert isinstance(carried, dict) and carried["method"] == "sendMessage"
    TelegramAnswer.model_validate(carried)  # as the API document declares it
    [reply] = stack.messages(customer, "telegram")
    assert reply["via"] == "webhook_response" and f"+380*******{phone[-2:]}" in str(reply["text"])


def test_viber_replies_go_through_the_outbox_and_arrive(stack: Stack) -> None:
    customer, _ = stack.customer()
    stack.act(customer, "viber/open")  # the welcome rides in the answer to conversation_started
    assert [m["via"] for m in stack.messages(customer, "viber")] == ["webhook_response"]
    stack.act(customer, "viber/share-contact")
    replies = _wait_for(lambda: stack.messages(customer, "viber")[1:])
    assert [m["via"] for m in replies] == ["api"]


def test_a_reply_queued_before_the_api_dies_is_sent_by_a_worker_started_later(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    database = postgres_server.create_database()
    sandbox_port, api_port = free_port(), free_port()
    env = {**os.environ, **sandbox_environment(sandbox_port), "DATABASE_URL": database,
           "INTERNAL_API_KEY": API_KEY}
    subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True, cwd=tmp_path,
                   capture_output=True)
    logs = {name: (tmp_path / f"{name}.log").open("ab") for name in ("sandbox", "api", "worker")}
    started = [subprocess.Popen([sys.executable, "-m", "omnibot", "sandbox", "--port", str(sandbox_port)], env=env,
                                stdout=logs["sandbox"], stderr=subprocess.STDOUT)]
    try:
        api = subprocess.Popen([sys.executable, "-m", "omnibot", "serve", "--host", "127.0.0.1", "--port",
                                str(api_port)], env=env, stdout=logs["api"], stderr=subprocess.STDOUT)
        started.append(api)
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/customers", started[0], tmp_path / "sandbox.log")
        wait_until_up(f"http://127.0.0.1:{api_port}/healthz", api, tmp_path / "api.log")
        subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks", "--url", f"http://127.0.0.1:{api_port}"],
                       env=env, check=True, cwd=tmp_path, capture_output=True)
        with httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}", timeout=10) as sandbox:
            customer = sandbox.post("/sandbox/customers", json={"name": "Olena", "phone": "+380501110022",
                                                                "language": "uk"}).json()["id"]
            assert sandbox.post(f"/sandbox/customers/{customer}/viber/open", json={}).json()["webhook_status"] == 200
            answered = sandbox.post(f"/sandbox/customers/{customer}/viber/text", json={"text": "hi"}).json()
            assert answered["webhook_status"] == 200
            # Answered, then gone before any worker ran: the reply waits in the database.
            api.send_signal(signal.SIGKILL)
            api.wait(10)
            with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
                assert connection.execute("SELECT count(*) FROM bot_replies").fetchone() == (1,)
            assert len(sandbox.get(f"/sandbox/customers/{customer}/messages", params={"channel": "viber"}).json()) == 1
            started.append(subprocess.Popen([sys.executable, "-m", "omnibot", "worker"], env=env,
                                            stdout=logs["worker"], stderr=subprocess.STDOUT))
            replies = _wait_for(lambda: sandbox.get(f"/sandbox/customers/{customer}/messages",
                                                    params={"channel": "viber"}).json()[1:], seconds=20)
            assert len(replies) == 1
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            process.wait(timeout=30)
        for handle in logs.values():
            handle.close()
