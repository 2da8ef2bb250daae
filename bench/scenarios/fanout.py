"""3. Fan-out capacity (limits lifted, 100 ms messenger latency) and 6. memory of the processes after it.

Every sender posts to the bench's sink (``bench/sink.py``): Telegram's ``sendMessage`` answered
after the latency, thousands of times a second, so the figures are the senders' and not the
messenger's (the sandbox, faithful but one process, tops out near 1,000/s). omnibot's workers
drain a queue filled beforehand, measured over a window after a warm-up; the baselines in the
same run: the sink's own ceiling (wrk straight at it), a bare asynchronous sender (no database:
the most a Python sender reaches here), the naive synchronous app under the same gunicorn
settings, and Apprise from a thread pool. The embedded default, ``omnibot serve`` on SQLite with
its worker inside, drains a queue of its own to the same sink, counted the same way.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from typing import Any

import httpx
import psutil

from bench import fixtures, load, profiling
from bench.context import Context
from bench.cpu import Meter, tree_seconds
from bench.results_model import Row, ScenarioResult, ratio
from bench.stack import API_KEY, PYTHON, Stack, free_port, wait_until_up

RATE_TARGET = 1000.0
EMBEDDED_RATE_TARGET = 300.0
BARE_SENDER_SHARE = 0.5
BASELINE_MULTIPLE = 3.0
WORKER_CPU_MS = 0.7
WORKER_AND_DATABASE_CPU_MS = 1.2
UNLIMITED = "1000000"


class Sink:
    """``bench/sink.py`` in a process of its own, and what it has answered."""

    def __init__(self, stack: Stack, latency_ms: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = stack.processes.start("sink", [PYTHON, "-m", "bench.sink", "--port", str(self.port),
                                                      "--latency-ms", f"{latency_ms:g}"], stack.env)
        wait_until_up(f"{self.url}/sink/stats", self.process, stack.processes.log_of("sink"))

    def answered(self) -> int:
        return int(httpx.get(f"{self.url}/sink/stats", timeout=5).json()["answered"])

    def most_in_flight(self) -> int:
        return int(httpx.get(f"{self.url}/sink/stats", timeout=5).json()["most_in_flight"])


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult("3. Fan-out capacity")
    customers = ctx.customers()
    chats = [c.chat_id for c in customers]
    sink = Sink(stack, sizes.fanout_latency_ms)
    try:
        return _run(ctx, result, chats, sink)
    finally:
        stack.processes.stop(sink.process)


def _run(ctx: Context, result: ScenarioResult, chats: list[int], sink: Sink) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    engine_env = {"TELEGRAM_RATE_PER_SECOND": UNLIMITED, "TELEGRAM_CHAT_RATE_PER_SECOND": UNLIMITED,
                  "WORKER_CONCURRENCY": str(sizes.fanout_concurrency), "TELEGRAM_API_URL": sink.url}
    data: dict[str, Any] = {"latency_ms": sizes.fanout_latency_ms, "concurrency": sizes.fanout_concurrency}

    ceiling = load.run(f"{sink.url}/bot{stack.telegram_token}/sendMessage", "send_message",
                       [str(min(chats)), str(len(chats))], sizes.fanout_concurrency, sizes.fanout_seconds,
                       ctx.logs, "fanout-sink-ceiling")
    data["sink_ceiling"] = ceiling.as_dict()
    bare = data["bare_sender"] = _bare_sender(ctx, sink)
    one = data["omnibot_1_worker"] = _measure(ctx, sink, "fanout-1-worker", 1, engine_env,
                                              result=None if sizes.separate_profiles else result)
    memory = _memory(stack, one["rss_mb"])
    if stack.redis_url:
        data["omnibot_2_workers"] = _measure(ctx, sink, "fanout-2-workers", 2,
                                             {**engine_env, "REDIS_URL": stack.redis_url})
    if sizes.separate_profiles:
        _measure(ctx, sink, "fanout-profiled", 1, engine_env, result=result)
    embedded = data["omnibot_embedded_sqlite"] = _embedded(ctx, sink, engine_env)
    naive, memory["naive_gunicorn_worker"] = _naive(ctx, sink)
    data["naive"] = naive
    apprise = data["apprise"] = _apprise(ctx, sink, chats)
    data["memory_mb"] = memory
    data["sink_most_in_flight"] = sink.most_in_flight()
    result.data = data

    rate1, rate2 = one["per_second"], data.get("omnibot_2_workers", {}).get("per_second")
    naive_rate, apprise_rate, bare_rate = naive.get("per_second"), apprise.get("per_second"), bare.get("per_second")
    cpu1, naive_cpu = one["cpu_ms_per_message"], naive["cpu_ms_per_message"]
    embedded_rate, embedded_cpu = embedded["per_second"], embedded["cpu_ms_per_message"]["serve"]
    c = sizes.fanout_concurrency
    bare_share, naive_multiple = ratio(rate1, bare_rate), ratio(rate1, naive_rate)
    apprise_multiple = ratio(rate1, apprise_rate)
    result.rows = [
        Row("3. Fan-out", f"msg/s, 1 worker process (concurrency {c})", rate1, "sink ceiling (wrk)", ceiling.rps,
            "msg/s", "≥ 1,000 msg/s", rate1 >= RATE_TARGET, ratio(rate1, ceiling.rps)),
        Row("3. Fan-out", "msg/s, 1 worker vs the bare asynchronous sender", rate1, "bare sender (aiohttp, no DB)",
            bare_rate, "msg/s", f"≥ {BARE_SENDER_SHARE:g}×", _at_least(bare_share, BARE_SENDER_SHARE), bare_share),
        Row("3. Fan-out", "msg/s, 2 worker processes + Redis", rate2, "sink ceiling (wrk)", ceiling.rps, "msg/s", "",
            None, ratio(rate2, ceiling.rps)),
        Row("3. Fan-out", "msg/s, embedded default (SQLite, inside omnibot serve)", embedded_rate,
            "1 worker process (PostgreSQL)", rate1, "msg/s", f"≥ {EMBEDDED_RATE_TARGET:,.0f} msg/s",
            _at_least(embedded_rate, EMBEDDED_RATE_TARGET), ratio(embedded_rate, rate1)),
        Row("3. Fan-out", "CPU per message: embedded omnibot serve (SQLite inside)", embedded_cpu,
            "worker + its PostgreSQL", _sum(cpu1), "ms", "", None, ratio(embedded_cpu, _sum(cpu1))),
        Row("3. Fan-out", "msg/s, 1 worker vs the naive synchronous app", rate1, "naive sync app", naive_rate,
            "msg/s", f"≥ {BASELINE_MULTIPLE:g}×", _at_least(naive_multiple, BASELINE_MULTIPLE), naive_multiple),
        Row("3. Fan-out", "msg/s, 1 worker vs Apprise", rate1, "Apprise, thread pool", apprise_rate, "msg/s",
            f"≥ {BASELINE_MULTIPLE:g}×", _at_least(apprise_multiple, BASELINE_MULTIPLE), apprise_multiple),
        Row("3. Fan-out", "CPU per message: worker + its PostgreSQL", _sum(cpu1), "naive app + its PostgreSQL",
            _sum(naive_cpu), "ms", f"≤ {WORKER_AND_DATABASE_CPU_MS:g} ms", _at_most(_sum(cpu1),
                                                                                    WORKER_AND_DATABASE_CPU_MS),
            ratio(_sum(cpu1), _sum(naive_cpu))),
        Row("3. Fan-out", "CPU per message: worker process alone", cpu1["worker"], "Apprise process",
            apprise.get("cpu_ms_per_message"), "ms", f"≤ {WORKER_CPU_MS:g} ms", _at_most(cpu1["worker"], WORKER_CPU_MS),
            ratio(cpu1["worker"], apprise.get("cpu_ms_per_message"))),
        Row("3. Fan-out", "CPU per message: bare sender", bare.get("cpu_ms_per_message"), "worker process alone",
            cpu1["worker"], "ms", "", None, ratio(bare.get("cpu_ms_per_message"), cpu1["worker"])),
        Row("6. Memory", "RSS, API gunicorn worker (largest)", memory["api_gunicorn_worker"], "floor gunicorn worker",
            memory["floor_gunicorn_worker"], "MB", "", None,
            ratio(memory["api_gunicorn_worker"], memory["floor_gunicorn_worker"])),
        Row("6. Memory", "RSS, delivery worker process", memory["delivery_worker"], "naive gunicorn worker",
            memory["naive_gunicorn_worker"], "MB", "", None,
            ratio(memory["delivery_worker"], memory["naive_gunicorn_worker"])),
    ]
    result.throughput = [("fan-out: omnibot, 1 worker", rate1)]
    if rate2 is not None:
        result.throughput.append(("fan-out: omnibot, 2 workers", rate2))
    result.throughput.append(("fan-out: omnibot embedded (SQLite)", embedded_rate or 0.0))
    result.throughput += [("fan-out: sink ceiling", ceiling.rps), ("fan-out: bare sender", bare_rate or 0.0),
                          ("fan-out: naive sync app", naive_rate or 0.0), ("fan-out: Apprise", apprise_rate or 0.0)]
    result.notes += [
        f"Every sender posts to the bench's sink (`bench/sink.py`, one asyncio process): Telegram's sendMessage "
        f"answered after {sizes.fanout_latency_ms:g} ms, rate limits lifted on omnibot's side. Its ceiling, wrk "
        f"with {sizes.fanout_concurrency} connections straight at it, is {ceiling.rps:,.0f}/s in this run; the "
        f"most requests it held at once was {data['sink_most_in_flight']:,}. The bare sender "
        f"(`bench/bare_sender.py`): one event loop, aiohttp, {sizes.fanout_concurrency} posts in flight, no "
        "database: the most a Python sender reaches here. Worker, sink, PostgreSQL and load generator share 2 "
        "cores. " + _cpu_bound(cpu1["worker"], bare_rate),
        f"omnibot: {sizes.fanout_count:,} notifications queued beforehand; rate = sink answers in a "
        f"{sizes.fanout_seconds:g} s window after a {sizes.warmup_seconds:g} s warm-up (WORKER_CONCURRENCY {c}). "
        "The embedded default runs the same way in `omnibot serve` (one gunicorn process, the worker a thread "
        "inside it) on a fresh SQLite file, the customers and the queue written into it beforehand with omnibot's "
        "row mapping, its CPU that of the serve process tree, SQLite's included. "
        f"Naive: the seed's design (look up, call Telegram inside the request) under omnibot's gunicorn settings "
        f"({stack.api_workers} × 8 threads), wrk with {sizes.fanout_connections} connections. Apprise "
        f"{apprise.get('apprise', '')}: its Telegram plugin has no option for another API host (the host is the "
        "class attribute `NotifyTelegram.notify_url`), so the bench sets that attribute; one notification per "
        f"chat from {sizes.fanout_concurrency} threads, a new connection per message, no queue or persistence.",
    ]
    return result


def _at_most(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def _cpu_bound(worker_cpu_ms: float | None, bare_rate: float | None) -> str:
    """Which bound one worker meets first: its own CPU (one process, one core of Python) or the sender's."""
    if not worker_cpu_ms:
        return ""
    own = 1000 / worker_cpu_ms
    return (f"One worker spends {worker_cpu_ms:.2f} ms of CPU per message, so a whole core would carry it to "
            f"{own:,.0f} msg/s at most (the bare sender: {bare_rate or 0:,.0f} msg/s).")


