"""Everything the sandbox remembers, in memory: customers, what the bot sent them, the API call log.

One re-entrant lock guards it all. Code that reads, checks and then writes holds ``state.lock``
across the whole step; nobody holds it while talking to the bot's webhook, because the bot calls
the sandbox back from inside that webhook. The faults in force and the traffic figures
(``state.faults``, ``state.traffic``) keep small locks of their own, off that one.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnibot_sandbox.fault_settings import FaultSettings
from omnibot_sandbox.faults import Faults
from omnibot_sandbox.traffic import Traffic

TELEGRAM = "telegram"
VIBER = "viber"
CHANNELS = (TELEGRAM, VIBER)

_FIRST_TELEGRAM_USER_ID = 100_000_001
# Viber message tokens are int64 values of this magnitude.
_FIRST_VIBER_MESSAGE_TOKEN = 5_491_331_802_017_000_000


def iso(timestamp: float) -> str:
    """A UTC timestamp as the control API shows it."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def viber_user_id(number: int) -> str:
    """A stable base64-looking Viber id that always holds ``+``, ``/`` and ``=``.

    Real ids are opaque base64 strings; putting every awkward character in each one makes a bot
    that URL-encodes, trims or normalises them fail in the sandbox rather than in production.
    """
    digest = hashlib.sha256(f"omnibot-sandbox-viber-{number}".encode()).digest()
    encoded = base64.b64encode(digest[:10]).decode()  # 16 characters ending in "=="
    return f"{encoded[:4]}+{encoded[5:9]}/{encoded[10:]}"


@dataclass
class TelegramAccount:
    user_id: int
    started: bool = False
    blocked: bool = False
    # Telegram numbers messages per private chat.
    last_message_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "started": self.started, "blocked": self.blocked}


@dataclass
class ViberAccount:
    user_id: str
    subscribed: bool = False
    api_version: int = 10

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "subscribed": self.subscribed}


@dataclass
class ReceivedMessage:
    """One message the bot got through to a customer, as the customer's app would show it."""

    channel: str
    text: str
    raw_text: str
    at: float
    # Telegram
    message_id: int | None = None
    parse_mode: str | None = None
    reply_markup: Any = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    # Viber
    message_token: int | None = None
    keyboard: Any = None
    sender: dict[str, Any] | None = None
    tracking_data: str | None = None
    # "api" for a send call; "webhook_response" for a reply carried in a webhook's answer.
    via: str = "api"
    # Viber send_message: how Viber billed it (free_session, free_quota, billable) and its billing_status.
    billing: str | None = None
    billing_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        common = {"channel": self.channel, "text": self.text, "raw_text": self.raw_text}
        if self.channel == TELEGRAM:
            specific: dict[str, Any] = {
                "message_id": self.message_id, "parse_mode": self.parse_mode,
                "reply_markup": self.reply_markup, "entities": self.entities,
            }
        else:
            specific = {
                "message_token": self.message_token, "parse_mode": None, "keyboard": self.keyboard,
                "sender": self.sender, "tracking_data": self.tracking_data,
                "billing": self.billing, "billing_status": self.billing_status,
            }
        return {**common, **specific, "via": self.via, "at": iso(self.at)}


@dataclass
class Customer:
    """A virtual person with a Telegram account and a Viber account on the same phone."""

    id: str
    name: str
    phone: str
    language: str
    country: str
    telegram: TelegramAccount
    viber: ViberAccount
    messages: list[ReceivedMessage] = field(default_factory=list)

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str | None:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else None

    def received(self, channel: str | None = None) -> list[ReceivedMessage]:
        return [m for m in self.messages if channel is None or m.channel == channel]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "phone": self.phone, "language": self.language,
            "country": self.country,
            "telegram": self.telegram.to_json(), "viber": self.viber.to_json(),
        }


@dataclass
class TelegramWebhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class TelegramBotState:
    webhook: TelegramWebhook | None = None
    # None means Telegram's default set of update types.
    allowed_updates: list[str] | None = None
    # Updates waiting for getUpdates, or for the next delivery after a webhook was set.
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    last_update_id: int = 0


@dataclass
class ViberBotState:
    webhook_url: str | None = None
    event_types: list[str] = field(default_factory=list)
    last_message_token: int = _FIRST_VIBER_MESSAGE_TOKEN


