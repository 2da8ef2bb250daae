"""The composition root: the one place that reads Settings and wires adapters into services."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from omnibot.adapters.async_http import AsyncHttp
from omnibot.adapters.callback_http import HttpCallbackTransport
from omnibot.adapters.clock import SystemClock
from omnibot.adapters.db import migrate, usage
from omnibot.adapters.db.admin_queries import AdminQueries
from omnibot.adapters.db.customer_side import SqlLinkTokenRepository, SqlUpdateLog
from omnibot.adapters.db.engine import WORKER_STORE_THREADS as WORKER_STORE_THREADS
from omnibot.adapters.db.engine import database_url, make_engine, pool_limits
from omnibot.adapters.db.group_commit import GroupCommitQueue
from omnibot.adapters.db.inbound_store import SqlInboundStore
from omnibot.adapters.db.operator_sign_outs import SqlOperatorSignOuts
from omnibot.adapters.db.outbox import SqlCallbackOutbox, SqlReplyOutbox
from omnibot.adapters.db.queue import SqlDeliveryQueue
from omnibot.adapters.db.repository import SqlContactRepository, SqlNotificationRepository
from omnibot.adapters.db.retention import SqlRetention
from omnibot.adapters.db.viber_ledger import SqlViberLedger
from omnibot.adapters.http_pool import HttpClient, PerThreadClient
from omnibot.adapters.metrics import DatabaseCollector, PrometheusTelemetry, scrape_registry
from omnibot.adapters.ratelimit import make_rate_limiter
from omnibot.adapters.telegram import TelegramGateway, TelegramWebhook
from omnibot.adapters.viber import ViberGateway, ViberWebhook
from omnibot.adapters.wakeup import LocalWakeup, PostgresWakeup
from omnibot.domain.errors import StoreError
from omnibot.domain.model import Channel, Price
from omnibot.domain.retry import RetryPolicy
from omnibot.ports import Limit, MessengerGateway, RateLimiter, WebhookEndpoint
from omnibot.services.callbacks import StatusCallbacks
from omnibot.services.delivery import DeliveryEngine, DeliveryPolicy, RateLimits
from omnibot.services.inbound import Inbound
from omnibot.services.links import LinkIssuer
from omnibot.services.messages import Messages, load_templates
from omnibot.services.notify import Notifier
from omnibot.services.privacy import CustomerRecords
from omnibot.services.replies import ReplySender
from omnibot.services.sign_in_throttle import SignInThrottle
from omnibot.settings import Settings


@dataclass
class Services:
    """Everything the entrypoints need, built once per process."""

    settings: Settings
    engine: Engine
    queue: GroupCommitQueue
    notifications: SqlNotificationRepository
    delivery: DeliveryEngine
    notifier: Notifier
    inbound: Inbound  # webhook updates
    webhooks: dict[Channel, WebhookEndpoint]  # the configured messengers' sides of the webhooks
    replies: ReplySender  # the bot's queued replies, sent by the workers
    reply_outbox: SqlReplyOutbox
    replies_waiting: threading.Event  # set when this process queued a reply (the embedded worker sends it at once)
    telegram: TelegramGateway | None
    viber: ViberGateway | None
    limiter: RateLimiter
    callbacks: StatusCallbacks
    contacts: SqlContactRepository
    links: LinkIssuer
    tokens: SqlLinkTokenRepository
    updates: SqlUpdateLog
    records: CustomerRecords
    wakeup: LocalWakeup | PostgresWakeup
    http: PerThreadClient
    async_http: AsyncHttp  # the delivery worker's sends, on its event loop
    telemetry: PrometheusTelemetry
    admin_queries: AdminQueries  # the dashboard's read models
    operator_sign_outs: SqlOperatorSignOuts  # the dashboard's sign-outs, shared by every process
    sign_in_throttle: SignInThrottle  # the dashboard's password guessers, per client address, this process only
    viber_ledger: SqlViberLedger  # the month's free-quota and billable Viber messages

    @property
    def embedded(self) -> bool:
        """SQLite: one process does everything, the worker runs inside the API."""
        return self.engine.dialect.name == "sqlite"

    def schema_is_current(self) -> bool:
        """Whether the database answers with the schema this omnibot expects; ``StoreError`` when
        it does not answer."""
        return migrate.is_current(self.engine)

    def close(self) -> None:
        self.queue.close()
        self.http.close()
        self.wakeup.close()
        self.engine.dispose()


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


BOT_BURST_SECONDS = 0.1
# Telegram's price of a paid broadcast's message above the free rate (Bot API 7.11).
PAID_BROADCAST_PRICE = Price(Decimal("0.1"), "XTR")
CHAT_RATE_SHARE = 0.9


def rate_limits(settings: Settings) -> RateLimits:
    """Bucket keys carry a hash of the bot token: the limits are the bot's, and tokens stay secret.

    Our limiter takes a token some milliseconds before the request reaches the messenger, and that
    delay varies from send to send; two sends can arrive closer together than they left. So the
    buckets keep a margin under the messenger's own, at no cost to the steady rate of a bot:
    - a bot's bucket holds a tenth of a second's sends, not a whole second's: the messenger's
      bucket (about a second deep) then stays nearly full, 0.9 s of slack for that jitter;
    - a chat's bucket holds one send, so it gets its margin from the rate: 10% under the limit
      (1.11 s between two messages to one chat at Telegram's 1/s);
    - Viber counts a user's messages in the last hour: a bucket that may hold half the hourly
      count and refills the other half over the hour never lets more than the count into an hour.
    """
    bots = {Channel.TELEGRAM: _token_key("tg", settings.secret("telegram_bot_token")),
            Channel.VIBER: _token_key("vb", settings.secret("viber_auth_token"))}

    telegram_rate = (settings.telegram_paid_rate_per_second if settings.telegram_paid_broadcast
                     else settings.telegram_rate_per_second)

    def for_send(channel: Channel, address: str) -> Sequence[Limit]:
        bot = bots[channel]
        if channel is Channel.TELEGRAM:
            per_chat = settings.telegram_chat_rate_per_second * CHAT_RATE_SHARE
            return (Limit(bot, telegram_rate, _bot_burst(telegram_rate)),
                    Limit(f"{bot}:chat:{address}", per_chat, 1.0))
        half_hourly = settings.viber_user_messages_per_hour / 2
        return (Limit(bot, settings.viber_rate_per_second, _bot_burst(settings.viber_rate_per_second)),
                Limit(f"{bot}:user:{address}", half_hourly / 3600.0, max(1.0, half_hourly)))

    # Telegram bills a paid broadcast's messages above the free rate: a send that finds no token in
    # a bucket of that rate is one of them (shared through Redis, so every worker counts alike).
    free_share = (Limit(f"{bots[Channel.TELEGRAM]}:free", settings.telegram_rate_per_second,
                        max(1.0, settings.telegram_rate_per_second)),)

    def paid_above(channel: Channel) -> tuple[Sequence[Limit], Price] | None:
        if channel is Channel.TELEGRAM and settings.telegram_paid_broadcast:
            return free_share, PAID_BROADCAST_PRICE
        return None

    bot_rates = {Channel.TELEGRAM: telegram_rate, Channel.VIBER: settings.viber_rate_per_second}

    def bulk_share(channel: Channel) -> Sequence[Limit]:
        rate = bot_rates[channel] * settings.bulk_share
        return (Limit(f"{bots[channel]}:bulk", rate, _bot_burst(rate)),)

    def for_bulk_send(channel: Channel, address: str) -> Sequence[Limit]:
        # The bot's own bucket, the same key, with a burst of one: a bulk send takes a token only
        # from a full bucket, so the rest of the burst is always there for normal and high sends,
        # and bulk gets what they leave, never more than it.
        bot, *others = for_send(channel, address)
        return (Limit(bot.key, bot.rate, 1.0), *others)

    return RateLimits(for_send=for_send, pause_key=lambda channel: bots[channel], paid_above=paid_above,
                      bulk_share=bulk_share, for_bulk_send=for_bulk_send)


def _bot_burst(per_second: float) -> float:
    return max(1.0, per_second * BOT_BURST_SECONDS)


def _token_key(prefix: str, token: str | None) -> str:
    return f"{prefix}:{hashlib.sha256((token or '').encode()).hexdigest()[:16]}"


def build(settings: Settings, *, role: str = "api") -> Services:
    url = database_url(settings.database_url)
    pool_size, max_overflow = pool_limits(role, embedded_worker=url.startswith("sqlite"))
    engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    clock = SystemClock()
    contacts = SqlContactRepository(engine, now=clock.now)
    wakeup: LocalWakeup | PostgresWakeup
    if engine.dialect.name == "postgresql":
        wakeup = PostgresWakeup(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    else:
        wakeup = LocalWakeup()
    queue = GroupCommitQueue(SqlDeliveryQueue(engine, clock.now, on_enqueue=wakeup.notify))
    http = PerThreadClient(httpx.Timeout(settings.http_timeout_seconds, connect=5.0))
    async_http = AsyncHttp(settings.http_timeout_seconds, max_connections=settings.worker_concurrency)
    telegram, viber = build_gateways(settings, http, async_http)
    gateways: dict[Channel, MessengerGateway] = {}
    if telegram:
        gateways[Channel.TELEGRAM] = telegram
    if viber:
        gateways[Channel.VIBER] = viber
    limiter = make_rate_limiter(settings.redis_url)
    policy = DeliveryPolicy(
        retry=RetryPolicy(base_seconds=settings.retry_base_seconds, max_attempts=settings.retry_max_attempts,
                          max_age=timedelta(seconds=settings.retry_max_age_seconds)),
        fallback_after=settings.fallback_after_failures,
        max_channel_wait_seconds=settings.max_channel_wait_seconds,
        quiet_hours=settings.quiet_window(),
        viber_terms=settings.viber_terms(),
    )
    notifications = SqlNotificationRepository(engine, now=clock.now)
    callbacks = StatusCallbacks(
        SqlCallbackOutbox(engine, clock.now),
        HttpCallbackTransport(http, allow_private=settings.callback_allow_private), settings.callback_secret(), clock,
        default_url=None if settings.status_webhook_url is None else str(settings.status_webhook_url))
    messages = Messages(load_templates(settings.templates_dir), settings.default_language)
    tokens = SqlLinkTokenRepository(engine)
    links = LinkIssuer(tokens, clock, settings.link_key(), settings.telegram_bot_username, settings.viber_bot_uri,
                       default_ttl=timedelta(hours=settings.link_ttl_hours))
    telemetry = PrometheusTelemetry()
    limits = rate_limits(settings)
    viber_ledger = SqlViberLedger(engine, clock.now)
    delivery = DeliveryEngine(contacts, tokens, messages, queue, gateways, limiter,
                              limits, clock, policy, status_callback=callbacks.callback_for,
                              trust_order_links=settings.trust_order_links, telemetry=telemetry,
                              outage_errors=(StoreError,), ledger=viber_ledger)
    replies_waiting = threading.Event()
    reply_outbox = SqlReplyOutbox(engine, clock.now)
    inbound = Inbound(SqlInboundStore(engine, clock.now), links, messages, clock, settings.default_phone_region,
                      callbacks, telemetry, replies_waiting=replies_waiting.set)
    return Services(
        settings=settings,
        engine=engine,
        queue=queue,
        notifications=notifications,
        delivery=delivery,
        notifier=Notifier(queue, delivery, clock, owner=worker_name(role), lease_seconds=settings.lease_seconds,
                          telemetry=telemetry, default_ttl=(timedelta(seconds=settings.notification_ttl_seconds)
                                                            if settings.notification_ttl_seconds else None)),
        inbound=inbound,
        webhooks=build_webhooks(settings, viber),
        replies=ReplySender(reply_outbox, gateways, limiter, limits),
        reply_outbox=reply_outbox,
        replies_waiting=replies_waiting,
        telegram=telegram,
        viber=viber,
        limiter=limiter,
        callbacks=callbacks,
        contacts=contacts,
        links=links,
        tokens=tokens,
        updates=SqlUpdateLog(engine, clock.now),
        records=CustomerRecords(contacts, notifications, tokens),
        wakeup=wakeup,
        http=http,
        async_http=async_http,
        telemetry=telemetry,
        admin_queries=AdminQueries(engine),
        operator_sign_outs=SqlOperatorSignOuts(engine, clock.now),
        sign_in_throttle=SignInThrottle(),
        viber_ledger=viber_ledger,
    )


def metrics_registry(services: Services, *, database: bool = True) -> CollectorRegistry:
    """What ``/metrics`` answers; ``database`` adds the gauges read from the database (the API's)."""
    # With paid broadcasts on, Telegram's spend is a series from the 1st on, at 0 until a send is billed.
    unbilled = ({(Channel.TELEGRAM, PAID_BROADCAST_PRICE.currency): Decimal(0)}
                if services.settings.telegram_paid_broadcast else {})
    collectors = [DatabaseCollector(
        services.queue.depth, lambda since: usage.sent_since(services.engine, Channel.VIBER, since),
        SystemClock().now, viber_monthly_budget=services.settings.viber_monthly_budget,
        billed_spend_since=lambda since: {**unbilled, **usage.billed_since(services.engine, since)},
        viber_ledger_used=services.viber_ledger.used,
    )] if database else []
    return scrape_registry(services.telemetry, collectors)


def housekeeping(services: Services) -> None:
    """Periodic chores of a worker: forget idempotency keys, handled webhook updates and finished
    notifications past retention."""
    now = SystemClock().now()
    services.queue.forget_idempotency_keys(now - timedelta(hours=services.settings.idempotency_retention_hours))
    # Messengers redeliver an update for hours at most; a week is a wide margin. A reply given up
    # on stays as long, for operators to see why.
    services.updates.forget_before(now - timedelta(days=7))
    services.reply_outbox.forget_given_up(now - timedelta(days=7))
    if services.settings.notification_retention_days:  # 0 keeps them forever
        SqlRetention(services.engine).purge(now - timedelta(days=services.settings.notification_retention_days))