def _bare_sender(ctx: Context, sink: Sink) -> dict[str, Any]:
    """The bare asynchronous sender, ``fanout_count`` posts at the concurrency of the workers."""
    command = [PYTHON, "-m", "bench.bare_sender", "--url", f"{sink.url}/bot{ctx.stack.telegram_token}",
               "--client", "aiohttp", "--count", str(ctx.sizes.fanout_count),
               "--in-flight", str(ctx.sizes.fanout_concurrency)]
    finished = subprocess.run(command, env=ctx.stack.env, cwd=ctx.logs, capture_output=True, text=True,
                              timeout=300, check=False)
    (ctx.logs / "bare-sender.log").write_text(finished.stdout + finished.stderr)
    if finished.returncode != 0:
        return {"error": finished.stderr[-300:], "per_second": None, "cpu_ms_per_message": None}
    figures: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return figures


def _sum(figures: dict[str, float | None]) -> float | None:
    values = list(figures.values())
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 3)


def _measure(ctx: Context, sink: Sink, name: str, workers: int, env: dict[str, str],
             result: ScenarioResult | None = None) -> dict[str, Any]:
    """Fill the queue, start ``workers``, count sink answers over a window after a warm-up; stop them.

    With ``result``, py-spy profiles the first worker during the window.
    """
    stack, sizes = ctx.stack, ctx.sizes
    stack.database.truncate("notifications")
    count = sizes.fanout_count
    fixtures.enqueue(stack, fixtures.orders_for(ctx.customers(), count, name))
    before = sink.answered()
    started = stack.start_workers([f"{name}-{n}" for n in range(workers)], **env)
    time.sleep(sizes.warmup_seconds)
    meter = Meter(worker=lambda: sum(tree_seconds(p.pid) for p in started), database=stack.database_cpu).start()
    window = sizes.profile_seconds if result is not None and sizes.separate_profiles else sizes.fanout_seconds
    spy = None
    if result is not None:
        spy = profiling.start(started[0].pid, window, ctx.logs / "fanout-worker.raw", ctx.logs / "py-spy.log",
                              threads=sizes.fanout_concurrency)
    figures = _count_window(sink, before, count, window, meter)
    if result is not None:
        result.profiles["fanout_delivery_worker"] = profiling.finish(
            spy, ctx.results / f"{ctx.stamp}-fanout-worker.svg",
            f"omnibot worker: {sizes.fanout_latency_ms:g} ms messenger latency, limits lifted")
    figures["rss_mb"] = _rss(started[0].pid)  # before the stop below
    stack.stop_workers()
    return figures


