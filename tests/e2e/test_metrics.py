"""`/metrics` of the real `omnibot serve` on PostgreSQL (several gunicorn processes), and of a worker."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import API_KEY, Stack, free_port

pytestmark = pytest.mark.parametrize("stack", ["postgres"], indirect=True)


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scrape(url: str) -> str:
    # A new connection each time, so that gunicorn's processes take turns answering.
    response = httpx.get(url, headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200
    return response.text


def test_every_process_of_the_api_answers_the_sums_of_all(stack: Stack) -> None:
    base = str(stack.api.base_url).rstrip("/")
    url = f"{base}/metrics"
    accepted = 'omnibot_notifications_accepted_total{api="trigger"}'
    before = sample(scrape(url), accepted)
    for _ in range(6):
        answer = httpx.post(f"{base}/trigger-notification", timeout=10,
                            headers={"X-Internal-API-Key": API_KEY, "Connection": "close"},
                            json={"phone": "+380931112233", "order_id": "NOBODY"})
        assert answer.json()["status"] == "Failed: User not found"
    scrapes = [scrape(url) for _ in range(10)]
    assert {sample(text, accepted) for text in scrapes} == {before + 6}
    assert all("omnibot_queue_depth " in text and "omnibot_viber_messages_this_month " in text for text in scrapes)


def test_a_worker_serves_its_own_metrics_on_request(stack: Stack) -> None:
    port = free_port()
    worker = subprocess.Popen([sys.executable, "-m", "omnibot", "worker", "--metrics-port", str(port)],
                              env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = scrape(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and worker.poll() is None, "the worker never served /metrics"
                time.sleep(0.2)
        assert "# TYPE omnibot_delivery_attempts_total counter" in text
        assert "omnibot_queue_depth" not in text  # the API's, read from the database
    finally:
        worker.terminate()
        worker.wait(timeout=30)
