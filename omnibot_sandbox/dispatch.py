"""The one door every call to an emulated messenger API passes through.

Both APIs describe a call as an ``ApiCall`` and answer it with an ``ApiAnswer``; ``Dispatcher``
runs the method and logs the outcome. Behaviour that applies to every call (latency, injected
errors, outages, rate limits) belongs here, in ``Dispatcher.handle``, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from omnibot_sandbox.fault_settings import ErrorRule
from omnibot_sandbox.state import ApiCallRecord, SandboxState
from omnibot_sandbox.traffic import Admission
from omnibot_sandbox.viber_billing import Billing


@dataclass(frozen=True)
class ApiCall:
    channel: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    # "http" for a request to the API; "webhook_response" for a call carried in a webhook answer.
    via: str = "http"
    # Whom a message goes to (a Telegram chat id, a Viber user id): set on sends, which the rate
    # limits and the throughput figures follow.
    recipient: str | None = None
    # A Telegram send with allow_paid_broadcast: a higher bot-wide limit, paid for in Stars.
    paid_broadcast: bool = False
    # A Viber send_message, which Viber bills unless the user wrote to the bot lately.
    chatbot_message: bool = False
    # How the dispatcher admitted it to be billed, for the method to put in its answer.
    billing: Billing | None = None


@dataclass(frozen=True)
class ApiAnswer:
    """What the emulated API says: the HTTP status and JSON body, and the outcome for the log."""

    http_status: int
    body: dict[str, Any]
    ok: bool
    # Telegram's error_code or Viber's status; message is the description or status_message.
    code: int | None = None
    message: str | None = None
    # A plain-text body instead of JSON, as a proxy in front of the API answers a 5xx.
    text: str | None = None
    # No answer at all: the connection is reset (see responses.py).
    abort: bool = False
    # How a delivered Viber send_message was billed (viber_billing's free_session, free_quota, billable).
    billing: str | None = None


Method = Callable[[ApiCall], ApiAnswer]
CONNECTION_RESET = ApiAnswer(0, {}, ok=False, message="connection reset (outage)", abort=True)


class Dialect(Protocol):
    """How one messenger words the failures that faults and rate limits make it answer."""

    def injected(self, rule: ErrorRule) -> ApiAnswer: ...

    def unavailable(self) -> ApiAnswer: ...

    def refused(self, admission: Admission) -> ApiAnswer:
        """A send the rate limits (or, for a paid broadcast, the bot's balance) did not let go."""
        ...


class Dispatcher:
    def __init__(self, state: SandboxState, dialects: Mapping[str, Dialect]) -> None:
        self._state = state
        self._dialects = dialects

    def handle(self, call: ApiCall, method: Method) -> ApiAnswer:
        key, received_at = f"{call.channel}.{call.method}", self._state.clock()
        self._state.traffic.requested(key)
        # Faults stand between the bot and the API; a reply riding in a webhook answer never
        # crosses the network, so only rate limits apply to it.
        answer = self._fault(call, key) if call.via == "http" else None
        if answer is None:
            answer = method(call) if call.recipient is None else self._send(call, method)
        parameters = answer.body.get("parameters")
        self._state.record_call(ApiCallRecord(
            channel=call.channel, method=call.method, ok=answer.ok, code=answer.code,
            message=answer.message, via=call.via, at=self._state.clock(),
            retry_after=parameters.get("retry_after") if isinstance(parameters, dict) else None,
            received_at=received_at, billing=answer.billing,
        ))
        return answer

    def _fault(self, call: ApiCall, key: str) -> ApiAnswer | None:
        """Wait the latency, then the outage or injected error answer, if this call gets one."""
        faults, traffic, dialect = self._state.faults, self._state.traffic, self._dialects[call.channel]
        delay = faults.latency(key)
        if delay > 0:
            time.sleep(delay)  # holds no lock: a thousand calls may wait at once
        outage = faults.outage(call.channel)
        if outage is not None:
            traffic.outage_hit()
            if outage.mode == "reset":
                return CONNECTION_RESET
            if outage.mode == "hang":
                faults.hang(outage)
            return dialect.unavailable()
        rule = faults.injected_error(key)
        if rule is not None:
            traffic.injected()
            return dialect.injected(rule)
        return None

    def _send(self, call: ApiCall, method: Method) -> ApiAnswer:
        assert call.recipient is not None
        traffic = self._state.traffic
        admission = traffic.admit(call.channel, call.recipient, call.paid_broadcast, call.chatbot_message)
        if admission.refused:
            return self._dialects[call.channel].refused(admission)
        billing = admission.billing
        answer = method(call if billing is None else replace(call, billing=billing))
        traffic.settled(call.channel, admission, answer.ok)
        return replace(answer, billing=billing.kind) if billing is not None and answer.ok else answer
