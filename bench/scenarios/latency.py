"""4. Latency at light load: from the API's 202 to the messenger receiving the send (one clock, one machine)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

import psycopg

from bench import fixtures
from bench.context import Context
from bench.fixtures import Customer
from bench.relay_floor import CHANNEL
from bench.results_model import Row, ScenarioResult, percentiles, ratio
from bench.stack import PYTHON, wait_for

P50_TARGET_MS, P99_TARGET_MS = 10.0, 50.0


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult("4. Latency")
    customers = ctx.customers()
    stack.database.truncate("notifications")
    stack.faults({})  # no latency, no enforced limits: what is measured is omnibot's own delay
    env = {"REDIS_URL": stack.redis_url} if stack.redis_url else {}
    stack.start_worker("latency-worker", **env)  # otherwise the defaults: 30/s per bot, 1/s per chat
    time.sleep(1.0)  # let it settle into LISTEN

    count = int(sizes.latency_rate * sizes.latency_seconds)
    chosen = customers[:count] if count <= len(customers) else [customers[i % len(customers)] for i in range(count)]

    def via_api(number: int, customer: Customer) -> str:
        order = f"ORD-latency-{number}"
        answer = stack.api.post("/v1/notifications", json={"phone": customer.phone, "order_id": order,
                                                           "items": ["Laptop"]})
        if answer.status_code != 202:
            raise RuntimeError(f"POST /v1/notifications answered {answer.status_code}: {answer.text[:200]}")
        return order

    # Warm-up at the same pace, not measured: the worker's first sends open its pooled connections.
    warm = customers[-max(5, int(sizes.latency_rate * sizes.warmup_seconds)):]
    _paced(warm, sizes.latency_rate, lambda n, c: via_api(n + 100_000, c))
    accepted, offered = _paced(chosen, sizes.latency_rate, via_api)
    fixtures.wait_until_final(stack, count + len(warm), seconds=60)
    stack.stop_workers()
    delays, missing = _delays(ctx, accepted)
    figures = percentiles(delays)

    # The floor: a LISTEN loop that makes one sendMessage per NOTIFY, timed from the commit.
    relay = stack.processes.start("relay-floor", [PYTHON, "-m", "bench.relay_floor", "--database-url",
                                                  stack.database.url, "--telegram-api",
                                                  stack.telegram_api("").rstrip("/")], stack.env)
    wait_for(lambda: "relay.listening" in stack.processes.log_of("relay-floor").read_text(), 30, "the relay floor")
    with psycopg.connect(stack.database.url) as connection:

        def via_notify(number: int, customer: Customer) -> str:
            order = f"ORD-relay-{number}"
            connection.execute("INSERT INTO floor_notifications (phone, order_id, items) VALUES (%s, %s, '[]')",
                               (customer.phone, order))
            connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{customer.chat_id} {order}"))
            connection.commit()
            return order

        _paced(warm, sizes.latency_rate, lambda n, c: via_notify(n + 100_000, c))
        floor_accepted, _ = _paced(chosen, sizes.latency_rate, via_notify)
    time.sleep(1.0)
    stack.processes.stop(relay)
    floor_delays, floor_missing = _delays(ctx, floor_accepted)
    floor = percentiles(floor_delays)
    stack.database.truncate("floor_notifications")

    result.data = {"rate_per_second": sizes.latency_rate, "offered_rate": round(offered, 1), "notifications": count,
                   "missing": missing, "enqueue_to_send_ms": figures, "negative": sum(1 for d in delays if d < 0),
                   "floor_commit_to_send_ms": floor, "floor_missing": floor_missing}
    result.rows = [
        Row("4. Latency", f"202 → provider call p50, {sizes.latency_rate:g}/s", figures["p50"], "LISTEN relay floor",
            floor["p50"], "ms", "< 10 ms", figures["p50"] < P50_TARGET_MS, ratio(figures["p50"], floor["p50"])),
        Row("4. Latency", f"202 → provider call p99, {sizes.latency_rate:g}/s", figures["p99"], "LISTEN relay floor",
            floor["p99"], "ms", "< 50 ms", figures["p99"] < P99_TARGET_MS and missing == 0,
            ratio(figures["p99"], floor["p99"])),
    ]
    result.latency = [("202 → provider call: omnibot", figures["p50"], figures["p99"]),
                      ("commit → provider call: relay floor", floor["p50"], floor["p99"])]
    result.notes.append(
        f"{count} notifications at {sizes.latency_rate:g}/s for {sizes.latency_seconds:g} s, each to its own "
        "customer, after a short warm-up at the same pace; one worker (defaults: WORKER_CONCURRENCY 64, 30/s per "
        "bot, 1/s per chat) woken by LISTEN/NOTIFY. "
        "Measured from the client's receipt of the 202 to the time the sandbox stored the message (its clock, "
        "millisecond resolution, same machine). The floor commits INSERT + NOTIFY itself and a bare LISTEN loop "
        "(bench/relay_floor.py) makes the sendMessage call: timed from the commit. A worker may send before the "
        "client has read its 202: "
        f"{result.data['negative']} such negative delays are kept as they are. Missing: {missing}.")
    return result


def _paced(customers: list[Customer], rate: float,
           send: Callable[[int, Customer], str]) -> tuple[list[tuple[str, str, float]], float]:
    """Send one notification per customer at ``rate`` a second; ((customer, order, accepted at), rate offered)."""
    accepted = []
    start = time.monotonic()
    for number, customer in enumerate(customers):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        order = send(number, customer)
        accepted.append((customer.sandbox_id, order, time.time()))
    return accepted, len(customers) / (time.monotonic() - start)


def _delays(ctx: Context, accepted: list[tuple[str, str, float]]) -> tuple[list[float], int]:
    """Milliseconds from acceptance to the sandbox storing each message; and how many never arrived."""
    delays, missing = [], 0
    for sandbox_id, order, at in accepted:
        received = ctx.stack.sandbox.get(f"/sandbox/customers/{sandbox_id}/messages",
                                         params={"channel": "telegram"}).json()
        mentions = re.compile(re.escape(order) + r"(?!\d)")
        times = [datetime.fromisoformat(m["at"].replace("Z", "+00:00")).timestamp() for m in received
                 if mentions.search(m["raw_text"])]
        if times:
            delays.append((min(times) - at) * 1000)
        else:
            missing += 1
    return delays, missing
