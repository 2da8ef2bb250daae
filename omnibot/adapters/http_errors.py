"""Shared translation of transport problems into the domain's failure vocabulary."""

from __future__ import annotations

import httpx

from omnibot.domain.errors import TransientFailure


def transport_failure(channel: str, exc: Exception) -> TransientFailure:
    """A request that got no answer (httpx's errors, or aiohttp's and asyncio's timeouts)."""
    # str(exc) can contain the request URL, and Telegram's URL contains the bot token:
    # name the kind of failure only.
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return TransientFailure(f"{channel}: timed out ({type(exc).__name__})")
    return TransientFailure(f"{channel}: connection failed ({type(exc).__name__})")


def server_failure(channel: str, response: httpx.Response | int) -> TransientFailure:
    """An answer that is not the API's envelope: ``response`` or its status code."""
    status = response if isinstance(response, int) else response.status_code
    return TransientFailure(f"{channel}: HTTP {status} from the API", throttled=status == 429)
