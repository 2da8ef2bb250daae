"""Shared translation of transport problems into the domain's failure vocabulary."""

from __future__ import annotations

import httpx

from omnibot.domain.errors import TransientFailure


def transport_failure(channel: str, exc: httpx.HTTPError) -> TransientFailure:
    # str(exc) can contain the request URL, and Telegram's URL contains the bot token:
    # name the kind of failure only.
    if isinstance(exc, httpx.TimeoutException):
        return TransientFailure(f"{channel}: timed out ({type(exc).__name__})")
    return TransientFailure(f"{channel}: connection failed ({type(exc).__name__})")


def server_failure(channel: str, response: httpx.Response) -> TransientFailure:
    return TransientFailure(f"{channel}: HTTP {response.status_code} from the API",
                            throttled=response.status_code == 429)