def _count_window(sink: Sink, before: int, count: int, seconds: float, meter: Meter) -> dict[str, Any]:
    """Sink answers (counted from ``before``) over a window of ``seconds``, shorter once all ``count`` were
    answered, and the CPU ``meter`` (started by the caller) measured over it."""
    first, began = sink.answered() - before, time.monotonic()
    delivered = first
    while time.monotonic() - began < seconds and delivered < count:
        time.sleep(0.25)
        delivered = sink.answered() - before
    elapsed = time.monotonic() - began
    meter.stop()
    sent = delivered - first
    return {"queued": count, "window_seconds": round(elapsed, 1), "delivered_in_window": sent,
            "per_second": round(sent / elapsed, 1) if elapsed > 0 else 0.0, "cpu_ms_per_message": meter.per(sent),
            "ran_dry": delivered >= count}


def _embedded(ctx: Context, sink: Sink, engine_env: dict[str, str]) -> dict[str, Any]:
    """The embedded default: ``omnibot serve`` on a fresh SQLite file, its in-process worker draining a queue
    written there beforehand; counted like ``_measure``, the CPU that of the serve process tree."""
    stack, sizes, name = ctx.stack, ctx.sizes, "fanout-embedded"
    path = ctx.logs / f"{name}.sqlite3"
    for stale in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    env = {**stack.env, **engine_env, "DATABASE_URL": url}
    upgrade = subprocess.run([PYTHON, "-m", "omnibot", "db", "upgrade"], env=env, cwd=ctx.logs, capture_output=True,
                             text=True, timeout=120, check=False)
    (ctx.logs / f"{name}-db-upgrade.log").write_text(upgrade.stdout + upgrade.stderr)
    if upgrade.returncode != 0:
        return {"error": upgrade.stderr[-300:], "per_second": None, "cpu_ms_per_message": {"serve": None}}
    count = sizes.fanout_count
    fixtures.add_contacts(url, ctx.customers())
    fixtures.enqueue_into(url, fixtures.orders_for(ctx.customers(), count, name))
    port, before = free_port(), sink.answered()
    process = stack.processes.start(name, [PYTHON, "-m", "omnibot", "serve", "--host", "127.0.0.1",
                                           "--port", str(port)], env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, stack.processes.log_of(name))
        time.sleep(sizes.warmup_seconds)
        figures = _count_window(sink, before, count, sizes.fanout_seconds,
                                Meter(serve=lambda: tree_seconds(process.pid)).start())
        figures["rss_mb"] = max((_rss(p.pid) for p in psutil.Process(process.pid).children()), default=None)
    except RuntimeError as error:  # serve did not come up: the scenario's other figures stand
        return {"error": str(error), "per_second": None, "cpu_ms_per_message": {"serve": None}}
    finally:
        stack.processes.stop(process)
    return figures


