"""The composition root: the one place that reads Settings and wires adapters into services."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine

from omnibot.adapters.clock import SystemClock
from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.repository import SqlContactRepository, SqlNotificationRepository
from omnibot.adapters.telegram import TelegramGateway
from omnibot.adapters.viber import ViberGateway
from omnibot.domain.model import Channel
from omnibot.ports import MessengerGateway
from omnibot.services.linking import Linking
from omnibot.services.notify import Notifier
from omnibot.settings import Settings


@dataclass
class Services:
    """Everything the entrypoints need, built once per process."""

    settings: Settings
    engine: Engine
    notifier: Notifier
    linking: Linking
    telegram: TelegramGateway | None
    viber: ViberGateway | None
    http: httpx.Client

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()


def build_gateways(settings: Settings, http: httpx.Client) -> tuple[TelegramGateway | None, ViberGateway | None]:
    """A gateway for every messenger whose token is configured."""
    telegram_token = settings.secret("telegram_bot_token")
    viber_token = settings.secret("viber_auth_token")
    telegram = (TelegramGateway(telegram_token, str(settings.telegram_api_url), http)
                if telegram_token else None)
    viber = (ViberGateway(viber_token, str(settings.viber_api_url), settings.viber_sender_name, http)
             if viber_token else None)
    return telegram, viber


def build(settings: Settings) -> Services:
    engine = make_engine(database_url(settings.database_url))
    clock = SystemClock()
    contacts = SqlContactRepository(engine, now=clock.now)
    http = httpx.Client(timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0))
    telegram, viber = build_gateways(settings, http)
    gateways: dict[Channel, MessengerGateway] = {}
    if telegram:
        gateways[Channel.TELEGRAM] = telegram
    if viber:
        gateways[Channel.VIBER] = viber
    return Services(
        settings=settings,
        engine=engine,
        notifier=Notifier(contacts, SqlNotificationRepository(engine, now=clock.now), gateways, clock),
        linking=Linking(contacts, settings.default_phone_region),
        telegram=telegram,
        viber=viber,
        http=http,
    )
