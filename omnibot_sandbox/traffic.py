"""Rate limits as the messengers enforce them, and the figures ``GET /sandbox/stats`` reports.

Every send passes ``admit`` once: under one small lock it reads the clock, checks the limits and,
if the send may go, takes its tokens and notes its time in the sliding one-second windows. So the
windows hold exactly the sends the limiter let through, in clock order, and "never more than N to
one chat in any second" is checked against the same instants the limiter used. Each step is O(1)
amortised: a window keeps only its last second (a Viber user's, their last hour).

Paid broadcasts (``allow_paid_broadcast``) pass a bot-wide bucket of their own, at 1000 a second
by default; one is free when it finds a token in the free bucket, which it then takes, and costs
0.1 Stars otherwise. ``admit`` holds those Stars back from the balance; ``settled`` spends them if
the message was delivered and puts them back if not, so only delivered messages are paid for and
concurrent sends can never overdraw the balance.

Viber's ``send_message`` is billed too, whether or not limits are enforced: ``admit`` asks
``viber_billing.ViberBilling`` (under the same lock) whether it is free or paid for, and
``settled`` counts it, the same way.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omnibot_sandbox.fault_settings import RateLimits
from omnibot_sandbox.viber_billing import FREE_MESSAGES_EXCEEDED, NO_BALANCE, Billing, ViberBilling

TELEGRAM = "telegram"
VIBER = "viber"
# ``Admission.over`` for a paid broadcast refused because the bot cannot pay for it.
SHORT_OF_STARS = "telegram_stars"
# Refusals because the bot cannot pay: not rate limits, so not counted in over_limit.
UNPAID = frozenset({SHORT_OF_STARS, NO_BALANCE, FREE_MESSAGES_EXCEEDED})
_HOUR = 3600.0
# Stars are counted in tenths, so that 0.1 a message adds up exactly.
_PAID_MESSAGE_TENTHS = 1


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


@dataclass
class _Stars:
    """The bot's Stars balance, in tenths of a Star."""

    tenths: int


