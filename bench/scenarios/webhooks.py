"""5. Webhook intake (``/start <payload>`` updates) against the floor, whether the customer's reply still arrives,
and contact lookup by phone at 1M contacts."""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import psycopg

from bench import load
from bench.context import Context
from bench.load import LoadResult
from bench.results_model import Row, ScenarioResult, percentiles, ratio
from bench.stack import Stack
from omnibot.adapters.db.engine import database_url, make_engine, pool_limits
from omnibot.adapters.db.repository import SqlContactRepository

FLOOR_SHARE_TARGET = 0.70
# An answer that carries the bot's reply is a Bot API method call: {"method": "sendMessage", "chat_id": ...}.
REPLY_CALL = "sendMessage"
SANDBOX_CUSTOMERS = 50


@dataclass(frozen=True)
class SandboxReplies:
    """What ``customers`` new sandbox customers received after each sent ``/start ORD-…`` to the bot."""

    customers: int
    replied: int  # customers with at least one message from the bot
    # The bot's messages by how they reached the sandbox: "webhook_response" (a method call in the
    # webhook's answer, carried out by the sandbox) or "api" (a request of the bot's own).
    by_origin: dict[str, int]

    def summary(self) -> str:
        origins = ", ".join(f"{count:,} {_ORIGINS.get(via, via)}" for via, count in sorted(self.by_origin.items()))
        return f"{self.replied:,} of {self.customers:,}" + (f" ({origins})" if origins else "")


_ORIGINS = {"webhook_response": "in webhook answers", "api": "by API call"}


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
        # Counted on both sides, so both runs pay wrk the same for reading the answers; the floor's carry no reply.
        runs[app] = load.run(hook, "webhook_start", [secret, str(offset)], sizes.intake_connections,
                             sizes.webhook_seconds, ctx.logs, f"webhook-{app}", count_answers_with=REPLY_CALL)
        if runs[app].errors:
            raise RuntimeError(f"webhook-{app}: {runs[app].errors} errors of {runs[app].requests} requests")
    handled = stack.database.execute("SELECT count(*) FROM processed_updates WHERE channel = 'telegram'")[0][0]
    omnibot, floor = runs["omnibot"], runs["floor"]
    share = ratio(omnibot.rps, floor.rps)
    received = _sandbox_replies(stack, SANDBOX_CUSTOMERS, secrets.token_hex(4))

    copy_rate = _fill(stack, sizes.lookup_contacts)
    lookup, raw, pre_ping = _lookups(stack, sizes.lookup_contacts, sizes.lookups)
    result.data = {"omnibot": omnibot.as_dict(), "floor": floor.as_dict(), "updates_handled": handled,
                   "sandbox_replies": asdict(received),
                   "contacts": sizes.lookup_contacts, "copy_rows_per_second": copy_rate,
                   "find_by_phone_ms": lookup, "find_by_phone_pre_ping": pre_ping, "raw_select_ms": raw}
    conns = f"{sizes.intake_connections} connections"
    result.rows = [
        Row("5. Webhooks", f"/start updates/s, {conns}", omnibot.rps, "floor app", floor.rps, "req/s",
            "", None, share),
        Row("5. Webhooks", f"p50 / p99, {conns}", f"{omnibot.p50_ms:.1f} / {omnibot.p99_ms:.1f}", "floor app",
            f"{floor.p50_ms:.1f} / {floor.p99_ms:.1f}", "ms", "", None, ratio(omnibot.p99_ms, floor.p99_ms)),
        Row("5. Webhooks", f"replies carried in answers, {conns}", _carried(omnibot), "floor app", _carried(floor),
            "updates", "all", _all_carried(omnibot)),
        Row("5. Webhooks", f"replies the sandbox received, {received.customers} customers end to end",
            received.summary(), "", None, "", "all", received.replied >= received.customers),
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
        "the secret, parses, dedupes the update_id, creates the contact, links the order, and answers the customer. "
        f"Replies carried in answers: {_carried(omnibot)} updates (answers naming `{REPLY_CALL}`, the reply as a "
        "Bot API method call in the webhook's HTTP answer; wrk counts them and carries none out). The floor checks "
        f"the secret and stores the update with one INSERT (replies carried: {_carried(floor)}). {handled:,} updates "
        "were recorded as handled by omnibot.",
        f"End to end: {received.customers} new sandbox customers each sent `/start ORD-…` to the bot, the sandbox "
        "posting the update to omnibot's webhook and carrying out a method call in its answer, as Telegram does; "
        f"replies the sandbox received: {received.summary()}.",
        f"{sizes.lookup_contacts:,} contacts written with COPY ({copy_rate:,.0f} rows/s, then ANALYZE); "
        f"{sizes.lookups:,} lookups of random existing phones, one at a time, in this process: "
        "`SqlContactRepository.find_by_phone` on an engine built as an API process builds it "
        f"(pool_pre_ping {'on' if pre_ping else 'off'}) against the same SELECT on one bare psycopg connection.",
    ]
    _require_replies(omnibot, received)
    return result


