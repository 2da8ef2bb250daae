"""2. Delivery at the messenger's limits: the sandbox enforces Telegram's buckets; omnibot must fill them, no more.

``deliver`` and the rows below serve 2b (paid broadcasts) too: the same run of workers, other limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench import fixtures
from bench.context import Context
from bench.results_model import Row, ScenarioResult, ratio

NAME = "2. Delivery at the limits"
RATE_TARGET = 0.97
EDGE_SECONDS = 2.0  # left out at each end of the steady-state window


@dataclass
class Delivered:
    """What workers draining a queue through the sandbox's enforced limits gave."""

    notifications: int
    customers: int
    workers: int
    redis: bool
    budget_seconds: float
    seconds_to_send_all: float | None  # None: not all were final within the budget
    steady_rate: float | None
    overall_rate: float | None
    statuses: dict[str, int]
    sandbox_stats: dict[str, Any]
    send_times: list[float]  # the delivered sends, as the sandbox logged them

    @property
    def refused(self) -> int:
        """429 answers: sends the sandbox's bot or chat buckets turned away."""
        over = self.sandbox_stats["over_limit"]
        return int(over["telegram_bot"] + over["telegram_chat"])

    @property
    def sent(self) -> int:
        return self.statuses.get("sent", 0)

    def data(self) -> dict[str, Any]:
        return {"notifications": self.notifications, "customers": self.customers, "workers": self.workers,
                "redis": self.redis, "seconds_to_send_all": self.seconds_to_send_all,
                "steady_rate": self.steady_rate, "overall_rate": self.overall_rate, "statuses": self.statuses,
                "sandbox_stats": self.sandbox_stats}

    def describe(self) -> str:
        """The run and how its rates were taken, for the notes."""
        each = (f"{self.notifications // self.customers} each" if self.notifications >= self.customers
                else "at most 1 each")
        return (f"{self.notifications:,} notifications to {self.customers:,} customers (shuffled, {each}), "
                f"{self.workers} worker process(es){' sharing Redis buckets' if self.redis else ''}. Steady rate = "
                f"sends between {EDGE_SECONDS:g} s after the first and {EDGE_SECONDS:g} s before the last (sandbox "
                f"request log); overall = delivered / (last − first send) = {self.overall_rate}/s, including the "
                "initial one-second burst."
                + ("" if self.seconds_to_send_all is not None else
                   f" Not all sent within {self.budget_seconds:.0f} s: measured on those that were."))


def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    result = ScenarioResult(NAME)
    limit, count = sizes.delivery_limit, sizes.delivery_count
    limits = {"enforce": True, "telegram_per_second": limit, "telegram_per_chat_per_second": 1}
    env = {"TELEGRAM_RATE_PER_SECOND": f"{limit:g}", "TELEGRAM_CHAT_RATE_PER_SECOND": "1"}
    # Past the budget, measure what was sent: the run has a time budget.
    done = deliver(ctx, "limits", count, limits, env, budget_seconds=count / limit * 1.3 + 20)
    result.data = {"limit_per_second": limit, **done.data()}
    share = ratio(done.steady_rate, limit)
    stats = done.sandbox_stats
    result.rows = [
        Row(NAME, "achieved send rate (steady state)", done.steady_rate, "configured limit", limit,
            "msg/s", "≥ 97% of the limit", share is not None and share >= RATE_TARGET, share),
        *kept_to_limits_rows(NAME, done),
        Row(NAME, "max sends of the bot in any second", stats["max_per_bot_in_any_second"],
            "bucket allows", 2 * limit - 1, "", "", None),
        all_sent_row(NAME, done),
    ]
    result.throughput = [("delivery at the limit: omnibot", done.steady_rate or 0.0),
                         ("delivery: configured limit", limit)]
    scaled = "" if limit == 30 else (f" Scaled to fit the time budget: Telegram's limit is 30/s per bot; here the "
                                     f"sandbox and omnibot both use {limit:g}/s and {count:,} notifications, so the "
                                     f"run takes {count / limit:.0f} s instead of {count / 30:.0f} s.")
    result.notes.append(f"The sandbox enforces {limit:g}/s per bot and 1/s per chat. {done.describe()}{scaled}")
    return result


def deliver(ctx: Context, tag: str, count: int, rate_limits: dict[str, Any], env: dict[str, str],
            budget_seconds: float) -> Delivered:
    """Queue ``count`` notifications over the customers, make the sandbox enforce ``rate_limits``, run
    the workers (two sharing Redis buckets when Redis answers, else one) with ``env`` until all are
    final or ``budget_seconds`` pass, and take the figures."""
    stack = ctx.stack
    customers = ctx.customers()
    stack.database.truncate("notifications")
    stack.faults({"rate_limits": rate_limits})
    stack.reset_stats()
    fixtures.enqueue(stack, fixtures.orders_for(customers, count, tag))

    workers = 2 if stack.redis_url else 1
    if stack.redis_url:
        env = {**env, "REDIS_URL": stack.redis_url}
    began = time.time()
    stack.start_workers([f"{tag}-worker-{number}" for number in range(workers)], **env)
    try:
        took: float | None = round(fixtures.wait_until_final(stack, count, seconds=budget_seconds), 1)
    except TimeoutError:
        took = None
    stats = stack.stats()
    stack.stop_workers()

    sends = _send_times(stack.sandbox.get("/sandbox/requests", params={"channel": "telegram"}).json(), began)
    span = (stats["last_send_at"] or 0) - (stats["first_send_at"] or 0)
    overall = round(stats["delivered"]["telegram"] / span, 1) if span > 0 else None
    return Delivered(count, len(customers), workers, bool(stack.redis_url), budget_seconds, took,
                     _steady_rate(sends), overall, stack.database.statuses(), stats, sends)


def kept_to_limits_rows(scenario: str, done: Delivered) -> list[Row]:
    """No 429 and never more than one send a second to a chat."""
    per_chat = done.sandbox_stats["max_per_chat_in_any_second"]
    return [
        Row(scenario, "429 answers from the messenger", done.refused, "", None, "", "0", done.refused == 0),
        Row(scenario, "max sends to one chat in any second", per_chat, "chat limit", 1.0, "", "≤ 1", per_chat <= 1),
    ]


def all_sent_row(scenario: str, done: Delivered) -> Row:
    return Row(scenario, "notifications sent", done.sent, "queued", done.notifications, "", "all",
               done.sent == done.notifications)


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