def _rss(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def _memory(stack: Stack, delivery_worker_rss: float) -> dict[str, float]:
    api = [_rss(p) for p in stack.api_worker_pids()]
    floor = [_rss(p.pid) for p in psutil.Process(stack.floor_process.pid).children()]
    return {"api_gunicorn_worker": max(api), "api_gunicorn_workers_total": round(sum(api), 1),
            "floor_gunicorn_worker": max(floor), "delivery_worker": delivery_worker_rss}


def _naive(ctx: Context, sink: Sink) -> tuple[dict[str, Any], float]:
    stack, sizes = ctx.stack, ctx.sizes
    port = free_port()
    process = stack.processes.start("naive", [PYTHON, "-m", "bench.naive_app", "--port", str(port), "--database-url",
                                              stack.database.url, "--telegram-api",
                                              f"{sink.url}/bot{stack.telegram_token}",
                                              "--workers", str(stack.api_workers), "--api-key", API_KEY], stack.env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, stack.processes.log_of("naive"))
        phones = ctx.logs / "phones.txt"
        phones.write_text("\n".join(c.phone for c in ctx.customers()) + "\n")
        url = f"http://127.0.0.1:{port}/trigger-notification"
        load.run(url, "trigger", [API_KEY, str(phones), "warm"], sizes.fanout_connections, sizes.warmup_seconds,
                 ctx.logs, "fanout-naive-warmup")
        first = sink.answered()
        meter = Meter(app=lambda: tree_seconds(process.pid), database=stack.database_cpu).start()
        driven = load.run(url, "trigger", [API_KEY, str(phones), "run"], sizes.fanout_connections,
                          sizes.fanout_seconds, ctx.logs, "fanout-naive")
        meter.stop()
        sent = sink.answered() - first
        rss = max(_rss(p.pid) for p in psutil.Process(process.pid).children())
    finally:
        stack.processes.stop(process)
    return {**driven.as_dict(), "per_second": driven.rps, "sink_answered": sent,
            "cpu_ms_per_message": meter.per(sent)}, rss


def _apprise(ctx: Context, sink: Sink, chats: list[int]) -> dict[str, Any]:
    stack = ctx.stack
    first = sink.answered()
    command = [PYTHON, "-m", "bench.apprise_fanout", "--api", sink.url, "--token", stack.telegram_token,
               "--chats", ",".join(map(str, chats)), "--count", str(ctx.sizes.apprise_count),
               "--threads", str(ctx.sizes.fanout_concurrency)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(command, env=stack.env, cwd=ctx.logs, capture_output=True, text=True, timeout=300,
                              check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (ctx.logs / "apprise.log").write_text(finished.stdout + finished.stderr)
    if finished.returncode != 0:
        return {"error": finished.stderr[-300:], "per_second": None, "cpu_ms_per_message": None}
    figures: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    figures["sink_answered"] = sink.answered() - first
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["cpu_ms_per_message"] = round(1000 * cpu / figures["sent"], 3) if figures["sent"] else None
    return figures

