"""The one door every call to an emulated messenger API passes through.

Both APIs describe a call as an ``ApiCall`` and answer it with an ``ApiAnswer``; ``Dispatcher``
runs the method and logs the outcome. Behaviour that applies to every call (latency, injected
errors, outages, rate limits) belongs here, in ``Dispatcher.handle``, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omnibot.sandbox.state import ApiCallRecord, SandboxState


@dataclass(frozen=True)
class ApiCall:
    channel: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    # "http" for a request to the API; "webhook_response" for a call carried in a webhook answer.
    via: str = "http"


@dataclass(frozen=True)
class ApiAnswer:
    """What the emulated API says: the HTTP status and JSON body, and the outcome for the log."""

    http_status: int
    body: dict[str, Any]
    ok: bool
    # Telegram's error_code or Viber's status; message is the description or status_message.
    code: int | None = None
    message: str | None = None


Method = Callable[[ApiCall], ApiAnswer]


class Dispatcher:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def handle(self, call: ApiCall, method: Method) -> ApiAnswer:
        answer = method(call)
        self._state.record_call(ApiCallRecord(
            channel=call.channel, method=call.method, ok=answer.ok, code=answer.code,
            message=answer.message, via=call.via, at=self._state.clock(),
        ))
        return answer
