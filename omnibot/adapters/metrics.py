"""Prometheus metrics: the ``Telemetry`` port counted with prometheus-client, and scrape-time gauges.

Counters and histograms work in gunicorn's several processes through prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set up by ``omnibot serve``): each process writes
its own files, and a scrape sums them. Gauges of the queue, of the Viber month and of the month's
billed spend are not kept in any process: ``DatabaseCollector`` reads them from the database at
each scrape of the API, so they need no multiprocess mode at all and are the same whichever
process answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from omnibot.domain.billing import billing_month
from omnibot.domain.model import AttemptOutcome, Billing, Channel, Notification, NotificationStatus, Price

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Messenger calls take tens of milliseconds when well, up to HTTP_TIMEOUT_SECONDS when not.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_FAILED = (AttemptOutcome.PERMANENT_FAILURE, AttemptOutcome.TRANSIENT_FAILURE)


class PrometheusTelemetry:
    """The ``Telemetry`` port as Prometheus counters; ``registry`` holds them for a one-process scrape."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._accepted = Counter("omnibot_notifications_accepted", "Notifications committed, by API.",
                                 ["api"], registry=r)
        self._attempts = Counter("omnibot_delivery_attempts", "Delivery attempts, by channel and outcome.",
                                 ["channel", "outcome"], registry=r)
        self._sent = Counter("omnibot_notifications_sent", "Notifications a messenger accepted, by channel.",
                             ["channel"], registry=r)
        self._failed = Counter("omnibot_notifications_failed", "Notifications failed for good, by result.",
                               ["reason"], registry=r)
        self._fallbacks = Counter("omnibot_fallbacks", "Notifications sent on a channel after another failed.",
                                  ["channel"], registry=r)
        self._latency = Histogram("omnibot_provider_request_seconds", "Duration of each call to a messenger.",
                                  ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self._throttled = Counter("omnibot_provider_throttled", "Messenger answers of 'too many requests'.",
                                  ["channel"], registry=r)
        self._webhooks = Counter("omnibot_webhook_updates", "Webhook updates received, by channel and kind.",
                                 ["channel", "kind"], registry=r)
        self._billed = Counter("omnibot_billed_messages", "Sends the messenger bills (a paid broadcast's "
                               "messages above the free rate), by channel.", ["channel"], registry=r)
        self._spend = Counter("omnibot_billed_spend", "What billed sends cost, by channel and currency "
                              "(XTR: Telegram Stars).", ["channel", "currency"], registry=r)
        self._expired = Counter("omnibot_notifications_expired", "Notifications whose deadline passed unsent.",
                                registry=r)
        self._charged = Counter("omnibot_viber_messages", "Viber sends by how Viber bills them: free_session, "
                                "free_quota or billable.", ["billing"], registry=r)

    def accepted(self, api: str) -> None:
        self._accepted.labels(api=api).inc()

    def attempt(self, channel: Channel, outcome: AttemptOutcome) -> None:
        self._attempts.labels(channel=channel.value, outcome=outcome.value).inc()

    def provider_call(self, channel: Channel, seconds: float, throttled: bool) -> None:
        self._latency.labels(channel=channel.value).observe(seconds)
        if throttled:
            self._throttled.labels(channel=channel.value).inc()

    def billed(self, channel: Channel, price: Price) -> None:
        self._billed.labels(channel=channel.value).inc()
        self._spend.labels(channel=channel.value, currency=price.currency).inc(float(price.amount))

    def charged(self, channel: Channel, billing: Billing) -> None:
        self._charged.labels(billing=billing.value).inc()

    def finished(self, notification: Notification) -> None:
        if notification.status is NotificationStatus.EXPIRED:
            self._expired.inc()
        elif notification.status is NotificationStatus.FAILED:
            self._failed.labels(reason=notification.result or "unknown").inc()
        elif notification.channel is not None:
            self._sent.labels(channel=notification.channel.value).inc()
            if any(a.channel is not notification.channel and a.outcome in _FAILED for a in notification.attempts):
                self._fallbacks.labels(channel=notification.channel.value).inc()

    def webhook_update(self, channel: Channel, kind: str) -> None:
        self._webhooks.labels(channel=channel.value, kind=kind).inc()


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time: the queue, Viber's messages this month and the
    billable ones beside the monthly budget they are held to (a setting, so alert rules can compare
    the two), and what the month's billed sends cost (``billed_spend_since``: by channel and currency).
    ``viber_ledger_used``: the month's ``(free-quota, billable)`` messages as the ledger counts them."""

    def __init__(self, depth: Callable[[], tuple[int, datetime | None]],
                 viber_sent_since: Callable[[datetime], int], now: Callable[[], datetime], *,
                 viber_monthly_budget: int,
                 billed_spend_since: Callable[[datetime], Mapping[tuple[Channel, str], Decimal]] = lambda _: {},
                 viber_ledger_used: Callable[[str], tuple[int, int]] = lambda _: (0, 0),
                 ) -> None:
        self._viber_ledger_used = viber_ledger_used
        self._depth = depth
        self._viber_sent_since = viber_sent_since
        self._now = now
        self._viber_monthly_budget = viber_monthly_budget
        self._billed_spend_since = billed_spend_since

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("omnibot_viber_monthly_budget",
                                "Billable Viber messages a month omnibot may send (VIBER_MONTHLY_BUDGET).",
                                value=self._viber_monthly_budget)
        now = self._now()
        up = GaugeMetricFamily("omnibot_database_up", "Whether the metrics' database queries succeeded.")
        try:
            count, oldest = self._depth()
            month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            viber = self._viber_sent_since(month)
            spend = self._billed_spend_since(month)
            free_quota, billable = self._viber_ledger_used(billing_month(now))
        except Exception as exc:  # a scrape must answer even while the database is away
            log.warning("metrics.database_unavailable error=%s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("omnibot_queue_depth", "Notifications queued or being sent.", value=count)
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        yield GaugeMetricFamily("omnibot_queue_oldest_age_seconds",
                                "Age of the oldest notification still queued or being sent.", value=age)
        yield GaugeMetricFamily("omnibot_viber_messages_this_month",
                                "Viber messages sent since the first of this month (UTC).", value=viber)
        yield GaugeMetricFamily("omnibot_viber_billable_this_month",
                                "Billable Viber messages taken from this month's budget (UTC), sends in "
                                "flight included.", value=billable)
        yield GaugeMetricFamily("omnibot_viber_free_quota_this_month",
                                "Viber messages taken from this month's free quota (VIBER_BILLING=quota).",
                                value=free_quota)
        billed = GaugeMetricFamily("omnibot_billed_spend_month",
                                   "What billed sends cost since the first of this month (UTC), by channel and "
                                   "currency (XTR: Telegram Stars).", labels=["channel", "currency"])
        for (channel, currency), amount in sorted(spend.items()):
            billed.add_metric([channel.value, currency], float(amount))
        yield billed


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry(telemetry: PrometheusTelemetry, collectors: Iterable[Collector] = ()) -> CollectorRegistry:
    """What a scrape answers: every process's counters (multiprocess mode) or this one's, plus ``collectors``."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = telemetry.registry
    for collector in collectors:
        registry.register(collector)
    return registry
