"""What a benchmark run starts and owns: its processes and the stack built from them.

Every process is started in a session of its own and stopped by its process group at the end,
whatever happened (``Processes.stop_all`` runs in the caller's ``finally``). Ports are free
ports picked at start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from bench.database import BenchDatabase

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "bench-internal-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited early (code {process.returncode}); see {log}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered; see {log}")


def wait_for(condition: Callable[[], bool], seconds: float, what: str, interval: float = 0.2) -> float:
    """Poll ``condition`` until true; the seconds it took. Raises TimeoutError naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")


class Processes:
    """Every child of the run, each in its own process group, logged to ``logs/<name>.log``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(list(args), env=dict(env), cwd=self.logs, stdout=handle,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self._running.append(process)
        return process

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """SIGTERM to the process's group (a gunicorn master and its workers), SIGKILL if it lingers."""
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Children a master left behind (it was killed, or exited first) share its group.
        _signal_group(process.pid, signal.SIGKILL)
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            try:
                self.stop(process)
            except Exception as error:  # keep stopping the others
                print(f"bench: could not stop pid {process.pid}: {error}", file=sys.stderr)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


@dataclass
class Stack:
    """The running pieces: sandbox, omnibot API, floor app, and the workers started on demand."""

    processes: Processes
    database: BenchDatabase
    env: dict[str, str]
    telegram_token: str
    sandbox_url: str
    api_url: str
    floor_url: str
    redis_url: str | None
    api_workers: int
    api_process: subprocess.Popen[bytes]
    sandbox_process: subprocess.Popen[bytes]
    floor_process: subprocess.Popen[bytes]
    sandbox: httpx.Client
    api: httpx.Client
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # CPU seconds of the PostgreSQL server so far; None when it is not the run's own.
    database_cpu: Callable[[], float | None] = lambda: None

    def start_worker(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        return self.start_workers([name], **extra_env)[0]

    def start_workers(self, names: list[str], **extra_env: str) -> list[subprocess.Popen[bytes]]:
        """``omnibot worker`` processes, started together; returns once each has logged ``worker.started``."""
        started = [self.processes.start(name, [PYTHON, "-m", "omnibot", "worker"], {**self.env, **extra_env})
                   for name in names]
        self.workers += started
        for name, process in zip(names, started, strict=True):
            self._wait_started(name, process)
        return started

    def _wait_started(self, name: str, process: subprocess.Popen[bytes]) -> None:
        log = self.processes.log_of(name)
        wait_for(lambda: "worker.started" in log.read_text(errors="replace") or process.poll() is not None, 60,
                 f"{name} to start")
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start; see {log}")

    def stop_workers(self) -> None:
        for worker in self.workers:
            self.processes.stop(worker)
        self.workers.clear()

    def telegram_api(self, method: str) -> str:
        return f"{self.sandbox_url}/bot{self.telegram_token}/{method}"

    def faults(self, faults: dict[str, Any]) -> None:
        self.sandbox.put("/sandbox/faults", json=faults).raise_for_status()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.sandbox.get("/sandbox/stats").json()
        return stats

    def reset_stats(self) -> None:
        self.sandbox.post("/sandbox/stats/reset").raise_for_status()

    def api_worker_pids(self) -> list[int]:
        import psutil

        return [child.pid for child in psutil.Process(self.api_process.pid).children()]
