"""The composition root: the one place that reads Settings and wires adapters into services."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import httpx

from omnibot.adapters.async_http import AsyncHttp
from omnibot.adapters.callback_http import HttpCallbackTransport
from omnibot.adapters.clock import SystemClock
from omnibot.adapters.db import migrate
from omnibot.adapters.db.admin_queries import SqlDashboardQueries
from omnibot.adapters.db.engine import API_THREADS as API_THREADS
from omnibot.adapters.db.engine import WORKER_STORE_THREADS as WORKER_STORE_THREADS
from omnibot.adapters.db.engine import connections_needed as connections_needed
from omnibot.adapters.db.engine import database_url, make_engine, pool_limits
from omnibot.adapters.db.group_commit import GroupCommitQueue
from omnibot.adapters.db.inbound_store import SqlInboundStore
from omnibot.adapters.db.link_tokens import SqlLinkTokenRepository
from omnibot.adapters.db.operator_sign_outs import SqlOperatorSignOuts
from omnibot.adapters.db.outbox import SqlCallbackOutbox, SqlReplyOutbox
from omnibot.adapters.db.probe import probe_database as probe_database
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlContactRepository
from omnibot.adapters.db.update_log import SqlUpdateLog
from omnibot.adapters.db.upkeep import SqlStoreUpkeep
from omnibot.adapters.db.viber_ledger import SqlViberLedger
from omnibot.adapters.http_pool import HttpClient, PerThreadClient
from omnibot.adapters.ratelimit import make_rate_limiter
from omnibot.adapters.telegram import TelegramGateway, TelegramWebhook
from omnibot.adapters.viber import ViberGateway, ViberWebhook
from omnibot.adapters.wakeup import LocalWakeup, PostgresWakeup
from omnibot.domain.errors import StoreError
from omnibot.domain.model import Channel
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import (
    CallbackOutbox,
    Clock,
    ContactRepository,
    DashboardQueries,
    DeliveryQueue,
    InboundStore,
    LinkTokenRepository,
    MessengerGateway,
    OperatorSignOuts,
    RateLimiter,
    ReplyOutbox,
    UpdateLog,
    ViberLedger,
    Wakeup,
    WebhookEndpoint,
)
from omnibot.services.callbacks import StatusCallbacks
from omnibot.services.deep_links import LinkIssuer
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy
from omnibot.services.inbound import Inbound
from omnibot.services.messages import Messages, load_templates
from omnibot.services.notify import Notifier
from omnibot.services.privacy import CustomerRecords
from omnibot.services.rate_limits import PAID_BROADCAST_PRICE as PAID_BROADCAST_PRICE
from omnibot.services.rate_limits import MessengerRates, RateLimits, messenger_limits
from omnibot.services.replies import ReplySender
from omnibot.services.sign_in_throttle import SignInThrottle
from omnibot.settings import Settings

if TYPE_CHECKING:
    # prometheus-client reads PROMETHEUS_MULTIPROC_DIR when first imported: `omnibot serve` sets it
    # after reading its settings (which may import this module), so only build() imports it.
    from prometheus_client import CollectorRegistry

    from omnibot.adapters.metrics import PrometheusTelemetry


class StoreUpkeep(Protocol):
    """What only the composition root asks of the store: its schema, the counts behind ``/metrics``,
    the retention chore, closing it."""

    def schema_is_current(self) -> bool:
        """Whether the store has the schema this omnibot expects; ``StoreError`` when it does not answer."""
        ...

    def sent_since(self, channel: Channel, since: datetime) -> int: ...

    def billed_since(self, since: datetime) -> dict[tuple[Channel, str], Decimal]: ...

    def purge(self, older_than: datetime) -> None:
        """Delete the notifications that finished before ``older_than``."""
        ...

    def close(self) -> None: ...


@dataclass
class Store:
    """Where a process keeps its state, one object a port: the database's adapters in production
    (``sql_store``), in-memory fakes in tests (``build(settings, store=...)``)."""

    queue: DeliveryQueue  # the notifications' one owner: leases, attempts, receipts, reads, erasure
    contacts: ContactRepository
    tokens: LinkTokenRepository
    updates: UpdateLog
    inbound: InboundStore
    callback_outbox: CallbackOutbox
    reply_outbox: ReplyOutbox
    viber_ledger: ViberLedger  # the month's free-quota and billable Viber messages
    operator_sign_outs: OperatorSignOuts  # the dashboard's sign-outs, shared by every process
    dashboard: DashboardQueries  # the dashboard's read models
    wakeup: Wakeup
    upkeep: StoreUpkeep
    embedded: bool  # one process owns the store and runs the worker inside the API (SQLite)


@dataclass
class Services:
    """Everything the entrypoints need, built once per process."""

    settings: Settings
    store: Store
    delivery: DeliveryEngine
    notifier: Notifier
    inbound: Inbound  # webhook updates
    webhooks: Mapping[Channel, WebhookEndpoint]  # the configured messengers' sides of the webhooks
    replies: ReplySender  # the bot's queued replies, sent by the workers
    replies_waiting: threading.Event  # set when this process queued a reply (the embedded worker sends it at once)
    limiter: RateLimiter
    limits: RateLimits
    callbacks: StatusCallbacks
    links: LinkIssuer
    records: CustomerRecords
    clock: Clock
    telemetry: PrometheusTelemetry  # the Telemetry port, and the counters /metrics answers with
    async_http: AsyncHttp  # the delivery worker's sends, on its event loop
    http: PerThreadClient  # the synchronous sends: the trigger, replies, status callbacks
    sign_in_throttle: SignInThrottle  # the dashboard's password guessers, per client address, this process only

    @property
    def embedded(self) -> bool:
        """SQLite: one process does everything, the worker runs inside the API."""
        return self.store.embedded

    def schema_is_current(self) -> bool:
        """Whether the database answers with the schema this omnibot expects; ``StoreError`` when
        it does not answer."""
        return self.store.upkeep.schema_is_current()

    def close(self) -> None:
        self.store.upkeep.close()
        self.http.close()


def worker_name(role: str = "worker") -> str:
    """Who holds a lease: the role, host and process, unique per start."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def embedded_database(settings: Settings) -> bool:
    """Whether ``DATABASE_URL`` names SQLite (the default): one process owns it and runs the worker."""
    return database_url(settings.database_url).startswith("sqlite")


