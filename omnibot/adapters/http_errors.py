"""Shared translation of transport problems into the domain's failure vocabulary."""

from __future__ import annotations

import httpx

from omnibot.domain.errors import TransientFailure


def transport_failure(channel: str, exc: Exception, never_sent: bool | None = None) -> TransientFailure:
    """A request that got no answer (httpx's errors, or aiohttp's and asyncio's timeouts).
    ``never_sent``: the caller knows the connection was never made (aiohttp's errors say so)."""
    # str(exc) can contain the request URL, and Telegram's URL contains the bot token:
    # name the kind of failure only.
    # Only a connection that was never made proves the request never reached the messenger.
    if never_sent is None:
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return TransientFailure(f"{channel}: timed out ({type(exc).__name__})", may_have_arrived=not never_sent)
    return TransientFailure(f"{channel}: connection failed ({type(exc).__name__})", may_have_arrived=not never_sent)


def server_failure(channel: str, response: httpx.Response | int) -> TransientFailure:
    """An answer that is not the API's envelope: ``response`` or its status code."""
    status = response if isinstance(response, int) else response.status_code
    return TransientFailure(f"{channel}: HTTP {status} from the API", throttled=status == 429)
