"""omnibot on two machines, as the README's "Backups and several machines" runs it.

Each machine runs `omnibot serve` and `omnibot worker` with its own metrics directory; both share one
PostgreSQL database and one Redis. Every notification must reach its customer exactly once, whichever
API accepted it and whichever worker sent it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.entrypoints.dev import sandbox_environment
from tests.conftest import PostgresServer
from tests.e2e.conftest import API_KEY, REDIS_URL, Stack, _omnibot, free_port, require_redis, wait_until_up
from tests.e2e.engine_stack import notification_statuses, wait_until
from tests.e2e.test_seed_flow import TELEGRAM_LINK

pytestmark = pytest.mark.postgres

HEADERS = {"X-Internal-API-Key": API_KEY}
CUSTOMERS = 40
NOTIFICATIONS = 2 * CUSTOMERS
# Its own database index on the tests' Redis: omnibot's bucket keys are fixed, and the sandbox's chat
# ids repeat from one sandbox to the next, so buckets left by another test would only slow this one.
SHARED_REDIS_URL = urlsplit(REDIS_URL)._replace(path="/5").geturl()


@dataclass
class Machines:
    """Two machines' processes on one database: `stack.api` is machine A's API, which gets the webhooks."""

    stack: Stack
    apis: list[httpx.Client]
    worker_logs: list[Path]
    database: sa.Engine
    workdir: Path

    def statuses(self) -> dict[str, int]:
        return notification_statuses(self.database)

    def wait_for(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        wait_until(condition, seconds, what, self.database, self.workdir)


def log_events(log: Path, event: str) -> list[dict[str, str]]:
    """The JSON log lines of ``event`` in a process's log (the CLI's own notes are not JSON).

    Only whole lines: the process may be writing the last one as we read.
    """
    lines = (line for line in log.read_text().splitlines(keepends=True) if line.startswith("{") and line.endswith("\n"))
    return [fields for fields in map(json.loads, lines) if fields.get("event") == event]


@pytest.fixture
def machines(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Machines]:
    require_redis(SHARED_REDIS_URL)
    sandbox_port = free_port()
    # One environment file for every machine, as the README asks; only the metrics directory is each one's.
    shared = {**sandbox_environment(sandbox_port), "DATABASE_URL": postgres_server.create_database(),
              "REDIS_URL": SHARED_REDIS_URL, "INTERNAL_API_KEY": API_KEY,
              # Few sends in flight per worker, so that neither can take the whole queue at once.
              "WORKER_CONCURRENCY": "4"}
    env = {**os.environ, **shared}
    subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True,
                   cwd=tmp_path, capture_output=True)
    sandbox_log = tmp_path / "sandbox.log"
    # A messenger that takes 50 ms a message keeps each worker's few slots busy.
    processes = [_omnibot(["sandbox", "--port", str(sandbox_port), "--latency-ms", "50"], env, sandbox_log)]
    api_ports, worker_logs = [], []
    for machine in ("a", "b"):
        machine_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics-{machine}")}
        api_ports.append(free_port())
        processes.append(_omnibot(["serve", "--host", "127.0.0.1", "--port", str(api_ports[-1]), "--workers", "2"],
                                  machine_env, tmp_path / f"api-{machine}.log"))
        worker_logs.append(tmp_path / f"worker-{machine}.log")
        processes.append(_omnibot(["worker"], env, worker_logs[-1]))  # the metrics directory is serve's alone
    database = make_engine(database_url(shared["DATABASE_URL"]))
    clients: list[httpx.Client] = []
    try:
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/customers", processes[0], sandbox_log)
        for index, (machine, port) in enumerate(zip("ab", api_ports, strict=True)):
            wait_until_up(f"http://127.0.0.1:{port}/healthz", processes[1 + 2 * index], tmp_path / f"api-{machine}.log")
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))
        # Once, for all machines: the messengers know one webhook URL (a load balancer's, in production).
        subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks", "--url", f"http://127.0.0.1:{api_ports[0]}"],
                       env=env, check=True, cwd=tmp_path, capture_output=True)
        sandbox = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}", timeout=10)
        clients.append(sandbox)
        found = Machines(Stack(clients[0], sandbox, env, [sandbox_log]), clients[:2], worker_logs, database, tmp_path)
        # Both workers listen before the first notification, so that both can take part.
        found.wait_for(lambda: all(log_events(log, "worker.started") for log in worker_logs), 30, "both workers")
        yield found
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        database.dispose()


def link_customers(machines: Machines) -> list[tuple[str, str]]:
    """Customers linked on Telegram, half through an order link and their shared phone (the webhooks reach
    machine A), half through a signed link that machine B made and machine A checks."""
    stack, machine_b = machines.stack, machines.apis[1]

    def link(index: int) -> tuple[str, str]:
        customer, phone = stack.customer(name=f"Customer {index}")
        if index % 2:
            made = machine_b.post("/v1/links", headers=HEADERS, json={"phone": phone, "order_id": f"LINK-{index}"})
            assert made.status_code == 201, made.text
            stack.act(customer, "open-link", url=made.json()["telegram_url"])
        else:
            stack.act(customer, "open-link", url=TELEGRAM_LINK.format(order=f"LINK-{index}"))
            stack.act(customer, "telegram/share-contact")
        return customer, phone

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(link, range(CUSTOMERS)))


def test_two_machines_deliver_every_notification_exactly_once(machines: Machines) -> None:
    customers = link_customers(machines)
    orders = {f"SM-{i:03d}": customers[i % CUSTOMERS] for i in range(NOTIFICATIONS)}
    submissions = [(machines.apis[i % 2], order) for i, order in enumerate(orders)]
    # Every fifth key again at the other machine: at the same time as the first request or after it.
    repeats = [(machines.apis[(i + 1) % 2], order) for i, order in enumerate(orders) if i % 5 == 0]

    def submit(target: tuple[httpx.Client, str]) -> tuple[str, httpx.Response]:
        api, order = target
        body = {"phone": orders[order][1], "order_id": order, "items": ["Laptop"]}
        return order, api.post("/v1/notifications", json=body, headers={**HEADERS, "Idempotency-Key": f"key-{order}"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(submit, submissions + repeats))

    ids: dict[str, str] = {}
    for order in orders:
        mine = [answer for key, answer in answers if key == order]
        assert sorted(answer.status_code for answer in mine) == [200] * (len(mine) - 1) + [202], order
        assert all(answer.headers.get("Idempotent-Replayed") == "true"
                   for answer in mine if answer.status_code == 200), order
        [ids[order]] = {answer.json()["id"] for answer in mine}

    machines.wait_for(lambda: machines.statuses() == {"sent": NOTIFICATIONS}, 120, "every notification sent")

    for customer, phone in customers:
        texts = [str(message["text"]) for message in machines.stack.messages(customer, "telegram")]
        received = Counter(order for text in texts for order in re.findall(r"SM-\d{3}", text))
        assert received == Counter(order for order, (_, to) in orders.items() if to == phone), customer
    for index, (order, notification_id) in enumerate(ids.items()):
        view = machines.apis[index % 2].get(f"/v1/notifications/{notification_id}", headers=HEADERS).json()
        assert (view["status"], [attempt["outcome"] for attempt in view["attempts"]]) == ("sent", ["sent"]), order

    sent_by = [[event["id"] for event in log_events(log, "notification.sent")] for log in machines.worker_logs]
    assert all(sent_by), "one worker sent nothing"
    assert sorted(sent_by[0] + sent_by[1]) == sorted(ids.values())  # each sent by one worker, once
