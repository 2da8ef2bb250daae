"""Webhook updates: handled once, in one transaction, with the replies they leave for the workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from omnibot.domain.model import Channel
from omnibot.ports.callbacks import CallbackOutbox
from omnibot.ports.customers import ContactRepository, LinkTokenRepository
from omnibot.ports.messengers import BotReply
from omnibot.ports.notifications import ReceiptLog

T = TypeVar("T")


class UpdateLog(Protocol):
    """Webhook updates already handled: messengers redeliver, omnibot acts once."""

    def claim(self, channel: Channel, key: str) -> bool:
        """Record the update as handled in the caller's transaction; False when it was already
        (waits for a transaction handling it at the same time to end)."""
        ...

    def keep_reply(self, channel: Channel, key: str, reply: BotReply) -> None:
        """Keep the reply carried in the webhook's answer, to answer a redelivery alike."""
        ...

    def reply_to(self, channel: Channel, key: str) -> BotReply | None:
        """The reply kept for a handled update."""
        ...

    def forget_before(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class ReplyJob:
    id: int
    reply: BotReply
    attempts: int


class ReplyOutbox(Protocol):
    """Bot replies that cannot ride in a webhook's answer, stored with the update, sent by the workers."""

    def add(self, reply: BotReply) -> None: ...

    def claim(self, limit: int, lease_seconds: float) -> list[ReplyJob]: ...

    def done(self, job_id: int) -> None: ...

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        """Try again after ``delay_seconds``; ``None`` gives up (the error stays for operators)."""
        ...

    def postpone(self, job_id: int, delay_seconds: float) -> None:
        """Due again in ``delay_seconds``; the claim does not count as a try."""
        ...

    def forget_given_up(self, before: datetime) -> int:
        """Delete the replies given up on that were written before ``before``; how many."""
        ...


class InboundUnit(Protocol):
    """The stores one webhook update reads and writes, all in one transaction."""

    contacts: ContactRepository
    tokens: LinkTokenRepository
    updates: UpdateLog
    replies: ReplyOutbox
    receipts: ReceiptLog
    callbacks: CallbackOutbox


class InboundStore(Protocol):
    def run(self, work: Callable[[InboundUnit], T]) -> T:
        """Run ``work`` in one transaction, committed when it returns and rolled back when it
        raises; once more on a fresh connection when the first one turned out dead."""
        ...
