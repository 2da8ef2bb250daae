"""Serving the sandbox with gunicorn: one process, because all its state lives in memory, many threads.

The ``gthread`` worker keeps connections alive and parks idle ones in a poller, so a client
holding hundreds of connections costs threads only while their requests run. The app is built in
``load()``, in the one worker after the fork: the master process holds no sandbox state.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from omnibot_sandbox.app import create_app
from omnibot_sandbox.config import SandboxConfig

DEFAULT_THREADS = 256
# Open connections the worker holds, kept-alive ones included; beyond this it stops accepting.
MIN_CONNECTIONS = 2000
# Longer than clients' idle expiry (httpx: 5 s), so the client, not the server, closes idle connections.
KEEPALIVE_SECONDS = 75
# On SIGTERM, how long requests in flight (a latency sleep, a "hang" outage) get to finish.
GRACEFUL_SECONDS = 5

_TOKEN_IN_PATH = re.compile(r"/bot[^/\s]+/")


class _RedactingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's access log, minus bot tokens: Telegram puts them in the URL path."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}e", "{path_info}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = _TOKEN_IN_PATH.sub("/bot<token>/", atoms[key])
        return atoms


class _SandboxServer(BaseApplication):  # type: ignore[misc]
    """gunicorn from code, no config file or argv. The sandbox's own: it imports nothing of omnibot's."""

    def __init__(self, settings: dict[str, Any], config: SandboxConfig) -> None:
        self._settings = settings
        self._config = config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self._config)  # in the worker, after the fork


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def options(host: str, port: int, threads: int = DEFAULT_THREADS, access_log: bool = False) -> dict[str, Any]:
    """gunicorn's settings for the sandbox."""

    def announce(worker: Any) -> None:
        # In the worker, once the app is built: the socket is bound (port 0 has become a real port)
        # and the very next thing the worker does is serve.
        bound = worker.sockets[0].getsockname()[1]
        print(f"omnibot sandbox listening on http://{_bind(host, bound)} "
              f"(Telegram API at /bot<token>/, Viber API at /pa/, control API at /sandbox/)", flush=True)

    return {
        "bind": _bind(host, port),
        "workers": 1,  # the whole sandbox lives in this one process's memory
        "worker_class": "gthread",
        "threads": threads,
        "worker_connections": max(MIN_CONNECTIONS, 2 * threads),
        "keepalive": KEEPALIVE_SECONDS,
        "preload_app": False,  # build the app in the worker, after the fork
        "timeout": 60,
        "graceful_timeout": GRACEFUL_SECONDS,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",  # no banner: the one line ``announce`` prints says where it listens
        "logger_class": _RedactingLogger,
        "control_socket_disable": True,  # no gunicornc socket in $XDG_RUNTIME_DIR or ~/.gunicorn
        "proc_name": "omnibot-sandbox",
        "post_worker_init": announce,
    }


def run(host: str, port: int, config: SandboxConfig, threads: int = DEFAULT_THREADS, access_log: bool = False) -> None:
    """Serve until SIGTERM or SIGINT (then exit 0); ``port`` 0 picks a free port (the printed line says which).

    gunicorn's master handles the signals, so this must run on the main thread; it exits the
    process (``SystemExit``) rather than return.
    """
    _SandboxServer(options(host, port, threads, access_log), config).run()
