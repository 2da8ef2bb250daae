"""POSTing status callbacks to the shop over httpx."""

from __future__ import annotations

import httpx

from omnibot.adapters.http_errors import server_failure, transport_failure
from omnibot.adapters.http_pool import HttpClient
from omnibot.domain.errors import PermanentFailure


class HttpCallbackTransport:
    def __init__(self, client: HttpClient) -> None:
        self._client = client

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_failure("callback", exc) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise server_failure("callback", response)
        if not response.is_success:
            # Retried all the same: the shop may fix its endpoint; the outbox gives up in the end.
            raise PermanentFailure(f"callback: HTTP {response.status_code} from the shop")
