"""Rate limits as the messengers enforce them, and the figures ``GET /sandbox/stats`` reports.

Every send passes ``admit`` once: under one small lock it reads the clock, checks the limits and,
if the send may go, takes its tokens and notes its time in the sliding one-second windows. So the
windows hold exactly the sends the limiter let through, in clock order, and "never more than N to
one chat in any second" is checked against the same instants the limiter used. Each step is O(1)
amortised: a window keeps only its last second (a Viber user's, their last hour).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omnibot.sandbox.fault_settings import RateLimits

TELEGRAM = "telegram"
VIBER = "viber"
_HOUR = 3600.0


@dataclass
class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``size`` of them; it starts full."""

    rate: float
    size: float
    tokens: float
    at: float

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: one is there now), after refilling up to ``now``."""
        self.tokens = min(self.size, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        # The tolerance keeps float error from refusing a token that is due exactly now.
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Admission:
    """``admit``'s verdict: ``at`` the send went, or why not and when to try again."""

    at: float
    over: str | None = None  # "telegram_bot", "telegram_chat" or "viber_user"
    retry_after: int = 0

    @property
    def refused(self) -> bool:
        return self.over is not None


def retry_after(seconds: float) -> int:
    """Telegram's ``retry_after``: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


class Traffic:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._configured: RateLimits | None = None
        self._rebuild(None)
        self.reset_stats()

    def configure(self, limits: RateLimits | None) -> None:
        """Apply new limits; buckets start full again only when the limits really changed."""
        with self._lock:
            if limits != self._configured:
                self._rebuild(limits)

    def reset(self) -> None:
        """Full buckets, empty windows and zero counters, as after a restart."""
        with self._lock:
            self._rebuild(self._configured)
        self.reset_stats()

    def _rebuild(self, limits: RateLimits | None) -> None:
        self._configured = limits
        self._limits = limits if limits is not None and limits.enforce else None
        size = self._limits.telegram_bucket if self._limits else 1.0
        rate = self._limits.telegram_per_second if self._limits else 1.0
        self._bot_bucket = _Bucket(rate, size, size, self._clock())
        self._chat_buckets: dict[str, _Bucket] = {}
        self._viber_sends: dict[str, deque[float]] = {}

    def reset_stats(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._delivered: Counter[str] = Counter({TELEGRAM: 0, VIBER: 0})
            self._over: Counter[str] = Counter({"telegram_bot": 0, "telegram_chat": 0, "viber_user": 0})
            self._injected = self._outage_hits = 0
            self._chat_window: dict[str, deque[float]] = {}
            self._bot_window: deque[float] = deque()
            self._max_chat = self._max_bot = 0
            self._first_send: float | None = None
            self._last_send: float | None = None

    # --- counting ------------------------------------------------------------------------------

    def requested(self, key: str) -> None:
        with self._lock:
            self._requests[key] += 1

    def injected(self) -> None:
        with self._lock:
            self._injected += 1

    def outage_hit(self) -> None:
        with self._lock:
            self._outage_hits += 1

    # --- sends -------------------------------------------------------------------------------

    def admit(self, channel: str, recipient: str) -> Admission:
        """Let one send to ``recipient`` (a Telegram chat id, a Viber user id) go, or refuse it."""
        with self._lock:
            now = self._clock()
            if channel == TELEGRAM:
                refusal = self._telegram_refusal(recipient, now)
                if refusal is None:
                    self._telegram_sent(recipient, now)
            else:
                refusal = self._viber_refusal(recipient, now)
            if refusal is None:
                return Admission(now)
            self._over[str(refusal.over)] += 1
            return refusal

    def settled(self, channel: str, admission: Admission, delivered: bool) -> None:
        """An admitted send's outcome: delivered ones count toward throughput."""
        if not delivered:
            return
        with self._lock:
            self._delivered[channel] += 1
            at = admission.at
            self._first_send = at if self._first_send is None else min(self._first_send, at)
            self._last_send = at if self._last_send is None else max(self._last_send, at)

    def customer_replied(self, viber_user_id: str) -> None:
        """Viber's hourly cap counts messages sent since the user last wrote to the bot."""
        with self._lock:
            self._viber_sends.pop(viber_user_id, None)

    def _telegram_refusal(self, chat: str, now: float) -> Admission | None:
        limits = self._limits
        if limits is None:
            return None
        bucket = self._chat_buckets.get(chat)
        if bucket is None:
            size = limits.telegram_chat_burst
            bucket = self._chat_buckets[chat] = _Bucket(limits.telegram_per_chat_per_second, size, size, now)
        chat_wait, bot_wait = bucket.wait(now), self._bot_bucket.wait(now)
        if chat_wait or bot_wait:
            over = "telegram_chat" if chat_wait else "telegram_bot"
            return Admission(now, over, retry_after(max(chat_wait, bot_wait)))
        bucket.tokens -= 1
        self._bot_bucket.tokens -= 1
        return None

    def _telegram_sent(self, chat: str, now: float) -> None:
        window = self._chat_window.get(chat)
        if window is None:
            window = self._chat_window[chat] = deque()
        for sends in (window, self._bot_window):
            while sends and sends[0] <= now - 1.0:
                sends.popleft()
            sends.append(now)
        self._max_chat = max(self._max_chat, len(window))
        self._max_bot = max(self._max_bot, len(self._bot_window))

    def _viber_refusal(self, user: str, now: float) -> Admission | None:
        limits = self._limits
        if limits is None:
            return None
        sends = self._viber_sends.get(user)
        if sends is None:
            sends = self._viber_sends[user] = deque()
        while sends and sends[0] <= now - _HOUR:
            sends.popleft()
        if len(sends) >= limits.viber_per_user_per_hour:
            return Admission(now, "viber_user", retry_after(sends[0] + _HOUR - now))
        sends.append(now)
        return None

    # --- reporting ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "delivered": dict(self._delivered),
                "over_limit": dict(self._over),
                "injected_errors": self._injected,
                "outage_hits": self._outage_hits,
                "max_per_chat_in_any_second": self._max_chat,
                "max_per_bot_in_any_second": self._max_bot,
                "first_send_at": self._first_send,
                "last_send_at": self._last_send,
            }