def _carried(run: LoadResult) -> str:
    return f"{run.answers_matched or 0:,} of {run.requests - run.errors:,}"


def _all_carried(run: LoadResult) -> bool:
    return (run.answers_matched or 0) >= run.requests - run.errors


def _require_replies(omnibot: LoadResult, received: SandboxReplies) -> None:
    """The customer's reply still arrives: in every answer of omnibot's webhook, and at every sandbox customer.

    Checked after everything was measured, so the message can give both counts."""
    if not _all_carried(omnibot) or received.replied < received.customers:
        raise RuntimeError(f"replies carried in answers: {_carried(omnibot)} updates; "
                           f"replies the sandbox received: {received.summary()}")


def _sandbox_replies(stack: Stack, count: int, tag: str) -> SandboxReplies:
    """``count`` new sandbox customers each send ``/start ORD-<tag>-<i>``; what they received from the bot.

    Only the sandbox's control API: it posts each update to omnibot's webhook and carries out a method
    call in the answer, so a reply reaches the customer whichever way omnibot sends it."""
    customers: list[str] = []
    in_answers = 0
    with _telegram_webhook_at(stack, f"{stack.api_url}/webhook/telegram", stack.env["TELEGRAM_WEBHOOK_SECRET"]):
        for number in range(count):
            created = stack.sandbox.post("/sandbox/customers", json={
                "name": "Bench Customer", "phone": f"+38073{number:07d}", "language": "uk"})
            created.raise_for_status()
            customer = created.json()["id"]
            started = stack.sandbox.post(f"/sandbox/customers/{customer}/telegram/start",
                                         json={"payload": f"ORD-{tag}-{number}"})
            started.raise_for_status()
            report = started.json()
            if report.get("webhook_status") != 200:
                raise RuntimeError(f"the sandbox's /start for {customer} reached no webhook answering 200: {report}")
            # The action's report names the method call the webhook's answer carried and how it went. The
            # messages' own "via" cannot tell: the sandbox's Telegram sendMessage labels every message "api".
            carried = report.get("webhook_method") or {}
            in_answers += carried.get("method") == REPLY_CALL and carried.get("ok") is True
            customers.append(customer)
    replied = received = 0
    for customer in customers:
        answer = stack.sandbox.get(f"/sandbox/customers/{customer}/messages", params={"channel": "telegram"})
        answer.raise_for_status()
        messages = answer.json()
        received += len(messages)
        replied += bool(messages)
    origins = {"webhook_response": in_answers, "api": received - in_answers}
    return SandboxReplies(count, replied, {via: n for via, n in origins.items() if n})


@contextlib.contextmanager
def _telegram_webhook_at(stack: Stack, url: str, secret: str) -> Iterator[None]:
    """The sandbox's Telegram webhook at ``url`` with ``secret`` inside the block, and back as it was after.

    The stack sets it there at start (``omnibot set-webhooks``), so usually nothing changes. The
    sandbox tells whether a webhook has a secret, never the secret: one elsewhere comes back without."""
    bot = f"/bot{stack.telegram_token}"
    before = stack.sandbox.get("/sandbox/webhooks").json()["telegram"]
    if before is not None and before["url"] == url and before["has_secret_token"]:
        yield
        return
    stack.sandbox.post(f"{bot}/setWebhook", json={"url": url, "secret_token": secret}).raise_for_status()
    try:
        yield
    finally:
        if before is None:
            stack.sandbox.post(f"{bot}/deleteWebhook", json={}).raise_for_status()
        else:
            stack.sandbox.post(f"{bot}/setWebhook", json={"url": before["url"]}).raise_for_status()


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


def _lookups(stack: Stack, count: int, lookups: int) -> tuple[dict[str, float], dict[str, float], bool]:
    """find_by_phone's and the raw SELECT's timings, and whether omnibot's engine pinged before each checkout."""
    rng = random.Random(11)
    phones = [_phone(rng.randrange(count)) for _ in range(lookups)]
    pool_size, max_overflow = pool_limits("api")
    engine = make_engine(database_url(stack.database.url), pool_size=pool_size, max_overflow=max_overflow)
    pre_ping = engine.pool._pre_ping  # SQLAlchemy keeps the setting nowhere public
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
    return percentiles(timings), percentiles(raw), pre_ping
