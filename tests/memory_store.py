"""A whole ``bootstrap.Store`` on the in-memory fakes, and the HTTP app built on it: every route,
no database, no messenger (``FakeGateway`` sends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask

from omnibot import bootstrap
from omnibot.adapters.wakeup import LocalWakeup
from omnibot.domain.model import AttemptOutcome, Channel, Notification, NotificationStatus
from omnibot.entrypoints.http.app import create_app
from omnibot.ports import OutgoingMessage, SendReceipt
from omnibot.settings import Settings
from tests.fake_dashboard import InMemoryDashboardQueries
from tests.fake_gateway import FakeGateway
from tests.fakes import (
    InMemoryCallbackOutbox,
    InMemoryContactRepository,
    InMemoryDeliveryQueue,
    InMemoryInboundStore,
    InMemoryInboundUnit,
    InMemoryLinkTokenRepository,
    InMemoryNotificationRepository,
    InMemoryOperatorSignOuts,
    InMemoryReplyOutbox,
    InMemoryUpdateLog,
    InMemoryViberLedger,
    ManualClock,
)


class InMemoryUpkeep:
    def __init__(self, notifications: InMemoryNotificationRepository) -> None:
        self._notifications = notifications
        self.closed = False
        self.purged_before: list[datetime] = []

    def schema_is_current(self) -> bool:
        return True

    def sent_since(self, channel: Channel, since: datetime) -> int:
        return sum(1 for notification in self._notifications.stored() for attempt in notification.attempts
                   if attempt.channel is channel and attempt.outcome is AttemptOutcome.SENT
                   and attempt.created_at is not None and attempt.created_at >= since)

    def billed_since(self, since: datetime) -> dict[tuple[Channel, str], Decimal]:
        spent: dict[tuple[Channel, str], Decimal] = {}
        for notification in self._notifications.stored():
            for attempt in notification.attempts:
                if attempt.price is not None and attempt.created_at is not None and attempt.created_at >= since:
                    key = (attempt.channel, attempt.price.currency)
                    spent[key] = spent.get(key, Decimal(0)) + attempt.price.amount
        return spent

    def purge(self, older_than: datetime) -> None:
        self.purged_before.append(older_than)

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryStore:
    """The fakes behind one ``bootstrap.Store``, typed as themselves for the tests' assertions."""

    clock: ManualClock
    contacts: InMemoryContactRepository
    notifications: InMemoryNotificationRepository
    queue: InMemoryDeliveryQueue
    tokens: InMemoryLinkTokenRepository
    updates: InMemoryUpdateLog
    replies: InMemoryReplyOutbox
    callbacks: InMemoryCallbackOutbox
    viber_ledger: InMemoryViberLedger
    upkeep: InMemoryUpkeep
    store: bootstrap.Store


def memory_store(clock: ManualClock | None = None) -> MemoryStore:
    clock = clock or ManualClock()
    contacts = InMemoryContactRepository(now=clock.now)
    notifications = InMemoryNotificationRepository(now=clock.now, contacts=contacts)
    queue = InMemoryDeliveryQueue(notifications, clock.now)
    tokens = InMemoryLinkTokenRepository()
    updates, replies = InMemoryUpdateLog(clock.now), InMemoryReplyOutbox(clock.now)
    callbacks = InMemoryCallbackOutbox(clock.now)
    ledger = InMemoryViberLedger()
    upkeep = InMemoryUpkeep(notifications)
    store = bootstrap.Store(
        queue=queue, contacts=contacts, tokens=tokens, updates=updates,
        inbound=InMemoryInboundStore(InMemoryInboundUnit(contacts, tokens, updates, replies, queue, callbacks)),
        callback_outbox=callbacks, reply_outbox=replies, viber_ledger=ledger,
        operator_sign_outs=InMemoryOperatorSignOuts(clock.now),
        dashboard=InMemoryDashboardQueries(notifications, contacts),
        wakeup=LocalWakeup(), upkeep=upkeep, embedded=False,
    )
    return MemoryStore(clock, contacts, notifications, queue, tokens, updates, replies, callbacks, ledger,
                       upkeep, store)


@dataclass
class MemoryApp:
    app: Flask
    memory: MemoryStore
    services: bootstrap.Services
    telegram: FakeGateway
    viber: FakeGateway

    def stored(self, notification_id: str) -> Notification:
        found = self.memory.notifications.get(notification_id)
        assert found is not None
        return found

    def statuses(self) -> list[NotificationStatus]:
        return [notification.status for notification in self.memory.notifications.stored()]


@dataclass
class NumberedGateway(FakeGateway):
    """Answers with numeric message ids, as Viber's message tokens are (receipts name them)."""

    def send(self, address: str, message: OutgoingMessage) -> SendReceipt:
        super().send(address, message)
        return SendReceipt(provider_message_id=str(5_000_000 + len(self.sent)))


def memory_app(**settings: Any) -> MemoryApp:
    """The whole HTTP app of ``omnibot serve`` with ``settings``, on fakes."""
    memory = memory_store()
    telegram, viber = FakeGateway(Channel.TELEGRAM), NumberedGateway(Channel.VIBER)
    services = bootstrap.build(Settings.from_env(**settings), store=memory.store,
                               gateways={Channel.TELEGRAM: telegram, Channel.VIBER: viber}, clock=memory.clock)
    return MemoryApp(create_app(services), memory, services, telegram, viber)
