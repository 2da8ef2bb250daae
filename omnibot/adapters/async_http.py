"""The delivery worker's HTTP client: hundreds of sends in flight on one event loop.

aiohttp, chosen by measurement (docs/decisions.md §27): on this project's bench it posts 3,600
``sendMessage`` a second at 0.17 ms of CPU each, where httpx's ``AsyncClient`` managed 77 at
12.9 ms (its connection pool scans every connection under one lock on each request).

The session belongs to the event loop that first uses it; the worker makes one per run and closes
it when the run ends. aiohttp is imported with the first session, not before: every process builds an
``AsyncHttp``, but only the delivery worker sends, and an API process is 9 MB lighter without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omnibot.adapters.http_errors import transport_failure

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class Reply:
    """A messenger's answer: the status code and the body, read whole."""

    status: int
    body: bytes


class AsyncHttp:
    """``post`` for coroutines; transport problems come back as ``TransientFailure`` (``transport_failure``)."""

    def __init__(self, timeout_seconds: float, connect_seconds: float = 5.0, max_connections: int = 512) -> None:
        self._timeout_seconds = timeout_seconds
        self._connect_seconds = connect_seconds
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def post(self, channel: str, url: str, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Reply:
        import aiohttp  # the first send loads it; every later one finds it in sys.modules

        try:
            async with self._own().post(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                        headers=headers) as response:
                return Reply(response.status, await response.read())
        except (TimeoutError, aiohttp.ClientError) as exc:
            never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
            raise transport_failure(channel, exc, never_sent) from None

    @staticmethod
    def load() -> None:
        """Import aiohttp now: a worker does before it freezes what start-up loaded, so that the
        collector never scans aiohttp's modules again."""
        import aiohttp  # noqa: F401

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _own(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=self._timeout_seconds, connect=self._connect_seconds)
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
            # Every body is JSON: the header is the session's, not built again for each request.
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                                  headers={"Content-Type": "application/json"},
                                                  skip_auto_headers=("User-Agent",))
        return self._session
