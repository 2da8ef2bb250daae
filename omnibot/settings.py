"""One typed Settings object, read from the environment and an optional ``.env`` file."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from omnibot.domain.billing import BillingModel, ViberTerms
from omnibot.domain.callback_targets import CallbackRefused, check_url
from omnibot.domain.errors import OmnibotError
from omnibot.domain.model import Price
from omnibot.domain.quiet_hours import QuietHours

MONTH_DAYS = 31


class ConfigurationError(OmnibotError):
    """Settings that cannot work; the message names each variable and never echoes its value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    viber_auth_token: SecretStr | None = None
    internal_api_key: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    database_url: str | None = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    viber_api_url: AnyHttpUrl = AnyHttpUrl("https://chatapi.viber.com/pa")
    telegram_bot_username: str | None = None
    viber_bot_uri: str | None = None
    viber_sender_name: str = Field(default="omnibot", min_length=1, max_length=28)
    telegram_webhook_secret: SecretStr | None = None
    default_phone_region: str = "UA"
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # Delivery engine
    redis_url: str | None = None
    telegram_rate_per_second: float = Field(default=30.0, gt=0)
    telegram_chat_rate_per_second: float = Field(default=1.0, gt=0)
    # Paid broadcasts (Bot API 7.11): sends carry allow_paid_broadcast, the bot's limit rises to
    # this rate, and Telegram bills 0.1 Stars for each message above the free TELEGRAM_RATE_PER_SECOND.
    telegram_paid_broadcast: bool = False
    telegram_paid_rate_per_second: float = Field(default=1000.0, gt=0, le=1000)
    viber_rate_per_second: float = Field(default=100.0, gt=0)
    viber_user_messages_per_hour: int = Field(default=100, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_age_seconds: float = Field(default=86400.0, gt=0)
    fallback_after_failures: int = Field(default=3, ge=1)
    # A channel that cannot take a notification for longer (a flood wait, an outage) hands it over.
    max_channel_wait_seconds: float = Field(default=60.0, gt=0)
    # The deadline of a notification that names none (README, "Deadlines"); 0: no deadline.
    notification_ttl_seconds: int = Field(default=86_400, ge=0, le=90 * 86_400)
    # Bulk notifications take at most this share of a bot's rate and of a worker's concurrency.
    bulk_share: float = Field(default=0.8, gt=0, le=1)
    # Quiet hours (README, "Quiet hours"): e.g. 21:00-08:00, in QUIET_HOURS_TZ.
    quiet_hours: str | None = None
    quiet_hours_tz: str = "Europe/Kyiv"
    worker_concurrency: int = Field(default=512, ge=1, le=4096)
    lease_seconds: float = Field(default=120.0, ge=5)
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
    # Finished notifications, their attempts and callbacks are deleted this long after they last
    # changed (README, "Operating omnibot"); 0 keeps them forever.
    notification_retention_days: int = Field(default=90, ge=0)
    # Customer side
    default_language: str = Field(default="uk", pattern=r"^[a-z]{2,3}$")
    templates_dir: Path | None = None
    trust_order_links: bool = False
    link_secret: SecretStr | None = None
    link_ttl_hours: float = Field(default=168.0, gt=0)
    # Before status_webhook_url: its check reads it. Opens loopback and private callback targets.
    callback_allow_private: bool = False
    status_webhook_url: AnyHttpUrl | None = None
    status_webhook_secret: SecretStr | None = None

    # Operations (README, "Operating omnibot")
    log_format: Literal["json", "text"] | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    trusted_proxy_count: int = Field(default=0, ge=0, le=10)
    web_concurrency: int | None = Field(default=None, ge=1, le=64)
    gunicorn_timeout: int = Field(default=30, ge=1)
    gunicorn_graceful_timeout: int = Field(default=30, ge=1)
    prometheus_multiproc_dir: str | None = None
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # The operators' dashboard at /admin (README, "In the browser")
    admin_password_hash: SecretStr | None = None
    secret_key: SecretStr | None = None
    admin_cookie_secure: Literal["auto"] | bool = "auto"
    # Viber's billing (README, "What Viber costs"): the budget caps billable messages a month.
    viber_monthly_budget: int = Field(default=10_000, ge=0)
    viber_billing: Literal["per_message", "quota"] = "per_message"
    viber_free_messages_per_month: int = Field(default=0, ge=0)
    viber_message_price: Decimal | None = Field(default=None, ge=0, decimal_places=6)
    viber_price_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    viber_session_hours: float = Field(default=24.0, gt=0, le=24 * 31)

    @field_validator("internal_api_key", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # Several comma-separated keys let a shop rotate its key without downtime.
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("default_phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a two-letter region code such as UA or PL")
        return region

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("status_webhook_url")
    @classmethod
    def _public_status_webhook(cls, value: AnyHttpUrl | None, info: ValidationInfo) -> AnyHttpUrl | None:
        if value is not None:
            try:
                check_url(str(value), bool(info.data.get("callback_allow_private", False)))
            except CallbackRefused as refused:
                raise ValueError(refused.reason) from None
        return value

    @field_validator("notification_retention_days")
    @classmethod
    def _keeps_this_month(cls, value: int) -> int:
        # The dashboard counts this month's messages against the Viber budget from the attempts.
        if 0 < value < MONTH_DAYS:
            raise ValueError(f"must be 0 (keep forever) or at least {MONTH_DAYS} days: "
                             "the dashboard counts this month's messages from the delivery history")
        return value

    @field_validator("quiet_hours_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Kyiv") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            QuietHours.parse(value, "UTC")  # the shape; the zone is checked on its own
            return value.strip()
        return None

    def quiet_window(self) -> QuietHours | None:
        return None if self.quiet_hours is None else QuietHours.parse(self.quiet_hours, self.quiet_hours_tz)

    def viber_terms(self) -> ViberTerms:
        price = None if self.viber_message_price is None else Price(self.viber_message_price, self.viber_price_currency)
        return ViberTerms(BillingModel(self.viber_billing), self.viber_free_messages_per_month,
                          self.viber_monthly_budget, price, timedelta(hours=self.viber_session_hours))

    @field_validator("templates_dir")
    @classmethod
    def _templates_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError("must be an existing directory of <language>.toml files")
        return value

    @field_validator("admin_password_hash")
    @classmethod
    def _password_hash_shape(cls, value: SecretStr | None) -> SecretStr | None:
        shape = r"(scrypt|pbkdf2):[\w:]+\$[^$\s]+\$[0-9a-f]+"  # werkzeug's method:params$salt$hash
        if value is not None and not re.fullmatch(shape, value.get_secret_value()):
            raise ValueError("must be a password hash from `omnibot admin hash-password` (scrypt:… or pbkdf2:…)")
        return value

    @field_validator("telegram_bot_username")
    @classmethod
    def _strip_at(cls, value: str | None) -> str | None:
        return value.lstrip("@") if value else value

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read the environment; raise ConfigurationError naming every bad variable at once."""
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None

    def require_serving(self) -> None:
        """Raise ConfigurationError unless this configuration can serve the shop API."""
        problems = []
        if not self.api_keys():
            problems.append("INTERNAL_API_KEY: required (one key, or several separated by commas)")
        if self.telegram_bot_token is None and self.viber_auth_token is None:
            problems.append("TELEGRAM_BOT_TOKEN / VIBER_AUTH_TOKEN: set at least one messenger's token")
        if problems:
            raise ConfigurationError(problems)

    def callback_secret(self) -> str:
        """Key of the status callbacks' signature: its own secret, else the first API key."""
        own = self.secret("status_webhook_secret")
        return own or (self.api_keys() or [""])[0]

    def telegram_webhook_key(self) -> str | None:
        """The secret Telegram must echo on every update: TELEGRAM_WEBHOOK_SECRET, else one derived
        from the bot token (stable across restarts and processes, so `set-webhooks` and every
        `serve` agree with nothing to configure). None only while Telegram is off: the webhook is
        never open."""
        own = self.secret("telegram_webhook_secret")
        if own:
            return own
        token = self.secret("telegram_bot_token")
        if token is None:
            return None
        # Hex of an HMAC: 64 characters, inside Telegram's secret_token alphabet ([A-Za-z0-9_-]{1,256}).
        return hmac.new(token.encode(), b"omnibot-telegram-webhook", hashlib.sha256).hexdigest()

    def link_key(self) -> bytes:
        """Key of the signed deep links: LINK_SECRET, else derived from the bot tokens (so a link
        made for another bot is recognised as such)."""
        own = self.secret("link_secret")
        if own:
            return own.encode()
        material = f"{self.secret('telegram_bot_token') or ''}|{self.secret('viber_auth_token') or ''}"
        return hashlib.sha256(b"omnibot-links|" + material.encode()).digest()

    def api_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.internal_api_key]

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None


def _describe(exc: ValidationError) -> list[str]:
    # pydantic's own text includes the input value, which may be a token: build our own.
    problems = []
    for error in exc.errors():
        variable = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        problems.append(f"{variable}: {error['msg']}")
    return problems