def upgrade_database(settings: Settings) -> str | None:
    """Create or upgrade the schema of ``DATABASE_URL``; the revision it is at now."""
    engine = make_engine(database_url(settings.database_url))
    try:
        migrate.upgrade(engine)
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def build_gateways(settings: Settings, http: HttpClient,
                   async_http: AsyncHttp | None = None) -> tuple[TelegramGateway | None, ViberGateway | None]:
    """A gateway for every messenger whose token is configured."""
    telegram_token = settings.secret("telegram_bot_token")
    viber_token = settings.secret("viber_auth_token")
    telegram = (TelegramGateway(telegram_token, str(settings.telegram_api_url), http, async_http,
                                paid_broadcast=settings.telegram_paid_broadcast)
                if telegram_token else None)
    viber = (ViberGateway(viber_token, str(settings.viber_api_url), settings.viber_sender_name, http, async_http)
             if viber_token else None)
    return telegram, viber


def build_webhooks(settings: Settings, viber: ViberGateway | None) -> dict[Channel, WebhookEndpoint]:
    """The webhook of every messenger whose token is configured; a webhook with no way to tell
    the messenger's updates from a stranger's is never open."""
    webhooks: dict[Channel, WebhookEndpoint] = {}
    telegram_secret = settings.telegram_webhook_key()
    if telegram_secret is not None:
        webhooks[Channel.TELEGRAM] = TelegramWebhook(telegram_secret)
    viber_token = settings.secret("viber_auth_token")
    if viber is not None and viber_token:
        webhooks[Channel.VIBER] = ViberWebhook(viber_token, viber)
    return webhooks


def rate_limits(settings: Settings) -> RateLimits:
    """The token buckets of the configured messengers (``services/rate_limits.py`` has the margins)."""
    return messenger_limits(MessengerRates(
        telegram_token=settings.secret("telegram_bot_token"), viber_token=settings.secret("viber_auth_token"),
        telegram_per_second=settings.telegram_rate_per_second,
        telegram_paid_broadcast=settings.telegram_paid_broadcast,
        telegram_paid_per_second=settings.telegram_paid_rate_per_second,
        telegram_chat_per_second=settings.telegram_chat_rate_per_second,
        viber_per_second=settings.viber_rate_per_second,
        viber_user_messages_per_hour=settings.viber_user_messages_per_hour, bulk_share=settings.bulk_share))


