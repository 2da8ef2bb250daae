"""8. Priorities: the delay of a high notification queued behind 1,000,000 bulk ones.

High notifications are sent through the API at a steady pace twice, to customers of their own:
first with the queue empty (the baseline), then with a million bulk notifications queued and a
worker busy sending them. What bulk adds to a high one's latency is the difference of the two.
"""

from __future__ import annotations

import time

from bench.context import Context
from bench.fixtures import Customer
from bench.results_model import Row, ScenarioResult, percentiles
from bench.scenarios.latency import _delays, _paced

NAME = "8. Priorities"
DELAY_TARGET_MS = 50.0
# Bulk and high notifications go to different customers: one chat takes a message a second
# (Telegram's own limit), which no priority can shorten.
HIGH_CUSTOMERS = 0.2
_QUEUE_BULK = """
INSERT INTO notifications (id, phone, order_id, event, items, status, created_at, updated_at, next_attempt_at,
                           priority)
SELECT gen_random_uuid()::text, (%(phones)s::varchar[])[1 + g %% cardinality(%(phones)s::varchar[])],
       'BULK-' || g, 'order_ready', '["Sale"]'::json, 'queued', now(), now(),
       now() - interval '1 hour' + g * interval '1 microsecond', 2
FROM generate_series(1, %(count)s) AS g
"""


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult(NAME)
    customers = ctx.customers()
    split = max(1, int(len(customers) * HIGH_CUSTOMERS))
    urgent, bulk_customers = customers[:split], customers[split:]
    stack.database.truncate("notifications")
    stack.faults({})  # no latency, no limits enforced by the sandbox: omnibot's own limits apply
    env = {"REDIS_URL": stack.redis_url} if stack.redis_url else {}
    count = int(sizes.priority_rate * sizes.priority_seconds)

    stack.start_worker("priorities-worker", **env)  # the defaults: Telegram 30/s, BULK_SHARE 0.8
    time.sleep(1.0)
    # Warm-up, not measured, to customers of the bulk (one chat takes a message a second).
    _paced(bulk_customers[:10], sizes.priority_rate, lambda n, c: _high(ctx, f"warm-{n}", c))
    empty, _ = _paced(_cycle(urgent, count), sizes.priority_rate, lambda n, c: _high(ctx, f"empty-{n}", c))
    time.sleep(1.0)
    stack.stop_workers()

    began = time.monotonic()
    stack.database.execute(_QUEUE_BULK, {"phones": [c.phone for c in bulk_customers], "count": sizes.bulk_queued})
    stack.database.execute("ANALYZE notifications")
    queued_in = time.monotonic() - began
    stack.reset_stats()
    stack.start_worker("priorities-worker-busy", **env)
    time.sleep(2.0)  # bulk flowing: the worker's bulk share of its slots is taken
    sent_before = _telegram_delivered(ctx)
    window = time.monotonic()
    loaded, _ = _paced(_cycle(urgent, count), sizes.priority_rate, lambda n, c: _high(ctx, f"busy-{n}", c))
    time.sleep(1.0)
    bulk_rate = (_telegram_delivered(ctx) - sent_before - count) / (time.monotonic() - window)
    stack.stop_workers()
    waiting = stack.database.execute("SELECT count(*) FROM notifications WHERE priority = 2 AND status = 'queued'")
    stack.database.truncate("notifications")

    base_delays, base_missing = _delays(ctx, empty)
    busy_delays, busy_missing = _delays(ctx, loaded)
    base, busy = percentiles(base_delays), percentiles(busy_delays)
    added_p99 = round(busy["p99"] - base["p99"], 2) if busy["p99"] is not None and base["p99"] is not None else None
    result.data = {"bulk_queued": sizes.bulk_queued, "bulk_queued_in_seconds": round(queued_in, 1),
                   "bulk_still_queued_after": waiting[0][0], "bulk_sent_per_second": round(bulk_rate, 1),
                   "high_rate_per_second": sizes.priority_rate, "high_notifications": count,
                   "high_empty_queue_ms": base, "high_behind_bulk_ms": busy,
                   "missing": base_missing + busy_missing, "added_p99_ms": added_p99}
    result.rows = [
        Row(NAME, "high 202 → provider call p99, 1M bulk queued", busy["p99"], "same, queue empty", base["p99"],
            "ms", f"≤ +{DELAY_TARGET_MS:g} ms",
            added_p99 is not None and added_p99 <= DELAY_TARGET_MS and busy_missing + base_missing == 0),
        Row(NAME, "bulk sent meanwhile", round(bulk_rate, 1), "its share of 30/s", 30 * 0.8, "msg/s"),
    ]
    result.latency = [("high, queue empty", base["p50"], base["p99"]),
                      (f"high, {sizes.bulk_queued:,} bulk queued", busy["p50"], busy["p99"])]
    result.notes.append(
        f"{count} high notifications at {sizes.priority_rate:g}/s through POST /v1/notifications, to {len(urgent)} "
        f"customers of their own, timed from the 202 to the sandbox storing the message; first with the queue "
        f"empty, then with {sizes.bulk_queued:,} bulk notifications queued (one INSERT … SELECT, "
        f"{queued_in:.0f} s) to the other {len(bulk_customers)} customers and one worker sending them (defaults: "
        f"Telegram 30/s, BULK_SHARE 0.8, so bulk goes at about 24/s). Missing: {base_missing + busy_missing}.")
    return result


def _cycle(customers: list[Customer], count: int) -> list[Customer]:
    return [customers[i % len(customers)] for i in range(count)]


def _high(ctx: Context, tag: str, customer: Customer) -> str:
    order = f"ORD-high-{tag}"
    answer = ctx.stack.api.post("/v1/notifications", json={"phone": customer.phone, "order_id": order,
                                                           "items": ["Laptop"], "priority": "high"})
    if answer.status_code != 202:
        raise RuntimeError(f"POST /v1/notifications answered {answer.status_code}: {answer.text[:200]}")
    return order


def _telegram_delivered(ctx: Context) -> int:
    return int(ctx.stack.stats()["delivered"]["telegram"])
