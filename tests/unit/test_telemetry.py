"""What the delivery engine and the notifier report for metrics, counted by the Prometheus adapter."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from omnibot.adapters.metrics import DatabaseCollector, PrometheusTelemetry, scrape_registry
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.domain.model import AttemptOutcome, Channel, Contact
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy, RateLimits
from omnibot.services.messages import Messages, load_templates
from omnibot.services.notify import NotificationRequest, Notifier
from tests.unit.conftest import PHONE, World, limits_for_tests

OWNER = "worker:test"


@pytest.fixture
def telemetry() -> PrometheusTelemetry:
    return PrometheusTelemetry()


@pytest.fixture
def notifier(world: World, telemetry: PrometheusTelemetry) -> Notifier:
    """The world's notifier and engine, reporting to ``telemetry``; every provider call takes 0.25 s."""
    ticks = itertools.count(step=0.25)
    engine = DeliveryEngine(
        world.contacts, world.tokens, Messages(load_templates(), default_language="en"), world.queue,
        {Channel.TELEGRAM: world.telegram, Channel.VIBER: world.viber}, world.limiter,
        RateLimits(limits_for_tests, lambda channel: f"{channel}"), world.clock, DeliveryPolicy(fallback_after=1),
        telemetry=telemetry, timer=lambda: next(ticks))
    return Notifier(world.queue, engine, world.clock, owner=OWNER, telemetry=telemetry)


def value(telemetry: PrometheusTelemetry, name: str, **labels: str) -> float:
    return telemetry.registry.get_sample_value(name, labels) or 0.0


def test_a_trigger_sent_on_telegram_counts_acceptance_attempt_send_and_latency(
    world: World, notifier: Notifier, telemetry: PrometheusTelemetry
) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    assert notifier.trigger(PHONE, "ORD-1", ["Laptop"]).result == "Sent via Telegram"
    assert value(telemetry, "omnibot_notifications_accepted_total", api="trigger") == 1
    assert value(telemetry, "omnibot_delivery_attempts_total", channel="telegram", outcome="sent") == 1
    assert value(telemetry, "omnibot_notifications_sent_total", channel="telegram") == 1
    assert value(telemetry, "omnibot_provider_request_seconds_sum", channel="telegram") == 0.25
    assert value(telemetry, "omnibot_provider_request_seconds_bucket", channel="telegram", le="0.25") == 1
    assert value(telemetry, "omnibot_fallbacks_total", channel="telegram") == 0


def test_viber_after_a_blocked_telegram_is_a_fallback(
    world: World, notifier: Notifier, telemetry: PrometheusTelemetry
) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42, viber_user_id="v="))
    world.telegram.failure = PermanentFailure("telegram 403: Forbidden: bot was blocked by the user", "blocked")
    assert notifier.trigger(PHONE, "ORD-1", []).result == "Sent via Viber"
    assert value(telemetry, "omnibot_delivery_attempts_total", channel="telegram", outcome="permanent_failure") == 1
    assert value(telemetry, "omnibot_notifications_sent_total", channel="viber") == 1
    assert value(telemetry, "omnibot_fallbacks_total", channel="viber") == 1


def test_429s_are_counted_per_channel_and_failures_by_result(
    world: World, notifier: Notifier, telemetry: PrometheusTelemetry
) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = TransientFailure("telegram 429: Too Many Requests", retry_after=3, throttled=True)
    assert notifier.trigger(PHONE, "ORD-1", []).result == "Queued for retry"
    assert value(telemetry, "omnibot_provider_throttled_total", channel="telegram") == 1
    assert value(telemetry, "omnibot_delivery_attempts_total", channel="telegram", outcome="transient_failure") == 1
    assert notifier.trigger("+380671112233", "ORD-404", []).result == "Failed: User not found"
    assert value(telemetry, "omnibot_notifications_failed_total", reason="Failed: User not found") == 1


def test_submissions_count_once_even_when_replayed(notifier: Notifier, telemetry: PrometheusTelemetry) -> None:
    request = NotificationRequest(phone=PHONE, order_id="ORD-1")
    for _ in range(2):
        notifier.submit(request, idempotency_key="same")
    assert value(telemetry, "omnibot_notifications_accepted_total", api="v1") == 1


def test_skipped_channels_count_as_attempts_without_a_provider_call(telemetry: PrometheusTelemetry) -> None:
    telemetry.attempt(Channel.VIBER, AttemptOutcome.SKIPPED)
    assert value(telemetry, "omnibot_delivery_attempts_total", channel="viber", outcome="skipped") == 1
    assert value(telemetry, "omnibot_provider_request_seconds_count", channel="viber") == 0


def test_database_gauges_are_read_at_scrape_time(telemetry: PrometheusTelemetry) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    asked: list[datetime] = []

    def viber_since(since: datetime) -> int:
        asked.append(since)
        return 7

    registry = scrape_registry(telemetry, [DatabaseCollector(
        lambda: (3, now - timedelta(seconds=90)), viber_since, lambda: now, viber_monthly_budget=2500)])
    text = generate_latest(registry).decode()
    assert "omnibot_queue_depth 3.0" in text
    assert "omnibot_queue_oldest_age_seconds 90.0" in text
    assert "omnibot_viber_messages_this_month 7.0" in text
    assert "omnibot_viber_monthly_budget 2500.0" in text
    assert "omnibot_database_up 1.0" in text
    assert asked == [datetime(2026, 11, 1, tzinfo=UTC)]


def test_a_scrape_answers_while_the_database_is_away(telemetry: PrometheusTelemetry) -> None:
    def down() -> tuple[int, datetime | None]:
        raise ConnectionError("database is away")

    registry = scrape_registry(telemetry, [DatabaseCollector(down, lambda since: 0, lambda: datetime.now(UTC),
                                                             viber_monthly_budget=2500)])
    text = generate_latest(registry).decode()
    assert "omnibot_database_up 0.0" in text
    assert "omnibot_viber_monthly_budget 2500.0" in text  # a setting: known with or without the database
    assert "omnibot_queue_depth" not in text


def test_a_crashed_pass_is_counted_as_an_attempt_of_its_own(
    world: World, notifier: Notifier, telemetry: PrometheusTelemetry
) -> None:
    world.contacts.add(Contact(phone=PHONE, phone_verified=True, telegram_chat_id=42))
    world.telegram.failure = ValueError("a bug in a gateway")
    assert notifier.trigger(PHONE, "ORD-1", ["Laptop"]).result == "Queued for retry"
    assert value(telemetry, "omnibot_delivery_attempts_total", channel="telegram", outcome="crashed") == 1
