"""The bench's messenger sink answers Telegram's sendMessage after its latency and counts what it
answered; the bare sender and the load generator drive it. All on loopback, tiny sizes: the figures
are the bench's."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench import bare_sender, load, sink


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sink_url() -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    serving = loop.create_task(sink.serve("127.0.0.1", port, latency=0.05))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/sink/stats", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(serving.cancel)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def test_the_sink_answers_send_message_as_telegram_does_and_counts(sink_url: str) -> None:
    before = httpx.get(f"{sink_url}/sink/stats").json()["answered"]
    with httpx.Client(base_url=sink_url) as client:  # one kept-alive connection for all three
        answers = [client.post("/bot1:x/sendMessage", json={"chat_id": 1, "text": "Order ready"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    ids = [a.json()["result"]["message_id"] for a in answers]
    assert all(a.json()["ok"] is True for a in answers) and len(set(ids)) == 3
    assert httpx.get(f"{sink_url}/sink/stats").json()["answered"] == before + 3


def test_the_bare_sender_keeps_many_requests_in_flight(sink_url: str) -> None:
    before = httpx.get(f"{sink_url}/sink/stats").json()["answered"]
    asyncio.run(bare_sender.with_httpx(f"{sink_url}/bot1:x", count=40, in_flight=20))
    stats = httpx.get(f"{sink_url}/sink/stats").json()
    assert stats["answered"] == before + 40
    assert 1 < stats["most_in_flight"] <= 20  # held at once by the sink: concurrent, within the bound


def test_a_load_run_counts_the_answers_holding_a_string(sink_url: str, tmp_path: Path) -> None:
    url = f"{sink_url}/bot1:x/sendMessage"
    counted = load.run(url, "send_message", ["1", "10"], 2, 1, tmp_path, "with-message-id",
                       count_answers_with='"message_id"')
    assert counted.errors == 0 and counted.requests > 0
    assert counted.answers_matched == counted.requests  # every answer of the sink carries one
    absent = load.run(url, "send_message", ["1", "10"], 2, 1, tmp_path, "with-method", count_answers_with="sendMessage")
    assert absent.requests > 0 and absent.answers_matched == 0
    uncounted = load.run(url, "send_message", ["1", "10"], 2, 1, tmp_path, "uncounted")
    assert uncounted.requests > 0 and uncounted.answers_matched is None


def test_the_python_client_counts_answers_as_wrk_does(sink_url: str) -> None:
    make = load._PYTHON_SHAPES["send_message"](["1", "10"])
    counted = load._python(f"{sink_url}/bot1:x/sendMessage", make, 2, 0.5, '"message_id"')
    assert counted.requests > 0 and counted.answers_matched == counted.requests
    uncounted = load._python(f"{sink_url}/bot1:x/sendMessage", make, 2, 0.5, None)
    assert uncounted.answers_matched is None
