"""The month's Viber messages the budget is enforced on."""

from __future__ import annotations

from typing import Protocol

from omnibot.domain.model import Billing


class ViberLedger(Protocol):
    """The month's count of Viber's free-quota and billable messages, shared by every worker."""

    def reserve(self, month: str, free_quota: int, budget: int) -> Billing | None:
        """Take, atomically, one of ``month``'s ``free_quota`` free messages while any is left
        (``FREE_QUOTA``), else one of its ``budget`` billable ones (``BILLABLE``); None when both
        are spent: the send must not be made."""
        ...

    def give_back(self, month: str, billing: Billing) -> None:
        """Return a message ``reserve`` took for a send the messenger refused."""
        ...

    def used(self, month: str) -> tuple[int, int]:
        """``(free-quota messages, billable messages)`` taken in ``month``."""
        ...