@dataclass(frozen=True)
class Admission:
    """``admit``'s verdict: ``at`` the send went, or why not and when to try again."""

    at: float
    # "telegram_bot", "telegram_chat" or "viber_user"; or one of UNPAID, which have no retry_after.
    over: str | None = None
    retry_after: int = 0
    # The balance a paid broadcast's Stars are held back from, until the send is settled.
    charged_to: _Stars | None = None
    # How a Viber send_message is billed, its message held back until the send is settled.
    billing: Billing | None = None

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
        self._viber_billing = ViberBilling(clock())
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
            self._viber_billing.forget_sessions()
        self.reset_stats()

    def _rebuild(self, limits: RateLimits | None) -> None:
        self._configured = limits
        self._limits = limits if limits is not None and limits.enforce else None
        # With no limits in force nobody asks the buckets; building them from the defaults is simplest.
        shape, now = self._limits or RateLimits(), self._clock()
        self._bot_bucket = _Bucket(shape.telegram_per_second, shape.telegram_bucket, shape.telegram_bucket, now)
        self._paid_bucket = _Bucket(shape.telegram_paid_per_second, shape.telegram_paid_bucket,
                                    shape.telegram_paid_bucket, now)
        # A new balance object: Stars held back from the old one are not put back into this one.
        self._stars = _Stars(math.floor(shape.telegram_stars_balance * 10 + 1e-9))
        self._chat_buckets: dict[str, _Bucket] = {}
        self._viber_sends: dict[str, deque[float]] = {}
        # Billing follows the limits as given: it does not wait for them to be enforced.
        self._viber_billing.configure(limits, now)

    def reset_stats(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._delivered: Counter[str] = Counter({TELEGRAM: 0, VIBER: 0})
            self._over: Counter[str] = Counter({"telegram_bot": 0, "telegram_chat": 0, "viber_user": 0})
            self._injected = self._outage_hits = 0
            self._paid = self._stars_spent_tenths = 0
            self._chat_window: dict[str, deque[float]] = {}
            self._bot_window: deque[float] = deque()
            self._max_chat = self._max_bot = 0
            self._first_send: float | None = None
            self._last_send: float | None = None
            self._viber_billing.reset_counts()

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

    def admit(self, channel: str, recipient: str, paid_broadcast: bool = False,
              chatbot_message: bool = False) -> Admission:
        """Let one send to ``recipient`` (a Telegram chat id, a Viber user id) go, or refuse it.

        ``paid_broadcast``: a Telegram send with ``allow_paid_broadcast``. ``chatbot_message``: a
        Viber ``send_message``, which Viber bills unless it is inside the user's session.
        """
        with self._lock:
            now = self._clock()
            if channel == TELEGRAM:
                admission = self._telegram_admission(recipient, now, paid_broadcast)
                if not admission.refused:
                    self._telegram_sent(recipient, now)
            else:
                admission = self._viber_admission(recipient, now, chatbot_message)
            if admission.refused and admission.over not in UNPAID:
                self._over[str(admission.over)] += 1
            return admission

    def settled(self, channel: str, admission: Admission, delivered: bool) -> None:
        """An admitted send's outcome: delivered ones count toward throughput, and a paid
        broadcast's Stars are spent if it was delivered and put back if not."""
        stars = admission.charged_to
        with self._lock:
            if admission.billing is not None:
                self._viber_billing.settled(admission.billing, delivered)
            if not delivered:
                if stars is not None:
                    stars.tenths += _PAID_MESSAGE_TENTHS
                return
            self._delivered[channel] += 1
            if stars is not None:
                self._paid += 1
                self._stars_spent_tenths += _PAID_MESSAGE_TENTHS
            at = admission.at
            self._first_send = at if self._first_send is None else min(self._first_send, at)
            self._last_send = at if self._last_send is None else max(self._last_send, at)

    def customer_replied(self, viber_user_id: str) -> None:
        """Viber's hourly cap counts messages sent since the user last wrote to the bot, and what
        the bot sends in the session this opens is free."""
        with self._lock:
            self._viber_sends.pop(viber_user_id, None)
            self._viber_billing.customer_wrote(viber_user_id, self._clock())

    def _telegram_admission(self, chat: str, now: float, paid_broadcast: bool) -> Admission:
        limits = self._limits
        if limits is None:
            return Admission(now)
        bucket = self._chat_buckets.get(chat)
        if bucket is None:
            size = limits.telegram_chat_burst
            bucket = self._chat_buckets[chat] = _Bucket(limits.telegram_per_chat_per_second, size, size, now)
        chat_wait, free_wait = bucket.wait(now), self._bot_bucket.wait(now)
        bot_wait = self._paid_bucket.wait(now) if paid_broadcast else free_wait
        if chat_wait or bot_wait:
            over = "telegram_chat" if chat_wait else "telegram_bot"
            return Admission(now, over, retry_after(max(chat_wait, bot_wait)))
        charged = paid_broadcast and free_wait > 0
        if charged and self._stars.tenths < _PAID_MESSAGE_TENTHS:
            return Admission(now, SHORT_OF_STARS)
        bucket.tokens -= 1
        if paid_broadcast:
            self._paid_bucket.tokens -= 1
        if not charged:
            self._bot_bucket.tokens -= 1
            return Admission(now)
        self._stars.tenths -= _PAID_MESSAGE_TENTHS
        return Admission(now, charged_to=self._stars)

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

    def _viber_admission(self, user: str, now: float, chatbot_message: bool) -> Admission:
        """The hourly cap first, then billing; a send either refuses takes nothing from the other."""
        limits, sends = self._limits, None
        if limits is not None:
            sends = self._viber_sends.get(user)
            if sends is None:
                sends = self._viber_sends[user] = deque()
            while sends and sends[0] <= now - _HOUR:
                sends.popleft()
            if len(sends) >= limits.viber_per_user_per_hour:
                return Admission(now, "viber_user", retry_after(sends[0] + _HOUR - now))
        billing = self._viber_billing.admit(user, now) if chatbot_message else None
        if isinstance(billing, str):
            return Admission(now, billing)
        if sends is not None:
            sends.append(now)
        return Admission(now, billing=billing)

    # --- reporting ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "delivered": dict(self._delivered),
                "over_limit": dict(self._over),
                "injected_errors": self._injected,
                "outage_hits": self._outage_hits,
                "telegram_paid": self._paid,
                "telegram_stars_spent": self._stars_spent_tenths / 10,
                # Not a counter: what is left, which only new limits or a full reset refill.
                "telegram_stars_balance": self._stars.tenths / 10 if self._limits else None,
                **self._viber_billing.figures(self._clock()),
                "max_per_chat_in_any_second": self._max_chat,
                "max_per_bot_in_any_second": self._max_bot,
                "first_send_at": self._first_send,
                "last_send_at": self._last_send,
            }
