"""Bringing the stack up: schema, sandbox, omnibot API (no worker), floor app, webhooks set."""

from __future__ import annotations

import os
import re
import secrets
import subprocess

import httpx
import redis

from bench.database import BenchDatabase
from bench.stack import API_KEY, PYTHON, ROOT, Processes, Stack, free_port, wait_for, wait_until_up
from omnibot.entrypoints.dev import sandbox_environment
from omnibot.entrypoints.http.gunicorn_config import default_workers


def redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


_ANNOUNCED = re.compile(r"omnibot sandbox listening on (http://\S+)")


def start_sandbox(processes: Processes, token: str, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    """``omnibot sandbox`` on a port it picks; (its URL, the process) once it announces itself.

    The CLI, not the app served in-process, so the bench measures the sandbox as shipped; its
    gunicorn server prints one line once it serves, which carries the port.
    """
    process = processes.start("sandbox", [PYTHON, "-m", "omnibot", "sandbox", "--port", "0",
                                          "--telegram-token", token], env)
    log = processes.log_of("sandbox")

    def announced() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"omnibot sandbox exited at start (code {process.returncode}); see {log}")
        return _ANNOUNCED.search(log.read_text(errors="replace")) is not None

    wait_for(announced, 60, "omnibot sandbox to announce itself", interval=0.1)
    found = _ANNOUNCED.search(log.read_text(errors="replace"))
    assert found is not None
    return found.group(1), process


def start_stack(processes: Processes, database: BenchDatabase, redis_url: str | None) -> Stack:
    # A bot token of this run's own: omnibot's Redis buckets are keyed by a hash of the token, so
    # the run never shares a bucket with anything else using the same Redis.
    token = f"{secrets.randbelow(9 * 10**8) + 10**8}:AAbench-{secrets.token_hex(8)}"
    sandbox_url, sandbox_process = start_sandbox(processes, token, dict(os.environ))
    sandbox_port = int(sandbox_url.rpartition(":")[2])
    api_port, floor_port = free_port(), free_port()
    workers = default_workers()  # what `omnibot serve` picks here; the baselines get the same
    env = {
        **os.environ,
        **sandbox_environment(sandbox_port),
        "TELEGRAM_BOT_TOKEN": token,
        "DATABASE_URL": database.url,
        "INTERNAL_API_KEY": API_KEY,
        "LOG_FORMAT": "json",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "STATUS_WEBHOOK_URL"):
        env.pop(name, None)  # the run sets what it needs, scenario by scenario
    subprocess.run([PYTHON, "-m", "omnibot", "db", "upgrade"], env=env, cwd=processes.logs, check=True,
                   capture_output=True)
    subprocess.run([PYTHON, "-m", "bench.floor_app", "--create-tables", "--database-url", database.url],
                   env=env, cwd=processes.logs, check=True, capture_output=True)

    api_process = processes.start("api", [PYTHON, "-m", "omnibot", "serve", "--host", "127.0.0.1",
                                          "--port", str(api_port), "--workers", str(workers)], env)
    floor_process = processes.start("floor", [PYTHON, "-m", "bench.floor_app", "--port", str(floor_port),
                                              "--database-url", database.url, "--workers", str(workers),
                                              "--api-key", API_KEY,
                                              "--webhook-secret", env["TELEGRAM_WEBHOOK_SECRET"]], env)
    api_url = f"http://127.0.0.1:{api_port}"
    wait_until_up(f"{api_url}/healthz", api_process, processes.log_of("api"))
    wait_until_up(f"http://127.0.0.1:{floor_port}/", floor_process, processes.log_of("floor"))
    subprocess.run([PYTHON, "-m", "omnibot", "set-webhooks", "--url", api_url], env=env, cwd=processes.logs,
                   check=True, capture_output=True)
    return Stack(
        processes=processes, database=database, env=env, telegram_token=token, sandbox_url=sandbox_url,
        api_url=api_url, floor_url=f"http://127.0.0.1:{floor_port}",
        redis_url=redis_url if redis_url and redis_reachable(redis_url) else None, api_workers=workers,
        api_process=api_process, sandbox_process=sandbox_process, floor_process=floor_process,
        sandbox=httpx.Client(base_url=sandbox_url, timeout=30),
        api=httpx.Client(base_url=api_url, timeout=30, headers={"X-Internal-API-Key": API_KEY}),
    )
