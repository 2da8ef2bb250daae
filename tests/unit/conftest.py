"""A whole delivery world on in-memory fakes: repositories, queue, gateways, limiter, clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from omnibot.adapters.ratelimit import InMemoryRateLimiter
from omnibot.domain.model import Channel
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import Limit, ViberLedger
from omnibot.services.callbacks import StatusCallbacks
from omnibot.services.deep_links import LinkIssuer
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy, RateLimits
from omnibot.services.inbound import Inbound
from omnibot.services.linking import Linking
from omnibot.services.messages import Messages, load_templates
from omnibot.services.notify import Notifier
from tests.fake_gateway import FakeGateway
from tests.fakes import (
    InMemoryCallbackOutbox,
    InMemoryContactRepository,
    InMemoryDeliveryQueue,
    InMemoryInboundStore,
    InMemoryInboundUnit,
    InMemoryLinkTokenRepository,
    InMemoryNotificationRepository,
    InMemoryReplyOutbox,
    InMemoryUpdateLog,
    ManualClock,
    RecordingTelemetry,
)

PHONE = "+380501234567"


@dataclass
class World:
    clock: ManualClock
    contacts: InMemoryContactRepository
    notifications: InMemoryNotificationRepository
    queue: InMemoryDeliveryQueue
    telegram: FakeGateway
    viber: FakeGateway
    limiter: InMemoryRateLimiter
    engine: DeliveryEngine
    notifier: Notifier
    slept: list[float]
    tokens: InMemoryLinkTokenRepository
    links: LinkIssuer
    linking: Linking


def limits_for_tests(channel: Channel, address: str) -> list[Limit]:
    return [Limit(f"{channel}", 30, 30), Limit(f"{channel}:{address}", 1, 1)]


def bulk_share_for_tests(channel: Channel) -> list[Limit]:
    """Bulk sends: one a second per channel, of the channel's 30."""
    return [Limit(f"{channel}:bulk", 1, 1)]


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def trusting_world() -> World:
    """The seed's behaviour: an account that opened an order's link is that order's customer."""
    return make_world(trust_order_links=True)


def make_world(trust_order_links: bool = False, ledger: ViberLedger | None = None,
               default_ttl: timedelta | None = None, **policy: Any) -> World:
    """``policy``: fields of the ``DeliveryPolicy`` that differ from the tests' usual one."""
    clock = ManualClock()
    contacts = InMemoryContactRepository(now=clock.now)
    notifications = InMemoryNotificationRepository(now=clock.now, contacts=contacts)
    queue = InMemoryDeliveryQueue(notifications, clock.now)
    telegram, viber = FakeGateway(Channel.TELEGRAM), FakeGateway(Channel.VIBER)
    limiter = InMemoryRateLimiter(now=lambda: clock.now().timestamp())
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    async def sleep_async(seconds: float) -> None:
        sleep(seconds)

    policy = DeliveryPolicy(retry=RetryPolicy(base_seconds=2, max_attempts=4, jitter=lambda ceiling: ceiling),
                            **{"fallback_after": 2, **policy})
    tokens = InMemoryLinkTokenRepository()
    messages = Messages(load_templates(), default_language="en")
    engine = DeliveryEngine(contacts, tokens, messages, queue,
                            {Channel.TELEGRAM: telegram, Channel.VIBER: viber}, limiter,
                            RateLimits(limits_for_tests, lambda channel: f"{channel}", bulk_share=bulk_share_for_tests),
                            clock, policy, sleep=sleep,
                            sleep_async=sleep_async, trust_order_links=trust_order_links, ledger=ledger)
    notifier = Notifier(queue, engine, clock, owner="api:test", default_ttl=default_ttl)
    links = LinkIssuer(tokens, clock, b"test-key", "shop_bot", "shopbot", random_bytes=lambda n: bytes(range(n)))
    linking = Linking(contacts, tokens, links, messages, clock, "UA")
    return World(clock, contacts, notifications, queue, telegram, viber, limiter, engine, notifier, slept,
                 tokens, links, linking)


@dataclass
class InboundWorld:
    """The webhook side of a ``World``: ``Inbound`` over the world's stores, and what it writes and reports."""

    store: InMemoryInboundStore
    updates: InMemoryUpdateLog
    replies: InMemoryReplyOutbox
    callbacks: InMemoryCallbackOutbox
    telemetry: RecordingTelemetry
    replies_waiting: threading.Event
    inbound: Inbound


class _UnusedTransport:
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        raise AssertionError("Inbound only records callbacks; the workers post them")


@pytest.fixture
def inbound(world: World) -> InboundWorld:
    return make_inbound(world)


def make_inbound(world: World) -> InboundWorld:
    updates, replies = InMemoryUpdateLog(world.clock.now), InMemoryReplyOutbox(world.clock.now)
    callbacks = InMemoryCallbackOutbox(world.clock.now)
    store = InMemoryInboundStore(InMemoryInboundUnit(world.contacts, world.tokens, updates, replies, world.queue,
                                                     callbacks))
    telemetry, replies_waiting = RecordingTelemetry(), threading.Event()
    inbound = Inbound(store, world.links, Messages(load_templates(), default_language="en"), world.clock, "UA",
                      StatusCallbacks(callbacks, _UnusedTransport(), "test-secret", world.clock), telemetry,
                      replies_waiting=replies_waiting.set)
    return InboundWorld(store, updates, replies, callbacks, telemetry, replies_waiting, inbound)