@dataclass(frozen=True)
class ApiCallRecord:
    """One call the bot made to an emulated API, and how the sandbox answered it."""

    channel: str
    method: str
    ok: bool
    code: int | None
    message: str | None
    via: str
    at: float
    # Telegram's parameters.retry_after, on a 429.
    retry_after: int | None = None
    # When the request arrived; ``at`` is when it was answered (after any latency or hang).
    received_at: float | None = None
    # A delivered Viber send_message: free_session, free_quota or billable.
    billing: str | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"channel": self.channel, "method": self.method, "ok": self.ok}
        if self.channel == TELEGRAM:
            record["error_code"] = self.code
            record["description"] = self.message
            if self.retry_after is not None:
                record["retry_after"] = self.retry_after
        else:
            record["status"] = self.code
            record["status_message"] = self.message
            if self.billing is not None:
                record["billing"] = self.billing
        received = {} if self.received_at is None else {"received_at": iso(self.received_at)}
        return {**record, "via": self.via, **received, "at": iso(self.at)}


class SandboxState:
    """The sandbox's whole memory; ``reset()`` forgets everything."""

    def __init__(self, log_size: int = 10_000, clock: Callable[[], float] = time.time,
                 faults: FaultSettings | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._log_size = log_size
        self.traffic = Traffic(clock)
        self.faults = Faults(clock, self.traffic, faults)
        self.reset()

    def reset(self) -> None:
        """Forget everything; the faults go back to those the sandbox started with."""
        self.faults.restore()
        self.traffic.reset()
        with self.lock:
            self.customers: dict[str, Customer] = {}
            self.telegram = TelegramBotState()
            self.viber = ViberBotState()
            self.calls: deque[ApiCallRecord] = deque(maxlen=self._log_size)
            self.counters: Counter[tuple[str, str, bool]] = Counter()
            self._customers_made = 0
            # Viber id → customer id; a deleted customer's entry stays and simply finds nobody.
            self._viber_ids: dict[str, str] = {}

    def add_customer(self, name: str, phone: str, language: str, country: str) -> Customer:
        with self.lock:
            self._customers_made += 1
            number = self._customers_made
            customer = Customer(
                id=f"c{number}", name=name, phone=phone, language=language, country=country,
                telegram=TelegramAccount(user_id=_FIRST_TELEGRAM_USER_ID + number - 1),
                viber=ViberAccount(user_id=viber_user_id(number)),
            )
            self.customers[customer.id] = customer
            self._viber_ids[customer.viber.user_id] = customer.id
            return customer

    def by_phone(self, phone: str) -> Customer | None:
        with self.lock:
            return next((c for c in self.customers.values() if c.phone == phone), None)

    def by_telegram_id(self, user_id: int) -> Customer | None:
        # O(1), as every send looks its chat up: customer cN has Telegram id FIRST + N - 1.
        with self.lock:
            customer = self.customers.get(f"c{user_id - _FIRST_TELEGRAM_USER_ID + 1}")
            return customer if customer is not None and customer.telegram.user_id == user_id else None

    def by_viber_id(self, user_id: str) -> Customer | None:
        with self.lock:
            customer = self.customers.get(self._viber_ids.get(user_id, ""))
            return customer if customer is not None and customer.viber.user_id == user_id else None

    def next_update_id(self) -> int:
        with self.lock:
            self.telegram.last_update_id += 1
            return self.telegram.last_update_id

    def next_message_token(self) -> int:
        with self.lock:
            self.viber.last_message_token += 1
            return self.viber.last_message_token

    def record_call(self, record: ApiCallRecord) -> None:
        with self.lock:
            self.calls.append(record)
            self.counters[(record.channel, record.method, record.ok)] += 1

    def call_counters(self) -> dict[str, Any]:
        """Totals per channel and per method; they survive the log's size limit."""
        with self.lock:
            summary: dict[str, Any] = {"total": sum(self.counters.values())}
            for channel in CHANNELS:
                per_method: dict[str, dict[str, int]] = {}
                for (name, method, ok), count in sorted(self.counters.items()):
                    if name == channel:
                        entry = per_method.setdefault(method, {"ok": 0, "failed": 0})
                        entry["ok" if ok else "failed"] += count
                summary[channel] = {
                    "total": sum(e["ok"] + e["failed"] for e in per_method.values()),
                    "ok": sum(e["ok"] for e in per_method.values()),
                    "failed": sum(e["failed"] for e in per_method.values()),
                    "by_method": per_method,
                }
            return summary
