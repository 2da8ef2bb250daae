"""An HTTP client of each thread's own, for the many calls a worker has in flight at once.

httpx's connection pool (httpcore 1.0) takes one lock and scans every connection on each
request, and its clean-up pass is quadratic in the idle ones. Shared by a worker's 128 sending
threads, one client spent ~7 ms of CPU per request against a messenger answering in 100 ms; a
client per thread ~2.3 ms. In the delivery worker (bench/README.md, scenario 3) that took one
process from ~125 to 150-200 sends/s. A thread makes one call at a time, so its client keeps a
few connections: one per messenger host.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

_CONNECTIONS_PER_THREAD = 4


class PerThreadClient:
    """``post`` like ``httpx.Client``, on a client the calling thread owns, made on its first call."""

    def __init__(self, timeout: httpx.Timeout) -> None:
        self._timeout = timeout
        # One TLS context for all the clients: each would otherwise load the CA bundle again.
        self._tls = httpx.create_ssl_context()
        self._limits = httpx.Limits(max_connections=_CONNECTIONS_PER_THREAD,
                                    max_keepalive_connections=_CONNECTIONS_PER_THREAD)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[httpx.Client] = []

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._own().post(url, **kwargs)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _own(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=self._timeout, limits=self._limits, verify=self._tls)
            with self._lock:
                self._clients.append(client)
            self._local.client = client
        return client


# What the adapters post with: a shared client (tests, one-off commands) or a client per thread.
HttpClient = httpx.Client | PerThreadClient
