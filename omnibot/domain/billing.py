"""What a Viber send costs: Viber's terms since February 2024, as the shop configures them.

A message inside a *session* (the 24 hours after the customer last wrote to the bot) is free.
Outside it a message is bot-initiated: an account on the quota model has a number of those free
each calendar month, and every other one is billed. The budget caps the billed ones a month.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from omnibot.domain.model import Billing, Price


class BillingModel(enum.StrEnum):
    QUOTA = "quota"  # older accounts: some bot-initiated messages a month are free
    PER_MESSAGE = "per_message"  # commercial bots: every bot-initiated message is billed


@dataclass(frozen=True)
class ViberTerms:
    model: BillingModel = BillingModel.PER_MESSAGE
    free_messages_per_month: int = 0
    # Billable messages a month; a send that would be one more is not made. Free ones never count.
    monthly_budget: int = 10_000
    price: Price | None = None
    session: timedelta = timedelta(hours=24)

    @property
    def free_quota(self) -> int:
        return self.free_messages_per_month if self.model is BillingModel.QUOTA else 0

    def in_session(self, last_message_at: datetime | None, now: datetime) -> bool:
        return last_message_at is not None and now - last_message_at < self.session

    def price_of(self, billing: Billing) -> Price | None:
        return self.price if billing is Billing.BILLABLE else None


def billing_month(now: datetime) -> str:
    """The calendar month a send is counted in, in UTC: ``2026-12``."""
    return now.astimezone(UTC).strftime("%Y-%m")
