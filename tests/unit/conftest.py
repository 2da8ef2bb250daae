"""A whole delivery world on in-memory fakes: repositories, queue, gateways, limiter, clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from omnibot.adapters.ratelimit import InMemoryRateLimiter
from omnibot.domain.model import Channel
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import Limit
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy, RateLimits
from omnibot.services.notify import Notifier
from tests.fake_gateway import FakeGateway
from tests.fakes import InMemoryContactRepository, InMemoryDeliveryQueue, InMemoryNotificationRepository, ManualClock

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


def limits_for_tests(channel: Channel, address: str) -> list[Limit]:
    return [Limit(f"{channel}", 30, 30), Limit(f"{channel}:{address}", 1, 1)]


@pytest.fixture
def world() -> World:
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

    policy = DeliveryPolicy(retry=RetryPolicy(base_seconds=2, max_attempts=4, jitter=lambda ceiling: ceiling),
                            fallback_after=2)
    engine = DeliveryEngine(contacts, notifications, queue, {Channel.TELEGRAM: telegram, Channel.VIBER: viber},
                            limiter, RateLimits(limits_for_tests, lambda channel: f"{channel}"), clock,
                            policy, sleep=sleep)
    notifier = Notifier(queue, engine, clock, owner="api:test")
    return World(clock, contacts, notifications, queue, telegram, viber, limiter, engine, notifier, slept)
