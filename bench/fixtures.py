"""Customers and queued notifications for the delivery scenarios.

Notifications are queued with omnibot's own row mapping in one transaction (what ``POST
/v1/notifications`` commits, minus the HTTP): the delivery scenarios measure the workers, not
the intake.
"""

from __future__ import annotations

import random
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench.stack import PYTHON, Stack, wait_for
from omnibot.adapters.db import rows
from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.queue import WAKEUP_CHANNEL
from omnibot.adapters.db.tables import contacts, notifications
from omnibot.domain.model import Contact, Notification

FINAL = ("sent", "failed", "delivered", "seen")


@dataclass(frozen=True)
class Customer:
    sandbox_id: str
    phone: str
    chat_id: int


def link_customers(stack: Stack, count: int, signed: int, threads: int = 8) -> tuple[list[Customer], float]:
    """``count`` linked customers; (customers, signed links per second).

    The first ``signed`` go through the real flow: ``POST /v1/links``, then ``open-link`` in the
    sandbox, which posts ``/start <token>`` to omnibot. That flow costs ~10 round trips and
    database writes per customer, too slow for a thousand inside the time budget, so the others
    are started in the sandbox with its webhook off (no update reaches omnibot) and written into
    ``contacts`` as the flow leaves them: verified phone, Telegram chat id, state active.
    """
    signed = min(signed, count)

    def linked(number: int) -> Customer:
        phone, customer = _sandbox_customer(stack, number)
        link = stack.api.post("/v1/links", json={"phone": phone})
        link.raise_for_status()
        opened = stack.sandbox.post(f"/sandbox/customers/{customer['id']}/open-link",
                                    json={"url": link.json()["telegram_url"]}).json()
        if opened.get("webhook_status") != 200:
            raise RuntimeError(f"open-link for {customer['id']}: {opened}")
        return Customer(customer["id"], phone, customer["telegram"]["user_id"])

    def started(number: int) -> Customer:
        phone, customer = _sandbox_customer(stack, number)
        stack.sandbox.post(f"/sandbox/customers/{customer['id']}/telegram/start", json={}).raise_for_status()
        return Customer(customer["id"], phone, customer["telegram"]["user_id"])

    began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        customers = list(pool.map(linked, range(1, signed + 1)))
    rate = round(signed / (time.monotonic() - began), 1) if signed else 0.0
    if count > signed:
        stack.sandbox.post(f"/bot{stack.telegram_token}/deleteWebhook", json={"drop_pending_updates": True})
        try:
            with ThreadPoolExecutor(threads) as pool:
                direct = list(pool.map(started, range(signed + 1, count + 1)))
        finally:
            stack.sandbox.post(f"/bot{stack.telegram_token}/deleteWebhook", json={"drop_pending_updates": True})
            subprocess.run([PYTHON, "-m", "omnibot", "set-webhooks", "--url", stack.api_url], env=stack.env,
                           check=True, capture_output=True)
        add_contacts(stack.database.url, direct)
        customers += direct
    verified = stack.database.execute(
        "SELECT count(*) FROM contacts WHERE phone_verified AND telegram_chat_id IS NOT NULL")[0][0]
    if verified < count:
        raise RuntimeError(f"only {verified} of {count} customers were linked")
    return customers, rate


def _sandbox_customer(stack: Stack, number: int) -> tuple[str, dict[str, Any]]:
    phone = f"+38063{number:07d}"
    created = stack.sandbox.post("/sandbox/customers", json={"name": "Bench Customer", "phone": phone,
                                                             "language": "uk"})
    created.raise_for_status()
    return phone, created.json()


def add_contacts(url: str, customers: list[Customer]) -> None:
    """Write ``customers`` into ``contacts`` at ``url`` (PostgreSQL or SQLite) as the linking flow leaves them:
    verified phone, Telegram chat id, state active."""
    if not customers:
        return
    now = datetime.now(UTC)
    values = [{**rows.contact_values(Contact(phone=c.phone, first_name="Bench", last_name="Customer", language="uk",
                                             telegram_chat_id=c.chat_id, phone_verified=True,
                                             telegram_linked_at=now)),
               "created_at": now, "updated_at": now} for c in customers]
    engine = make_engine(database_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(contacts.insert(), values)
    finally:
        engine.dispose()


def enqueue(stack: Stack, orders: list[tuple[str, str]]) -> list[str]:
    """Queue one notification per (phone, order id) in the run's PostgreSQL, all at once; their ids."""
    return enqueue_into(stack.database.url, orders)


def enqueue_into(url: str, orders: list[tuple[str, str]]) -> list[str]:
    """Queue one notification per (phone, order id) in the database at ``url``, in one transaction; their ids.

    On PostgreSQL a NOTIFY then wakes idle workers; an embedded worker (SQLite) polls.
    """
    now = datetime.now(UTC)
    values = []
    for phone, order_id in orders:
        notification = Notification(id=str(uuid.uuid4()), phone=phone, order_id=order_id, items=["Laptop", "Mouse"],
                                    created_at=now, updated_at=now, next_attempt_at=now)
        values.append({**rows.notification_request(notification), **rows.notification_progress(notification),
                       "idempotency_key": None, "request_fingerprint": None, "lease_owner": None,
                       "lease_until": None})
    engine = make_engine(database_url(url))
    try:
        with engine.begin() as connection:
            for start in range(0, len(values), 2000):
                connection.execute(notifications.insert(), values[start:start + 2000])
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": WAKEUP_CHANNEL})
    finally:
        engine.dispose()
    return [v["id"] for v in values]


def orders_for(customers: list[Customer], count: int, tag: str, seed: int = 7) -> list[tuple[str, str]]:
    """``count`` orders spread evenly over the customers, in a shuffled (seeded) order."""
    orders = [(customers[i % len(customers)].phone, f"ORD-{tag}-{i}") for i in range(count)]
    random.Random(seed).shuffle(orders)
    return orders


def wait_until_final(stack: Stack, total: int, seconds: float) -> float:
    """Wait until ``total`` notifications are final (sent or failed); the seconds it took."""

    def done() -> bool:
        statuses = stack.database.statuses()
        return sum(statuses.get(s, 0) for s in FINAL) >= total

    return wait_for(done, seconds, f"{total} notifications to be sent", interval=0.25)
