"""2. Delivery at the messenger's limits: the sandbox enforces Telegram's buckets; omnibot must fill them, no more."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from bench import fixtures
from bench.context import Context
from bench.results_model import Row, ScenarioResult, ratio

RATE_TARGET = 0.97
EDGE_SECONDS = 2.0  # left out at each end of the steady-state window


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult("2. Delivery at the limits")
    customers = ctx.customers()
    limit, count = sizes.delivery_limit, sizes.delivery_count
    stack.database.truncate("notifications")
    stack.faults({"rate_limits": {"enforce": True, "telegram_per_second": limit, "telegram_per_chat_per_second": 1}})
    stack.reset_stats()
    fixtures.enqueue(stack, fixtures.orders_for(customers, count, "limits"))

    env = {"TELEGRAM_RATE_PER_SECOND": f"{limit:g}", "TELEGRAM_CHAT_RATE_PER_SECOND": "1"}
    workers = 2 if stack.redis_url else 1
    if stack.redis_url:
        env["REDIS_URL"] = stack.redis_url
    began = time.time()
    stack.start_workers([f"delivery-worker-{number}" for number in range(workers)], **env)
    budget = count / limit * 1.3 + 20  # past this, measure what was sent: the run has a time budget
    try:
        took: float | None = round(fixtures.wait_until_final(stack, count, seconds=budget), 1)
    except TimeoutError:
        took = None
    stats = stack.stats()
    stack.stop_workers()
    statuses = stack.database.statuses()

    sends = _send_times(stack.sandbox.get("/sandbox/requests", params={"channel": "telegram"}).json(), began)
    steady = _steady_rate(sends)
    span = (stats["last_send_at"] or 0) - (stats["first_send_at"] or 0)
    overall = stats["delivered"]["telegram"] / span if span > 0 else None
    refused = stats["over_limit"]["telegram_bot"] + stats["over_limit"]["telegram_chat"]
    per_chat = stats["max_per_chat_in_any_second"]
    result.data = {"limit_per_second": limit, "notifications": count, "customers": len(customers),
                   "workers": workers, "redis": bool(stack.redis_url), "seconds_to_send_all": took,
                   "steady_rate": steady, "overall_rate": None if overall is None else round(overall, 1),
                   "statuses": statuses, "sandbox_stats": stats}
    share = ratio(steady, limit)
    result.rows = [
        Row("2. Delivery at the limits", "achieved send rate (steady state)", steady, "configured limit", limit,
            "msg/s", "≥ 97% of the limit", share is not None and share >= RATE_TARGET, share),
        Row("2. Delivery at the limits", "429 answers from the messenger", refused, "", None, "", "0",
            refused == 0),
        Row("2. Delivery at the limits", "max sends to one chat in any second", per_chat, "chat limit", 1.0, "",
            "≤ 1", per_chat <= 1),
        Row("2. Delivery at the limits", "max sends of the bot in any second", stats["max_per_bot_in_any_second"],
            "bucket allows", 2 * limit - 1, "", "", None),
        Row("2. Delivery at the limits", "notifications sent", statuses.get("sent", 0), "queued", count, "",
            "all", statuses.get("sent", 0) == count),
    ]
    result.throughput = [("delivery at the limit: omnibot", steady or 0.0), ("delivery: configured limit", limit)]
    scaled = "" if limit == 30 else (f" Scaled to fit the time budget: Telegram's limit is 30/s per bot; here the "
                                     f"sandbox and omnibot both use {limit:g}/s and {count:,} notifications, so the "
                                     f"run takes {count / limit:.0f} s instead of {count / 30:.0f} s.")
    result.notes.append(
        f"{count:,} notifications to {len(customers):,} customers (shuffled, {count // len(customers)} each), "
        f"{workers} worker process(es){' sharing Redis buckets' if stack.redis_url else ''}; the sandbox enforces "
        f"{limit:g}/s per bot and 1/s per chat. Steady rate = sends between {EDGE_SECONDS:g} s after the first and "
        f"{EDGE_SECONDS:g} s before the last (sandbox request log); overall = delivered / (last − first send) "
        f"= {result.data['overall_rate']}/s, including the initial one-second burst."
        + (f" Not all sent within {budget:.0f} s: measured on those that were." if took is None else "") + scaled)
    return result


def _send_times(log: dict[str, Any], since: float) -> list[float]:
    times = []
    for call in log["requests"]:
        if call["method"] == "sendMessage" and call["ok"]:
            at = datetime.fromisoformat(call["at"].replace("Z", "+00:00")).timestamp()
            if at >= since:
                times.append(at)
    return sorted(times)


def _steady_rate(times: list[float]) -> float | None:
    if len(times) < 10:
        return None
    start, end = times[0] + EDGE_SECONDS, times[-1] - EDGE_SECONDS
    if end - start < 1:
        start, end = times[0], times[-1]
    inside = sum(1 for t in times if start <= t <= end)
    return round(inside / (end - start), 1)
