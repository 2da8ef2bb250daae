"""5. Webhook intake (``/start <payload>`` updates) against the floor, and contact lookup by phone at 1M contacts."""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime

import psycopg

from bench import load
from bench.context import Context
from bench.results_model import Row, ScenarioResult, percentiles, ratio
from bench.stack import Stack
from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.repository import SqlContactRepository

FLOOR_SHARE_TARGET = 0.70


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult("5. Webhooks and lookup")
    stack.faults({})
    secret = stack.env["TELEGRAM_WEBHOOK_SECRET"]
    base = secrets.randbelow(50) * 100_000_000
    runs = {}
    for number, (app, url) in enumerate((("omnibot", stack.api_url), ("floor", stack.floor_url))):
        hook = f"{url}/webhook/telegram"
        offset = base + number * 200_000_000
        if sizes.warmup_seconds:
            load.run(hook, "webhook_start", [secret, str(offset + 100_000_000)], sizes.intake_connections,
                     sizes.warmup_seconds, ctx.logs, f"webhook-{app}-warmup")
        runs[app] = load.run(hook, "webhook_start", [secret, str(offset)], sizes.intake_connections,
                             sizes.webhook_seconds, ctx.logs, f"webhook-{app}")
        if runs[app].errors:
            raise RuntimeError(f"webhook-{app}: {runs[app].errors} errors of {runs[app].requests} requests")
    handled = stack.database.execute("SELECT count(*) FROM processed_updates WHERE channel = 'telegram'")[0][0]
    omnibot, floor = runs["omnibot"], runs["floor"]
    share = ratio(omnibot.rps, floor.rps)

    copy_rate = _fill(stack, sizes.lookup_contacts)
    lookup, raw = _lookups(stack, sizes.lookup_contacts, sizes.lookups)
    result.data = {"omnibot": omnibot.as_dict(), "floor": floor.as_dict(), "updates_handled": handled,
                   "contacts": sizes.lookup_contacts, "copy_rows_per_second": copy_rate,
                   "find_by_phone_ms": lookup, "raw_select_ms": raw}
    conns = f"{sizes.intake_connections} connections"
    result.rows = [
        Row("5. Webhooks", f"/start updates/s, {conns}", omnibot.rps, "floor app", floor.rps, "req/s",
            "", None, share),
        Row("5. Webhooks", f"p50 / p99, {conns}", f"{omnibot.p50_ms:.1f} / {omnibot.p99_ms:.1f}", "floor app",
            f"{floor.p50_ms:.1f} / {floor.p99_ms:.1f}", "ms", "", None, ratio(omnibot.p99_ms, floor.p99_ms)),
        Row("5. Lookup", f"find_by_phone p50 / p99 at {sizes.lookup_contacts:,} contacts",
            f"{lookup['p50']:.3f} / {lookup['p99']:.3f}", "raw psycopg SELECT", f"{raw['p50']:.3f} / {raw['p99']:.3f}",
            "ms", "", None, ratio(lookup["p99"], raw["p99"])),
    ]
    result.throughput = [("webhook /start: omnibot", omnibot.rps), ("webhook /start: floor", floor.rps)]
    result.latency = [(f"webhook omnibot c={sizes.intake_connections}", omnibot.p50_ms, omnibot.p99_ms),
                      (f"webhook floor c={sizes.intake_connections}", floor.p50_ms, floor.p99_ms),
                      ("find_by_phone (in-process)", lookup["p50"], lookup["p99"]),
                      ("raw SELECT by phone", raw["p50"], raw["p99"])]
    result.notes += [
        "Each update is `/start ORD-n` from a new chat with a new update_id and the secret header: omnibot checks "
        "the secret, parses, dedupes the update_id, creates the contact, links the order, and answers the customer "
        "with a sendMessage to the sandbox inside the request (to a chat the sandbox does not know: a 400 it logs "
        f"and ignores). The floor checks the secret and stores the update with one INSERT. {handled:,} updates "
        "were recorded as handled by omnibot.",
        f"{sizes.lookup_contacts:,} contacts written with COPY ({copy_rate:,.0f} rows/s, then ANALYZE); "
        f"{sizes.lookups:,} lookups of random existing phones, one at a time, in this process: "
        "`SqlContactRepository.find_by_phone` on omnibot's engine (pool_pre_ping on) against the same SELECT on "
        "one bare psycopg connection.",
    ]
    return result


def _phone(number: int) -> str:
    return f"+38068{number:07d}"


def _fill(stack: Stack, count: int) -> float:
    now = datetime.now(UTC).isoformat()
    started = time.monotonic()
    with psycopg.connect(stack.database.url) as connection, connection.cursor() as cursor:
        columns = ("phone, first_name, language, telegram_chat_id, telegram_state, viber_state, phone_verified, "
                   "telegram_linked_at, created_at, updated_at")
        with cursor.copy(f"COPY contacts ({columns}) FROM STDIN") as copy:
            for start in range(0, count, 50_000):
                copy.write("".join(
                    f"{_phone(i)}\tBench\tuk\t{800_000_000 + i}\tactive\tactive\tt\t{now}\t{now}\t{now}\n"
                    for i in range(start, min(count, start + 50_000))))
    stack.database.execute("ANALYZE contacts")
    return round(count / (time.monotonic() - started), 0)


def _lookups(stack: Stack, count: int, lookups: int) -> tuple[dict[str, float], dict[str, float]]:
    rng = random.Random(11)
    phones = [_phone(rng.randrange(count)) for _ in range(lookups)]
    engine = make_engine(database_url(stack.database.url))
    repository = SqlContactRepository(engine)
    try:
        for phone in phones[:200]:
            repository.find_by_phone(phone)
        timings = []
        for phone in phones:
            began = time.perf_counter()
            found = repository.find_by_phone(phone)
            timings.append((time.perf_counter() - began) * 1000)
            if found is None:
                raise RuntimeError(f"find_by_phone found no contact for {phone}")
    finally:
        engine.dispose()
    raw = []
    with psycopg.connect(stack.database.url, autocommit=True) as connection:
        for phone in phones[:200]:
            connection.execute("SELECT * FROM contacts WHERE phone = %s", (phone,)).fetchone()
        for phone in phones:
            began = time.perf_counter()
            connection.execute("SELECT * FROM contacts WHERE phone = %s", (phone,)).fetchone()
            raw.append((time.perf_counter() - began) * 1000)
    return percentiles(timings), percentiles(raw)
