"""A production-shaped stack for the delivery engine's tests: PostgreSQL, sandbox, API, workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.e2e.conftest import API_KEY, free_port, wait_until_up

TELEGRAM_LINK = "https://t.me/omnibot_sandbox_bot?start={order}"


@dataclass
class EngineStack:
    env: dict[str, str]
    workdir: Path
    api: httpx.Client
    sandbox: httpx.Client
    database: sa.Engine
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _phones: int = 0

    def start_worker(self, **extra_env: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"worker-{len(self.workers)}.log").open("ab")
        worker = subprocess.Popen([sys.executable, "-m", "omnibot", "worker"], env={**self.env, **extra_env},
                                  stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(timeout=30)
        self.workers.clear()

    def linked_customers(self, count: int) -> list[tuple[str, str]]:
        """Customers who opened a Telegram deep link and shared their phone: (sandbox id, phone)."""
        def one(_: int) -> tuple[str, str]:
            phone = f"+38067{uuid.uuid4().int % 10**7:07d}"
            customer = self.sandbox.post("/sandbox/customers", json={"name": "Taras", "phone": phone}).json()
            order = f"LINK-{uuid.uuid4().hex[:8]}"
            for action, body in (("open-link", {"url": TELEGRAM_LINK.format(order=order)}),
                                 ("telegram/share-contact", {})):
                answer = self.sandbox.post(f"/sandbox/customers/{customer['id']}/{action}", json=body).json()
                assert answer["webhook_status"] == 200, answer
            return customer["id"], phone

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(count)))

    def submit(self, phone: str, order_id: str, **extra: object) -> httpx.Response:
        return self.api.post("/v1/notifications", headers={"X-Internal-API-Key": API_KEY},
                             json={"phone": phone, "order_id": order_id, "items": ["Laptop"], **extra})

    def submit_many(self, orders: list[tuple[str, str]]) -> list[str]:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda o: self.submit(*o), orders))
        assert all(a.status_code == 202 for a in answers), [a.text for a in answers if a.status_code != 202][:3]
        return [a.json()["id"] for a in answers]

    def faults(self, **faults: object) -> None:
        self.sandbox.put("/sandbox/faults", json=faults).raise_for_status()

    def stats(self) -> dict[str, object]:
        stats: dict[str, object] = self.sandbox.get("/sandbox/stats").json()
        return stats

    def statuses(self) -> dict[str, int]:
        return notification_statuses(self.database)

    def wait_for(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        wait_until(condition, seconds, what, self.database, self.workdir)

    def reset(self) -> None:
        self.stop_workers()
        self.sandbox.delete("/sandbox/faults")
        self.sandbox.post("/sandbox/stats/reset")
        with self.database.begin() as connection:
            connection.execute(sa.text("DELETE FROM notifications"))


def notification_statuses(database: sa.Engine) -> dict[str, int]:
    with database.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, count(*) FROM notifications GROUP BY status")).all()
    return {status: count for status, count in rows}


def wait_until(condition: Callable[[], bool], seconds: float, what: str, database: sa.Engine, workdir: Path) -> None:
    """Until ``condition`` holds; past ``seconds``, fail with the statuses and the processes' logs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(workdir.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}; statuses {notification_statuses(database)}\n{logs}")


def start_engine_stack(
    database_url: str, workdir: Path, **extra_env: str
) -> tuple[EngineStack, list[subprocess.Popen[bytes]]]:
    from omnibot.entrypoints.dev import sandbox_environment

    sandbox_port, api_port = free_port(), free_port()
    env = {**os.environ, **sandbox_environment(sandbox_port), "DATABASE_URL": database_url,
           "INTERNAL_API_KEY": API_KEY, "RETRY_BASE_SECONDS": "0.2", "LEASE_SECONDS": "5",
           "TELEGRAM_CHAT_RATE_PER_SECOND": "1000", "WORKER_CONCURRENCY": "32", "HTTP_TIMEOUT_SECONDS": "3",
           **extra_env}
    subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True, capture_output=True)
    processes = []
    for name, args in (("sandbox", ["sandbox", "--port", str(sandbox_port)]),
                       ("api", ["serve", "--host", "127.0.0.1", "--port", str(api_port)])):
        log = (workdir / f"{name}.log").open("ab")
        processes.append(subprocess.Popen([sys.executable, "-m", "omnibot", *args], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
    wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/customers", processes[0], workdir / "sandbox.log")
    wait_until_up(f"http://127.0.0.1:{api_port}/healthz", processes[1], workdir / "api.log")
    subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks", "--url", f"http://127.0.0.1:{api_port}"],
                   env=env, check=True, capture_output=True)
    from omnibot.adapters.db.engine import database_url as to_url
    from omnibot.adapters.db.engine import make_engine

    stack = EngineStack(env=env, workdir=workdir,
                        api=httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10),
                        sandbox=httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}", timeout=10),
                        # The tests kill connections and read at once: the harness pings, omnibot retries.
                        database=make_engine(to_url(database_url), pre_ping=True))
    return stack, processes
