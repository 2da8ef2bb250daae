"""2b. Paid broadcast: scenario 2 with ``allow_paid_broadcast``, so the bot may send 1,000/s, paying for all above 30/s.

The sandbox enforces Telegram's free 30/s, the paid broadcasts' 1,000/s and 1/s per chat, and
counts what it bills; omnibot runs with TELEGRAM_PAID_BROADCAST on and the same limits. The
sandbox is one process and tops out near 1,000 sendMessage a second on 2 cores, so its own
ceiling for a paid sendMessage is taken in the same run (wrk straight at it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench import load
from bench.context import Context
from bench.results_model import Row, ScenarioResult, ratio
from bench.scenarios.delivery import RATE_TARGET, Delivered, all_sent_row, deliver, kept_to_limits_rows
from omnibot.services.rate_limits import CHAT_RATE_SHARE

NAME = "2b. Paid broadcast"
PAID_RATE = 1000.0  # Telegram's limit for paid broadcasts
FREE_RATE = 30.0  # Telegram's limit for the bot's other sends: paid broadcasts within it are free
STARS_PER_PAID_MESSAGE = Decimal("0.1")
# Far below the limit, the budget still lets a slow run finish (then the figures say how slow).
SLOWEST_EXPECTED_RATE = 100.0
LIFTED = 1_000_000  # the per-chat and paid limits while the ceiling is taken: admission checked, never refused
STALL_SECONDS = 0.25  # a gap this long between two sends: the bot was held back, not just busy


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult(NAME)
    chats = [customer.chat_id for customer in ctx.customers()]
    stack.faults({"rate_limits": {"enforce": True, "telegram_per_second": FREE_RATE,
                                  "telegram_per_chat_per_second": LIFTED, "telegram_paid_per_second": LIFTED}})
    ceiling = load.run(stack.telegram_api("sendMessage"), "send_message", [str(min(chats)), str(len(chats)), "paid"],
                       sizes.fanout_connections, sizes.paid_ceiling_seconds, ctx.logs, "paid-sandbox-ceiling")

    limits = {"enforce": True, "telegram_per_second": FREE_RATE, "telegram_per_chat_per_second": 1,
              "telegram_paid_per_second": PAID_RATE, "telegram_stars_balance": 100_000}
    env = {"TELEGRAM_PAID_BROADCAST": "true", "TELEGRAM_PAID_RATE_PER_SECOND": f"{PAID_RATE:g}",
           "TELEGRAM_RATE_PER_SECOND": f"{FREE_RATE:g}", "TELEGRAM_CHAT_RATE_PER_SECOND": "1"}
    count = sizes.paid_count
    done = deliver(ctx, "paid", count, limits, env, budget_seconds=count / SLOWEST_EXPECTED_RATE + 20)
    billed, stars = _billed_by_omnibot(ctx)
    stats = done.sandbox_stats
    result.data = {"paid_limit_per_second": PAID_RATE, "free_limit_per_second": FREE_RATE,
                   "sandbox_ceiling": ceiling.as_dict(), **done.data(),
                   "omnibot_billed": {"messages": billed, "stars": float(stars)},
                   "stalls": _stalls(done.send_times), "chat_gaps_seconds": _chat_gaps(ctx)}

    steady = done.steady_rate
    share = ratio(steady, PAID_RATE)
    result.rows = [
        Row(NAME, "achieved send rate (steady state)", steady, "paid broadcast limit", PAID_RATE, "msg/s",
            "1,000/s (≥ 97%)", share is not None and share >= RATE_TARGET, share),
        Row(NAME, "achieved send rate vs the sandbox's ceiling", steady, "sandbox ceiling (wrk, paid sendMessage)",
            ceiling.rps, "msg/s", "", None, ratio(steady, ceiling.rps)),
        *kept_to_limits_rows(NAME, done),
        Row(NAME, "max sends of the bot in any second", stats["max_per_bot_in_any_second"], "bucket allows",
            2 * PAID_RATE - 1, "", "", None),
        Row(NAME, "messages billed (sandbox's count)", stats["telegram_paid"], "omnibot's priced attempts", billed,
            "", "", None, ratio(stats["telegram_paid"], billed)),
        Row(NAME, "Stars spent (sandbox's count)", stats["telegram_stars_spent"], "omnibot's priced attempts",
            float(stars), "XTR", "", None, ratio(stats["telegram_stars_spent"], float(stars))),
        all_sent_row(NAME, done),
    ]
    result.throughput = [("paid broadcast: omnibot", steady or 0.0), ("paid broadcast: sandbox ceiling", ceiling.rps),
                         ("paid broadcast: limit", PAID_RATE)]
    result.notes += [
        f"The sandbox enforces {FREE_RATE:g}/s free, {PAID_RATE:,.0f}/s for paid broadcasts and 1/s per chat; "
        f"omnibot runs with TELEGRAM_PAID_BROADCAST=true and the same three limits. {done.describe()}",
        _bounds(ceiling, len(chats)),
        _refusals(done, ceiling.rps, result.data["stalls"], result.data["chat_gaps_seconds"]),
        _billing(done),
    ]
    return result


def _stalls(send_times: list[float]) -> dict[str, float]:
    """Gaps of ``STALL_SECONDS`` or more between consecutive sends: how often, and how long in all."""
    gaps = [later - earlier for earlier, later in zip(send_times, send_times[1:], strict=False)
            if later - earlier >= STALL_SECONDS]
    return {"count": len(gaps), "seconds": round(sum(gaps), 2), "longest": round(max(gaps, default=0.0), 2)}


def _chat_gaps(ctx: Context) -> dict[str, float | None]:
    """Seconds between a chat's sent attempt and its next one, as omnibot recorded them (on the answer):
    the shortest between two sent, and the median and longest before a refused (429) one."""
    [(shortest_sent, refused_median, refused_longest)] = ctx.stack.database.execute("""
        WITH chat AS (
            SELECT d.outcome, lag(d.outcome) OVER by_chat AS before,
                   extract(epoch FROM d.created_at - lag(d.created_at) OVER by_chat) AS gap
            FROM delivery_attempts d JOIN notifications n ON n.id = d.notification_id
            WHERE d.channel = 'telegram' AND d.outcome IN ('sent', 'transient_failure')
            WINDOW by_chat AS (PARTITION BY n.phone ORDER BY d.created_at))
        SELECT min(gap) FILTER (WHERE outcome = 'sent' AND before = 'sent'),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE outcome <> 'sent' AND before = 'sent'),
               max(gap) FILTER (WHERE outcome <> 'sent' AND before = 'sent')
        FROM chat""")

    def seconds(value: Any) -> float | None:
        return None if value is None else round(float(value), 3)

    return {"shortest_between_sent": seconds(shortest_sent), "median_before_refused": seconds(refused_median),
            "longest_before_refused": seconds(refused_longest)}


def _refusals(done: Delivered, ceiling: float, stalls: dict[str, float], gaps: dict[str, float | None]) -> str:
    """Where the 429s come from, and what they cost."""
    if done.refused == 0:
        return (f"No 429: omnibot's chat buckets ({CHAT_RATE_SHARE:g}/s) kept every chat clear of the sandbox's. "
                f"Gaps of {STALL_SECONDS:g} s or more between sends: {stalls['count']}.")
    stats = done.sandbox_stats
    burst = stats["max_per_bot_in_any_second"]
    return (f"{done.refused} sends were refused ({stats['over_limit']['telegram_chat']} by a chat's bucket). "
            f"omnibot spaces a chat's tokens {1 / CHAT_RATE_SHARE:.2f} s apart, but a send reaches the sandbox some "
            "time after its token (the free-share check in Redis, the worker's event loop, the sandbox's threads), "
            f"and by an amount that varies: the workers release bursts (up to {burst} sends in one second), and at "
            f"its ceiling the sandbox takes {burst / max(ceiling, 1.0):.2f} s to get through {burst}, more than the "
            f"{1 / CHAT_RATE_SHARE - 1:.2f} s margin, so it can see two sends to a chat less than 1 s apart. "
            "As omnibot recorded them (at the answer), a refused send came a median "
            f"{gaps['median_before_refused']} s (at most {gaps['longest_before_refused']} s) after the chat's previous "
            f"send; the shortest gap between two delivered sends to a chat was {gaps['shortest_between_sent']} s. "
            "Each 429 pauses the whole bot for its retry_after (1 s, shared through Redis: Telegram's answer does "
            "not say which limit was hit), and the sends the pause held back go out together after it, the next "
            f"burst. The sandbox's log shows {stalls['count']} gaps of {STALL_SECONDS:g} s or more between sends, "
            f"{stalls['seconds']} s in all (longest {stalls['longest']} s).")


def _billing(done: Delivered) -> str:
    """How many sends the free share could have covered, against what the sandbox billed."""
    stats = done.sandbox_stats
    span = (stats["last_send_at"] or 0) - (stats["first_send_at"] or 0)
    delivered = stats["delivered"]["telegram"]
    # A bucket holding one second's worth: a pause longer than a second refills it no further.
    free_at_most = min(delivered, round(FREE_RATE * span + FREE_RATE))
    return (f"Billing: a paid broadcast that finds a token in the free {FREE_RATE:g}/s bucket is free, the rest "
            f"cost {STARS_PER_PAID_MESSAGE} Stars each. Over {span:.1f} s of sending the free share covers at most "
            f"{free_at_most:,} sends ({FREE_RATE:g}/s plus the full bucket), so at least {delivered - free_at_most:,} "
            f"are billed; the sandbox billed {stats['telegram_paid']:,} ({stats['telegram_stars_spent']:,} Stars, "
            f"balance left {stats['telegram_stars_balance']:,}). omnibot takes a token of a free bucket of its own "
            "(in Redis, shared by the workers, on its own clock) before each send and prices the delivered sends "
            "that found none; refused sends take free tokens there too but not in the sandbox, which makes "
            "omnibot's count the higher.")


def _billed_by_omnibot(ctx: Context) -> tuple[int, Decimal]:
    """Sends omnibot recorded as billed, and their Stars (``deliver`` emptied the attempts before the run)."""
    [(messages, stars)] = ctx.stack.database.execute(
        "SELECT count(*), coalesce(sum(price_amount), 0) FROM delivery_attempts "
        "WHERE price_amount IS NOT NULL AND price_currency = 'XTR'")
    return int(messages), Decimal(stars)


def _bounds(ceiling: load.LoadResult, customers: int) -> str:
    """What keeps the rate under 1,000/s here."""
    return (f"What bounds the rate: the sandbox, one process, answers at most {ceiling.rps:,.0f} paid sendMessage "
            f"a second with wrk's {ceiling.connections} connections straight at it and nothing else running "
            f"({ceiling.errors} errors), less while the workers and PostgreSQL share its 2 cores; omnibot keeps "
            f"each chat at {CHAT_RATE_SHARE:g}× the chat limit, so {customers:,} customers allow it "
            f"{customers * CHAT_RATE_SHARE:,.0f}/s at most; the workers' own CPU (scenario 3); and the pauses "
            f"after 429s (below). Reaching 1,000/s takes more than {PAID_RATE / CHAT_RATE_SHARE:,.0f} customers with "
            "messages queued and a messenger that keeps up.")
