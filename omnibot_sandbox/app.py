"""``create_app``: one sandbox (one Telegram bot, one Viber account, their customers) per app."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from omnibot_sandbox import actions, control, errors, fault_control, telegram_api, ui, viber_api
from omnibot_sandbox.config import SandboxConfig
from omnibot_sandbox.dispatch import Dispatcher
from omnibot_sandbox.fault_answers import TelegramDialect, ViberDialect
from omnibot_sandbox.state import TELEGRAM, VIBER, SandboxState
from omnibot_sandbox.telegram_api import TelegramBot
from omnibot_sandbox.telegram_customer import TelegramCustomers
from omnibot_sandbox.viber_api import ViberBot
from omnibot_sandbox.viber_customer import ViberCustomers
from omnibot_sandbox.webhooks import WebhookPoster

EXTENSION = "omnibot_sandbox"


@dataclass(frozen=True)
class Sandbox:
    """The parts of one running sandbox; ``app.extensions["omnibot_sandbox"]`` holds it."""

    config: SandboxConfig
    state: SandboxState
    dispatcher: Dispatcher
    telegram: TelegramBot
    viber: ViberBot


def create_app(config: SandboxConfig | None = None, clock: Callable[[], float] = time.time) -> Flask:
    """``clock`` (epoch seconds) lets a test move time on: sessions, months, outages, buckets."""
    config = config or SandboxConfig()
    state = SandboxState(log_size=config.request_log_size, clock=clock, faults=config.faults)
    dispatcher = Dispatcher(state, {TELEGRAM: TelegramDialect(), VIBER: ViberDialect()})
    poster = WebhookPoster(config.webhook_timeout)
    telegram = TelegramBot(config, state, dispatcher)
    viber = ViberBot(config, state, dispatcher, poster)

    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Sandbox(config, state, dispatcher, telegram, viber)
    app.register_blueprint(telegram_api.blueprint(telegram))
    app.register_blueprint(viber_api.blueprint(viber))
    app.register_blueprint(control.blueprint(config, state))
    app.register_blueprint(fault_control.blueprint(state))
    app.register_blueprint(actions.blueprint(
        config, state, TelegramCustomers(config, state, telegram, poster), ViberCustomers(state, viber)))
    app.register_blueprint(ui.blueprint(config, state))  # the phones page, /phones
    errors.register(app)
    return app