def sql_store(settings: Settings, role: str, clock: Clock) -> Store:
    """The store on ``DATABASE_URL``, its pool sized for ``role``."""
    url = database_url(settings.database_url)
    pool_size, max_overflow = pool_limits(role, embedded_worker=url.startswith("sqlite"))
    engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    wakeup: LocalWakeup | PostgresWakeup
    if engine.dialect.name == "postgresql":
        wakeup = PostgresWakeup(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    else:
        wakeup = LocalWakeup()
    queue = GroupCommitQueue(SqlDeliveryQueue(engine, clock.now, on_enqueue=wakeup.notify))
    return Store(
        queue=queue,
        contacts=SqlContactRepository(engine, now=clock.now),
        tokens=SqlLinkTokenRepository(engine),
        updates=SqlUpdateLog(engine, clock.now),
        inbound=SqlInboundStore(engine, clock.now),
        callback_outbox=SqlCallbackOutbox(engine, clock.now),
        reply_outbox=SqlReplyOutbox(engine, clock.now),
        viber_ledger=SqlViberLedger(engine, clock.now),
        operator_sign_outs=SqlOperatorSignOuts(engine, clock.now),
        dashboard=SqlDashboardQueries(engine),
        wakeup=wakeup,
        upkeep=SqlStoreUpkeep(engine, queue, wakeup),
        embedded=engine.dialect.name == "sqlite",
    )


def build(settings: Settings, *, role: str = "api", store: Store | None = None,
          gateways: Mapping[Channel, MessengerGateway] | None = None, clock: Clock | None = None) -> Services:
    """Everything a process of ``role`` needs. Production passes settings alone; tests pass a
    ``store`` of fakes, fake ``gateways`` (the messengers' senders; the webhooks' checks still come
    from the settings) and a ``clock`` they move."""
    clock = clock or SystemClock()
    store = store or sql_store(settings, role, clock)
    http = PerThreadClient(httpx.Timeout(settings.http_timeout_seconds, connect=5.0))
    async_http = AsyncHttp(settings.http_timeout_seconds, max_connections=settings.worker_concurrency)
    telegram, viber = build_gateways(settings, http, async_http)
    if gateways is None:
        gateways = {channel: gateway for channel, gateway in ((Channel.TELEGRAM, telegram), (Channel.VIBER, viber))
                    if gateway is not None}
    limiter = make_rate_limiter(settings.redis_url)
    policy = DeliveryPolicy(
        retry=RetryPolicy(base_seconds=settings.retry_base_seconds, max_attempts=settings.retry_max_attempts,
                          max_age=timedelta(seconds=settings.retry_max_age_seconds)),
        fallback_after=settings.fallback_after_failures,
        max_channel_wait_seconds=settings.max_channel_wait_seconds,
        quiet_hours=settings.quiet_window(),
        viber_terms=settings.viber_terms(),
    )
    callbacks = StatusCallbacks(
        store.callback_outbox,
        HttpCallbackTransport(http, allow_private=settings.callback_allow_private), settings.callback_secret(), clock,
        default_url=None if settings.status_webhook_url is None else str(settings.status_webhook_url))
    messages = Messages(load_templates(settings.templates_dir), settings.default_language)
    links = LinkIssuer(store.tokens, clock, settings.link_key(), settings.telegram_bot_username,
                       settings.viber_bot_uri, default_ttl=timedelta(hours=settings.link_ttl_hours))
    from omnibot.adapters.metrics import PrometheusTelemetry

    telemetry = PrometheusTelemetry()
    limits = rate_limits(settings)
    delivery = DeliveryEngine(store.contacts, store.tokens, messages, store.queue, gateways, limiter,
                              limits, clock, policy, status_callback=callbacks.callback_for,
                              trust_order_links=settings.trust_order_links, telemetry=telemetry,
                              outage_errors=(StoreError,), ledger=store.viber_ledger)
    replies_waiting = threading.Event()
    inbound = Inbound(store.inbound, links, messages, clock, settings.default_phone_region,
                      callbacks, telemetry, replies_waiting=replies_waiting.set)
    return Services(
        settings=settings,
        store=store,
        delivery=delivery,
        notifier=Notifier(store.queue, delivery, clock, owner=worker_name(role), lease_seconds=settings.lease_seconds,
                          telemetry=telemetry, default_ttl=(timedelta(seconds=settings.notification_ttl_seconds)
                                                            if settings.notification_ttl_seconds else None)),
        inbound=inbound,
        webhooks=build_webhooks(settings, viber),
        replies=ReplySender(store.reply_outbox, gateways, limiter, limits),
        replies_waiting=replies_waiting,
        limiter=limiter,
        limits=limits,
        callbacks=callbacks,
        links=links,
        records=CustomerRecords(store.contacts, store.queue, store.tokens),
        clock=clock,
        telemetry=telemetry,
        async_http=async_http,
        http=http,
        sign_in_throttle=SignInThrottle(),
    )


def metrics_registry(services: Services, *, database: bool = True) -> CollectorRegistry:
    """What ``/metrics`` answers; ``database`` adds the gauges read from the database (the API's)."""
    from omnibot.adapters.metrics import DatabaseCollector, scrape_registry

    # With paid broadcasts on, Telegram's spend is a series from the 1st on, at 0 until a send is billed.
    unbilled = ({(Channel.TELEGRAM, PAID_BROADCAST_PRICE.currency): Decimal(0)}
                if services.settings.telegram_paid_broadcast else {})
    store = services.store
    collectors = [DatabaseCollector(
        store.queue.depth, lambda since: store.upkeep.sent_since(Channel.VIBER, since),
        services.clock.now, viber_monthly_budget=services.settings.viber_monthly_budget,
        billed_spend_since=lambda since: {**unbilled, **store.upkeep.billed_since(since)},
        viber_ledger_used=store.viber_ledger.used,
    )] if database else []
    return scrape_registry(services.telemetry, collectors)


def housekeeping(services: Services) -> None:
    """Periodic chores of a worker: forget idempotency keys, handled webhook updates and finished
    notifications past retention."""
    store, now = services.store, services.clock.now()
    store.queue.forget_idempotency_keys(now - timedelta(hours=services.settings.idempotency_retention_hours))
    # Messengers redeliver an update for hours at most; a week is a wide margin. A reply given up
    # on stays as long, for operators to see why.
    store.updates.forget_before(now - timedelta(days=7))
    store.reply_outbox.forget_given_up(now - timedelta(days=7))
    if services.settings.notification_retention_days:  # 0 keeps them forever
        store.upkeep.purge(now - timedelta(days=services.settings.notification_retention_days))

