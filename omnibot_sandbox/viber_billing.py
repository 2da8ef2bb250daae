"""Viber's chatbot billing: which of the bot's ``send_message`` calls are free and which are paid.

A customer's message to the bot opens a session (or opens it again) for ``viber_session_seconds``;
what the bot sends inside it is free. Outside it the message is bot-initiated ("chatbot"): on the
``per_message`` model (bots since February 2024) every one is billed; on the ``quota`` model
(older accounts) the first ``viber_free_messages_per_month`` of a calendar month (UTC) are free and
the rest billed. ``viber_balance_messages`` caps the billed ones (None: no cap): past it a send is
refused with Viber's ``noBalance`` (per_message) or ``freeMessagesExceeded`` (quota).

``ViberBilling`` has no lock of its own: ``traffic.Traffic`` calls it under its lock. A send's
free message or paid message is held back at admission and given back if the send then fails, so
only delivered messages count and concurrent sends never overdraw the allowance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnibot_sandbox.fault_settings import RateLimits

FREE_SESSION = "free_session"
FREE_QUOTA = "free_quota"
BILLABLE = "billable"
KINDS = (FREE_SESSION, FREE_QUOTA, BILLABLE)
# Why a billable send was refused; fault_answers turns each into Viber's status.
NO_BALANCE = "viber_no_balance"  # status 24
FREE_MESSAGES_EXCEEDED = "viber_free_messages_exceeded"  # status 23
# ``billing_status`` as Viber's send_message documentation numbers it: 1 and 3 are a
# non-billable bot's (the quota model), 2 a billable bot's; 5 is the only charged value.
_BILLING_STATUS = {
    ("quota", FREE_SESSION): 1, ("per_message", FREE_SESSION): 2,
    ("quota", FREE_QUOTA): 3, ("quota", BILLABLE): 5, ("per_message", BILLABLE): 5,
}


def calendar_month(now: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.year, moment.month


@dataclass
class _Allowance:
    """What the account has left: free messages used this month, billable messages it can pay for."""

    month: tuple[int, int]
    free_used: int = 0
    balance: int | None = None


@dataclass(frozen=True)
class Billing:
    """How one admitted ``send_message`` is billed: ``kind`` for the sandbox's figures,
    ``status`` for Viber's answer. Until settled it holds its message against ``allowance``."""

    kind: str
    status: int
    allowance: _Allowance | None = field(default=None, compare=False, repr=False)


class ViberBilling:
    def __init__(self, now: float) -> None:
        self._last_message: dict[str, float] = {}
        self._counts: Counter[str] = Counter()
        self.configure(None, now)
        self.reset_counts()

    def configure(self, limits: RateLimits | None, now: float) -> None:
        """New terms: the month's free messages and the balance start over, sessions stay."""
        self._terms = limits or RateLimits()
        self._allowance = _Allowance(calendar_month(now), balance=self._terms.viber_balance_messages)

    def forget_sessions(self) -> None:
        self._last_message.clear()

    def reset_counts(self) -> None:
        self._counts = Counter(dict.fromkeys(KINDS, 0))

    def customer_wrote(self, user: str, now: float) -> None:
        self._last_message[user] = now

    def admit(self, user: str, now: float) -> Billing | str:
        """The billing of one send to ``user`` now, its message held back; or why it is refused."""
        terms, allowance = self._terms, self._allowance
        last = self._last_message.get(user)
        if last is not None and now - last < terms.viber_session_seconds:
            return self._billing(FREE_SESSION)
        month = calendar_month(now)
        if allowance.month != month:
            allowance.month, allowance.free_used = month, 0
        if terms.viber_billing == "quota" and allowance.free_used < terms.viber_free_messages_per_month:
            allowance.free_used += 1
            return self._billing(FREE_QUOTA, allowance)
        if allowance.balance is not None:
            if allowance.balance < 1:
                return FREE_MESSAGES_EXCEEDED if terms.viber_billing == "quota" else NO_BALANCE
            allowance.balance -= 1
        return self._billing(BILLABLE, allowance)

    def settled(self, billing: Billing, delivered: bool) -> None:
        """Count a delivered message; give an undelivered one's free or paid message back."""
        if delivered:
            self._counts[billing.kind] += 1
            return
        allowance = billing.allowance
        if allowance is None:
            return
        if billing.kind == FREE_QUOTA:
            allowance.free_used = max(0, allowance.free_used - 1)
        elif allowance.balance is not None:
            allowance.balance += 1

    def figures(self, now: float) -> dict[str, Any]:
        terms, allowance = self._terms, self._allowance
        used = allowance.free_used if allowance.month == calendar_month(now) else 0
        free = terms.viber_free_messages_per_month if terms.viber_billing == "quota" else 0
        return {
            "viber_billing": dict(self._counts),
            # Not counters: what the account has left, which only new terms or a full reset refill.
            "viber_free_messages_left": max(0, free - used),
            "viber_balance_messages": allowance.balance,
        }

    def _billing(self, kind: str, allowance: _Allowance | None = None) -> Billing:
        return Billing(kind, _BILLING_STATUS[(self._terms.viber_billing, kind)], allowance)
