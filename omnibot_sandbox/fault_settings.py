"""What the faults control API accepts: latency, injected errors, an outage, rate limits, a seed.

One ``FaultSettings`` describes all faults at once; ``PUT /sandbox/faults`` replaces it and
``PATCH`` merges into it (``merged``). Error rules are keyed ``channel.method`` with an optional
``#tag`` so one method can fail in several ways (``telegram.sendMessage#blocked``).
"""

from __future__ import annotations

import random
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_RULE_KEY = re.compile(r"(telegram|viber)\.[A-Za-z_]+(#.*)?")
_METHOD_KEY = re.compile(r"(telegram|viber)\.[A-Za-z_]+")
# PATCH merges these one level deep (per method, per field); every other key is replaced whole.
_MERGED_MAPS = ("error_rates", "latency_by_method", "rate_limits")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NormalMs(_Strict):
    mean: float = Field(ge=0)
    stddev: float = Field(ge=0)


class Latency(_Strict):
    """Exactly one of a fixed delay, a uniform range or a normal distribution, in milliseconds."""

    fixed_ms: float | None = Field(default=None, ge=0)
    uniform_ms: tuple[float, float] | None = None
    normal_ms: NormalMs | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> Latency:
        given = [shape for shape in (self.fixed_ms, self.uniform_ms, self.normal_ms) if shape is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of fixed_ms, uniform_ms, normal_ms")
        if self.uniform_ms is not None and not 0 <= self.uniform_ms[0] <= self.uniform_ms[1]:
            raise ValueError("uniform_ms must be [low, high] with 0 <= low <= high")
        return self

    def seconds(self, rng: random.Random) -> float:
        if self.fixed_ms is not None:
            return self.fixed_ms / 1000
        if self.uniform_ms is not None:
            return rng.uniform(*self.uniform_ms) / 1000
        assert self.normal_ms is not None
        return max(0.0, rng.gauss(self.normal_ms.mean, self.normal_ms.stddev)) / 1000


class ErrorRule(_Strict):
    """Answer this error instead, with probability ``rate``.

    Telegram uses ``error_code`` (default 502), ``description`` and, for 429, ``retry_after``;
    Viber uses ``status`` (an API status in an HTTP 200 answer) or ``http_status`` (a raw 5xx),
    and a raw 502 when neither is given.
    """

    rate: float = Field(ge=0, le=1)
    error_code: int | None = Field(default=None, ge=400, le=599)
    description: str | None = Field(default=None, min_length=1)
    retry_after: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=1)
    http_status: int | None = Field(default=None, ge=500, le=599)


class Outage(_Strict):
    """A window, from now for ``seconds`` or until the epoch second ``until``, when a channel is down."""

    channel: Literal["telegram", "viber", "all"] = "all"
    mode: Literal["5xx", "reset", "hang"] = "5xx"
    seconds: float | None = Field(default=None, gt=0)
    until: float | None = None
    # Shown by GET /sandbox/faults; accepted back and ignored, so GET's answer can be PUT again.
    active: bool | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_end(self) -> Outage:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of seconds, until")
        return self

    def covers(self, channel: str) -> bool:
        return self.channel in ("all", channel)

    def on_at(self, now: float) -> bool:
        """Whether the window is open at ``now``; an outage given in ``seconds`` has no end yet."""
        return self.until is not None and now < self.until


class RateLimits(_Strict):
    """Telegram's token buckets (per bot, per chat, per bot for paid broadcasts), the bot's Stars
    balance that pays for those, Viber's hourly cap per user, and the terms Viber bills the bot's
    messages on (see viber_billing.py)."""

    enforce: bool = True
    telegram_per_second: float = Field(default=30, gt=0)
    # None: the bucket holds one second's worth, as Telegram tolerates short bursts of that size.
    telegram_burst: float | None = Field(default=None, ge=1)
    telegram_per_chat_per_second: float = Field(default=1, gt=0)
    telegram_chat_burst: float = Field(default=1, ge=1)
    # Sends with allow_paid_broadcast (Bot API 7.11); their bucket holds one second's worth too.
    telegram_paid_per_second: float = Field(default=1000, gt=0)
    # Stars the bot starts with; enough that only a test meaning to run out ever does.
    telegram_stars_balance: float = Field(default=100_000, ge=0)
    viber_per_user_per_hour: int = Field(default=100, ge=1)
    # Viber's billing applies whether or not ``enforce`` is on, so these stay out of the JSON while
    # at Viber's defaults: GET /sandbox/faults shows only terms someone chose.
    viber_billing: Literal["per_message", "quota"] = Field(
        default="per_message", exclude_if=lambda model: model == "per_message")
    # Free bot-initiated messages a calendar month, on the quota model.
    viber_free_messages_per_month: int = Field(default=0, ge=0, exclude_if=lambda count: count == 0)
    viber_session_seconds: float = Field(default=86_400, gt=0, exclude_if=lambda seconds: seconds == 86_400)
    # Billable messages the account can pay for; None: as many as it sends.
    viber_balance_messages: int | None = Field(default=None, ge=0)

    @property
    def telegram_bucket(self) -> float:
        return self.telegram_burst if self.telegram_burst is not None else max(1.0, self.telegram_per_second)

    @property
    def telegram_paid_bucket(self) -> float:
        return max(1.0, self.telegram_paid_per_second)


class FaultSettings(_Strict):
    latency: Latency | None = None
    latency_by_method: dict[str, Latency] = Field(default_factory=dict)
    error_rates: dict[str, ErrorRule] = Field(default_factory=dict)
    outage: Outage | None = None
    rate_limits: RateLimits | None = None
    seed: int | None = None

    @field_validator("latency_by_method")
    @classmethod
    def _method_keys(cls, value: dict[str, Latency]) -> dict[str, Latency]:
        for key in value:
            if not _METHOD_KEY.fullmatch(key):
                raise ValueError(f"{key!r}: keys are channel.method, e.g. telegram.sendMessage")
        return value

    @field_validator("error_rates")
    @classmethod
    def _rules(cls, value: dict[str, ErrorRule]) -> dict[str, ErrorRule]:
        totals: dict[str, float] = {}
        for key, rule in value.items():
            if not _RULE_KEY.fullmatch(key):
                raise ValueError(f"{key!r}: keys are channel.method[#tag], e.g. telegram.sendMessage")
            if key.startswith("telegram.") and (rule.status is not None or rule.http_status is not None):
                raise ValueError(f"{key!r}: Telegram errors take error_code, not status or http_status")
            if key.startswith("viber.") and (rule.error_code is not None or rule.retry_after is not None):
                raise ValueError(f"{key!r}: Viber errors take status or http_status, not error_code")
            if rule.status is not None and rule.http_status is not None:
                raise ValueError(f"{key!r}: give status or http_status, not both")
            method = method_of(key)
            totals[method] = totals.get(method, 0.0) + rule.rate
            if totals[method] > 1 + 1e-9:
                raise ValueError(f"{method!r}: the rates of its rules add up to more than 1")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def method_of(key: str) -> str:
    """``telegram.sendMessage#blocked`` → ``telegram.sendMessage``."""
    return key.partition("#")[0]


def merged(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7396) one level deep: ``null`` deletes a key.

    ``error_rates``, ``latency_by_method`` and ``rate_limits`` merge per entry; ``latency`` and
    ``outage`` are replaced whole, since half of one and half of another means nothing.
    """
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif key in _MERGED_MAPS and isinstance(value, dict) and isinstance(result.get(key), dict):
            inner = {**result[key], **value}
            result[key] = {name: item for name, item in inner.items() if item is not None}
        else:
            result[key] = value
    return result
