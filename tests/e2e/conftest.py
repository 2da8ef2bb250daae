"""Real processes: `omnibot sandbox` and `omnibot serve`, driven over HTTP like a shop would."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from omnibot.entrypoints.dev import sandbox_environment

API_KEY = "e2e-internal-key"
REDIS_URL = os.environ.get("OMNIBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_phones = itertools.count(1000)


def require_redis(url: str = REDIS_URL) -> None:
    """Shared rate limits need Redis: skipped without it locally, failed on CI (``CI=true``)."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no Redis at {url}: {error}", pytrace=False)
        pytest.skip(f"no Redis at {url}: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered:\n{log.read_text()}")


@dataclass
class Stack:
    api: httpx.Client
    sandbox: httpx.Client
    env: dict[str, str]
    logs: list[Path]

    def customer(self, name: str = "Olena Kovalenko", language: str = "uk") -> tuple[str, str]:
        """A new virtual customer with a phone of their own: (sandbox id, E.164 phone)."""
        phone = f"+38050{next(_phones):07d}"
        created = self.sandbox.post("/sandbox/customers",
                                    json={"name": name, "phone": phone, "language": language})
        created.raise_for_status()
        return created.json()["id"], phone

    def act(self, customer: str, action: str, **body: object) -> dict[str, object]:
        response = self.sandbox.post(f"/sandbox/customers/{customer}/{action}", json=body)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        assert result.get("delivered") is True, result
        assert result.get("webhook_status") == 200, result
        return result

    def messages(self, customer: str, channel: str) -> list[dict[str, object]]:
        response = self.sandbox.get(f"/sandbox/customers/{customer}/messages",
                                    params={"channel": channel})
        response.raise_for_status()
        found: list[dict[str, object]] = response.json()
        return found

    def trigger(self, phone: str, order_id: str, items: list[str]) -> httpx.Response:
        return self.api.post("/trigger-notification", headers={"X-Internal-API-Key": API_KEY},
                             json={"phone": phone, "order_id": order_id, "items": items})


def _omnibot(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "omnibot", *args], env=env,
                            stdout=handle, stderr=subprocess.STDOUT)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_url")
    elif request.param.startswith("postgres-"):  # a database of its own on the test server
        database = request.getfixturevalue("postgres_server").create_database()
    else:
        database = f"sqlite:///{workdir / 'omnibot.sqlite3'}"
    sandbox_port, api_port = free_port(), free_port()
    env = {**os.environ, **sandbox_environment(sandbox_port),
           "DATABASE_URL": database, "INTERNAL_API_KEY": API_KEY,
           "CALLBACK_ALLOW_PRIVATE": "true"}  # the tests' shop listens on loopback
    sandbox_log, api_log = workdir / "sandbox.log", workdir / "api.log"
    subprocess.run([sys.executable, "-m", "omnibot", "db", "upgrade"], env=env, check=True,
                   cwd=workdir, capture_output=True)
    processes = [_omnibot(["sandbox", "--port", str(sandbox_port)], env, sandbox_log)]
    processes.append(_omnibot(["serve", "--host", "127.0.0.1", "--port", str(api_port)], env, api_log))
    if request.param.startswith("postgres"):  # SQLite runs its worker inside `omnibot serve`
        processes.append(_omnibot(["worker"], env, workdir / "worker.log"))
    try:
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/customers", processes[0], sandbox_log)
        wait_until_up(f"http://127.0.0.1:{api_port}/healthz", processes[1], api_log)
        subprocess.run([sys.executable, "-m", "omnibot", "set-webhooks",
                        "--url", f"http://127.0.0.1:{api_port}"], env=env, check=True, cwd=workdir)
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as api, \
                httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}", timeout=10) as sandbox:
            yield Stack(api, sandbox, env, [sandbox_log, api_log])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
