"""3. Fan-out capacity (limits lifted, 100 ms messenger latency) and 6. memory of the processes after it.

omnibot's workers drain a queue filled beforehand, measured over a window after a warm-up; the
baselines send to the same sandbox: its own ceiling (wrk straight at sendMessage), the naive
synchronous app under the same gunicorn settings, and Apprise from a thread pool.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from typing import Any

import psutil

from bench import fixtures, load, profiling
from bench.context import Context
from bench.cpu import Meter, tree_seconds
from bench.results_model import Row, ScenarioResult, ratio
from bench.stack import API_KEY, PYTHON, Stack, free_port, wait_until_up

RATE_TARGET = 1000.0
UNLIMITED = "1000000"


def run(ctx: Context) -> ScenarioResult:
    stack, sizes = ctx.stack, ctx.sizes
    result = ScenarioResult("3. Fan-out capacity")
    customers = ctx.customers()
    chats = [c.chat_id for c in customers]
    stack.faults({"latency": {"fixed_ms": sizes.fanout_latency_ms}})
    engine_env = {"TELEGRAM_RATE_PER_SECOND": UNLIMITED, "TELEGRAM_CHAT_RATE_PER_SECOND": UNLIMITED,
                  "WORKER_CONCURRENCY": str(sizes.fanout_concurrency)}
    data: dict[str, Any] = {"latency_ms": sizes.fanout_latency_ms, "concurrency": sizes.fanout_concurrency}

    ceiling = load.run(stack.telegram_api("sendMessage"), "send_message", [str(min(chats)), str(len(chats))],
                       sizes.fanout_connections, sizes.fanout_seconds, ctx.logs, "fanout-sandbox-ceiling")
    data["sandbox_ceiling"] = ceiling.as_dict()
    one = data["omnibot_1_worker"] = _measure(ctx, "fanout-1-worker", 1, engine_env,
                                              result=None if sizes.separate_profiles else result)
    memory = _memory(stack, one["rss_mb"])
    if stack.redis_url:
        data["omnibot_2_workers"] = _measure(ctx, "fanout-2-workers", 2, {**engine_env, "REDIS_URL": stack.redis_url})
    if sizes.separate_profiles:
        _measure(ctx, "fanout-profiled", 1, engine_env, result=result)
    naive, memory["naive_gunicorn_worker"] = _naive(ctx)
    data["naive"] = naive
    apprise = data["apprise"] = _apprise(ctx, chats)
    data["memory_mb"] = memory
    result.data = data

    rate1, rate2 = one["per_second"], data.get("omnibot_2_workers", {}).get("per_second")
    naive_rate, apprise_rate = naive.get("per_second"), apprise.get("per_second")
    cpu1, naive_cpu = one["cpu_ms_per_message"], naive["cpu_ms_per_message"]
    c = sizes.fanout_concurrency
    result.rows = [
        Row("3. Fan-out", f"msg/s, 1 worker process (concurrency {c})", rate1, "sandbox ceiling", ceiling.rps,
            "msg/s", "≥ 1,000 msg/s", rate1 >= RATE_TARGET, ratio(rate1, ceiling.rps)),
        Row("3. Fan-out", "msg/s, 2 worker processes + Redis", rate2, "sandbox ceiling", ceiling.rps, "msg/s", "",
            None, ratio(rate2, ceiling.rps)),
        Row("3. Fan-out", "msg/s, 1 worker vs the naive synchronous app", rate1, "naive sync app", naive_rate,
            "msg/s", "", None, ratio(rate1, naive_rate)),
        Row("3. Fan-out", "msg/s, 1 worker vs Apprise", rate1, "Apprise, thread pool", apprise_rate, "msg/s", "",
            None, ratio(rate1, apprise_rate)),
        Row("3. Fan-out", "CPU per message: worker + its PostgreSQL", _sum(cpu1), "naive app + its PostgreSQL",
            _sum(naive_cpu), "ms", "", None, ratio(_sum(cpu1), _sum(naive_cpu))),
        Row("3. Fan-out", "CPU per message: worker process alone", cpu1["worker"], "Apprise process",
            apprise.get("cpu_ms_per_message"), "ms", "", None,
            ratio(cpu1["worker"], apprise.get("cpu_ms_per_message"))),
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
    result.throughput += [("fan-out: sandbox ceiling", ceiling.rps),
                          ("fan-out: naive sync app", naive_rate or 0.0), ("fan-out: Apprise", apprise_rate or 0.0)]
    result.notes += [
        f"Sandbox latency {sizes.fanout_latency_ms:g} ms on every call, rate limits lifted on both sides. "
        "`omnibot sandbox` serves from one process (gunicorn gthread, its state in memory), so one core's worth "
        f"of CPU at most: its own ceiling, wrk with {sizes.fanout_connections} connections straight at "
        f"sendMessage, is {ceiling.rps:,.0f}/s, and no sender can get more through it. Worker, sandbox, "
        "PostgreSQL and load generator share 2 cores: ≥ 1,000 msg/s is above what this machine can show; the "
        "ratio to the ceiling and the CPU per message are the figures that carry over. "
        + _cpu_bound(cpu1["worker"], ceiling.rps),
        f"omnibot: {sizes.fanout_count:,} notifications queued beforehand; rate = sandbox deliveries in a "
        f"{sizes.fanout_seconds:g} s window after a {sizes.warmup_seconds:g} s warm-up. Naive: the seed's design "
        f"(look up, call Telegram inside the request) under omnibot's gunicorn settings ({stack.api_workers} × 8 "
        f"threads), wrk with {sizes.fanout_connections} connections. Apprise {apprise.get('apprise', '')}: its "
        "Telegram plugin has no option for another API host (the host is the class attribute "
        "`NotifyTelegram.notify_url`), so the bench sets that attribute; one notification per chat from "
        f"{sizes.fanout_concurrency} threads, a new connection per message, no queue or persistence.",
    ]
    return result


def _cpu_bound(worker_cpu_ms: float | None, ceiling: float) -> str:
    """Which bound one worker meets first: its own CPU (one process, one core of Python) or the sandbox."""
    if not worker_cpu_ms:
        return ""
    own = 1000 / worker_cpu_ms
    first = "its own CPU binds first" if own < ceiling else "the sandbox binds first"
    return (f"One worker spends {worker_cpu_ms:.1f} ms of CPU per message, so a whole core would carry it to "
            f"{own:,.0f} msg/s at most: {first}.")


def _sum(figures: dict[str, float | None]) -> float | None:
    values = list(figures.values())
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 3)


def _measure(ctx: Context, name: str, workers: int, env: dict[str, str],
             result: ScenarioResult | None = None) -> dict[str, Any]:
    """Fill the queue, start ``workers``, count sandbox deliveries over a window after a warm-up; stop them.

    With ``result``, py-spy profiles the first worker during the window.
    """
    stack, sizes = ctx.stack, ctx.sizes
    stack.database.truncate("notifications")
    count = sizes.fanout_count
    fixtures.enqueue(stack, fixtures.orders_for(ctx.customers(), count, name))
    stack.reset_stats()
    started = stack.start_workers([f"{name}-{n}" for n in range(workers)], **env)
    time.sleep(sizes.warmup_seconds)
    meter = Meter(worker=lambda: sum(tree_seconds(p.pid) for p in started), database=stack.database_cpu).start()
    first, began = stack.stats()["delivered"]["telegram"], time.monotonic()
    window = sizes.profile_seconds if result is not None and sizes.separate_profiles else sizes.fanout_seconds
    spy = None
    if result is not None:
        spy = profiling.start(started[0].pid, window, ctx.logs / "fanout-worker.raw", ctx.logs / "py-spy.log",
                              threads=sizes.fanout_concurrency)
    delivered = first
    while time.monotonic() - began < window and delivered < count:
        time.sleep(0.25)
        delivered = stack.stats()["delivered"]["telegram"]
    elapsed = time.monotonic() - began
    meter.stop()
    if result is not None:
        result.profiles["fanout_delivery_worker"] = profiling.finish(
            spy, ctx.results / f"{ctx.stamp}-fanout-worker.svg",
            f"omnibot worker: {sizes.fanout_latency_ms:g} ms messenger latency, limits lifted")
    rss = _rss(started[0].pid)  # before the stop below
    stack.stop_workers()
    sent = delivered - first
    return {"queued": count, "window_seconds": round(elapsed, 1), "delivered_in_window": sent,
            "per_second": round(sent / elapsed, 1) if elapsed > 0 else 0.0, "cpu_ms_per_message": meter.per(sent),
            "rss_mb": rss, "ran_dry": delivered >= count}


def _rss(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def _memory(stack: Stack, delivery_worker_rss: float) -> dict[str, float]:
    api = [_rss(p) for p in stack.api_worker_pids()]
    floor = [_rss(p.pid) for p in psutil.Process(stack.floor_process.pid).children()]
    return {"api_gunicorn_worker": max(api), "api_gunicorn_workers_total": round(sum(api), 1),
            "floor_gunicorn_worker": max(floor), "delivery_worker": delivery_worker_rss}


def _naive(ctx: Context) -> tuple[dict[str, Any], float]:
    stack, sizes = ctx.stack, ctx.sizes
    port = free_port()
    process = stack.processes.start("naive", [PYTHON, "-m", "bench.naive_app", "--port", str(port), "--database-url",
                                              stack.database.url, "--telegram-api",
                                              stack.telegram_api("").rstrip("/"),
                                              "--workers", str(stack.api_workers), "--api-key", API_KEY], stack.env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, stack.processes.log_of("naive"))
        phones = ctx.logs / "phones.txt"
        phones.write_text("\n".join(c.phone for c in ctx.customers()) + "\n")
        url = f"http://127.0.0.1:{port}/trigger-notification"
        load.run(url, "trigger", [API_KEY, str(phones), "warm"], sizes.fanout_connections, sizes.warmup_seconds,
                 ctx.logs, "fanout-naive-warmup")
        first = stack.stats()["delivered"]["telegram"]
        meter = Meter(app=lambda: tree_seconds(process.pid), database=stack.database_cpu).start()
        driven = load.run(url, "trigger", [API_KEY, str(phones), "run"], sizes.fanout_connections,
                          sizes.fanout_seconds, ctx.logs, "fanout-naive")
        meter.stop()
        sent = stack.stats()["delivered"]["telegram"] - first
        rss = max(_rss(p.pid) for p in psutil.Process(process.pid).children())
    finally:
        stack.processes.stop(process)
    return {**driven.as_dict(), "per_second": driven.rps, "sandbox_delivered": sent,
            "cpu_ms_per_message": meter.per(sent)}, rss


def _apprise(ctx: Context, chats: list[int]) -> dict[str, Any]:
    stack = ctx.stack
    first = stack.stats()["delivered"]["telegram"]
    command = [PYTHON, "-m", "bench.apprise_fanout", "--api", stack.sandbox_url, "--token", stack.telegram_token,
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
    figures["sandbox_delivered"] = stack.stats()["delivered"]["telegram"] - first
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["cpu_ms_per_message"] = round(1000 * cpu / figures["sent"], 3) if figures["sent"] else None
    return figures

