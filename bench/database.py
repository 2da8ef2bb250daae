"""The run's PostgreSQL: a database of its own, created at start and dropped at the end.

By default it lives on a throwaway PostgreSQL server the run starts itself (``initdb`` in a
temporary directory, a free port, ``max_connections`` 300, otherwise the stock settings, fsync and
synchronous commit on), because the shared local server allows 100 connections, other sessions'
tests hold dozens of them, and omnibot's processes under the fan-out settings can open more
than 100 on their own: a run there fails with "too many clients" and makes the other tests fail
too. ``--pg-url`` uses an existing server instead (the database is still the run's own).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.stack import Processes, free_port

MAX_CONNECTIONS = 300


class BenchDatabase:
    """A database of the run's own on ``server_url``'s server: created at start, dropped at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"omnibot_bench_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        base, _, _ = server_url.rpartition("/")
        self.url = f"{base}/{self.name}"

    def create(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def execute(self, statement: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(statement.encode(), params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def truncate(self, *tables: str) -> None:
        names = sql.SQL(", ").join(sql.Identifier(t) for t in tables)
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))
            connection.execute(sql.SQL("VACUUM ANALYZE"))

    def statuses(self) -> dict[str, int]:
        return {status: count for status, count in
                self.execute("SELECT status, count(*) FROM notifications GROUP BY status")}


def _binaries() -> Path | None:
    """The directory of ``initdb`` and ``postgres``: on PATH, else Debian's newest ``/usr/lib/postgresql/N/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PrivateServer:
    """A PostgreSQL server of the run's own, its data in a temporary directory removed at the end."""

    def __init__(self, processes: Processes) -> None:
        self._processes = processes
        self._bin = _binaries()
        self._data: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def available(self) -> bool:
        return self._bin is not None

    def _as_owner(self, command: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root: run it as the `postgres` user, as the Debian package does.
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> None:
        assert self._bin is not None
        self._data = Path(tempfile.mkdtemp(prefix="omnibot-bench-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self._data, "postgres", "postgres")
        subprocess.run(self._as_owner([str(self._bin / "initdb"), "-D", str(self._data / "data"), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-instructions"]),
                       check=True, capture_output=True)
        self._process = self._processes.start("postgres", self._as_owner([
            str(self._bin / "postgres"), "-D", str(self._data / "data"), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self._data}",
            "-c", f"max_connections={MAX_CONNECTIONS}"]), os.environ)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self._process.poll() is not None:
                    raise RuntimeError(f"PostgreSQL did not start; see {self._processes.log_of('postgres')}") from None
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not answer within 30 s")

    def cpu_seconds(self) -> float | None:
        """CPU seconds of the server's processes so far (its postmaster and live backends)."""
        from bench.cpu import tree_seconds

        return None if self._process is None else tree_seconds(self._process.pid)

    def stop(self) -> None:
        if self._process is not None:
            self._processes.stop(self._process, timeout=30)
            self._process = None
        if self._data is not None:
            shutil.rmtree(self._data, ignore_errors=True)
            self._data = None
