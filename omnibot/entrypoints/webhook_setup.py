"""Registering omnibot's webhook URLs with the messengers."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from omnibot.bootstrap import build_gateways
from omnibot.domain.errors import DeliveryFailure
from omnibot.settings import Settings


def set_all(settings: Settings, base_url: str, say: Callable[[str], None]) -> bool:
    """Set both webhooks; True when every configured messenger accepted its URL."""
    base = base_url.rstrip("/")
    ok = True
    with httpx.Client(timeout=settings.http_timeout_seconds) as http:
        telegram, viber = build_gateways(settings, http)
        if telegram is None and viber is None:
            say("no messenger configured: set TELEGRAM_BOT_TOKEN and/or VIBER_AUTH_TOKEN")
            return False
        if telegram is not None:
            try:
                telegram.set_webhook(f"{base}/webhook/telegram",
                                     settings.telegram_webhook_key())
                say(f"telegram: webhook set to {base}/webhook/telegram")
            except DeliveryFailure as failure:
                ok = False
                say(f"telegram: setWebhook failed: {failure.reason}")
        if viber is not None:
            try:
                viber.set_webhook(f"{base}/webhook/viber")
                say(f"viber: webhook set to {base}/webhook/viber")
            except DeliveryFailure as failure:
                ok = False
                say(f"viber: set_webhook failed: {failure.reason}")
    return ok
