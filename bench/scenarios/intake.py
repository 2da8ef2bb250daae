"""1. Intake: ``POST /v1/notifications`` against the floor app, no worker running, tables truncated between runs."""

from __future__ import annotations

import secrets
from pathlib import Path

from bench import load, profiling
from bench.context import Context
from bench.cpu import Meter, tree_seconds
from bench.load import LoadResult
from bench.results_model import Row, ScenarioResult, ratio
from bench.stack import API_KEY, Stack

P99_TARGET_MS = 20.0
FLOOR_SHARE_TARGET = 0.70


def _drive(stack: Stack, url: str, table: str, app_pid: int, connections: int, seconds: float, warmup: float,
           logs: Path, label: str) -> tuple[LoadResult, dict[str, float | None]]:
    nonce = secrets.token_hex(4)
    if warmup:
        load.run(url, "notifications", [API_KEY, nonce + "w"], connections, warmup, logs, f"{label}-warmup")
    meter = Meter(app=lambda: tree_seconds(app_pid), database=stack.database_cpu).start()
    result = load.run(url, "notifications", [API_KEY, nonce], connections, seconds, logs, label)
    meter.stop()
    stored = stack.database.execute(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608 - our own table names
    if result.errors or stored < result.requests:
        raise RuntimeError(f"{label}: {result.errors} errors, {stored} rows stored for {result.requests} requests")
    stack.database.truncate(table)
    return result, meter.per(result.requests)


def _total(figures: dict[str, float | None]) -> float | None:
    values = [v for v in figures.values() if v is not None]
    return round(sum(values), 3) if values else None


def run(ctx: Context) -> ScenarioResult:
    stack, sizes, logs = ctx.stack, ctx.sizes, ctx.logs
    result = ScenarioResult("1. Intake")
    omnibot_url, floor_url = f"{stack.api_url}/v1/notifications", f"{stack.floor_url}/v1/notifications"
    runs: dict[str, LoadResult] = {}
    cpu: dict[str, dict[str, float | None]] = {}
    apps = (("omnibot", omnibot_url, "notifications", stack.api_process.pid),
            ("floor", floor_url, "floor_notifications", stack.floor_process.pid))
    for load_name, connections, seconds in (("saturated", sizes.intake_connections, sizes.intake_seconds),
                                            ("light", sizes.light_connections, sizes.light_seconds)):
        for app, url, table, pid in apps:
            key = f"{app}_{load_name}"
            runs[key], cpu[key] = _drive(stack, url, table, pid, connections, seconds, sizes.warmup_seconds, logs,
                                         f"intake-{app}-{load_name}")
    result.data = {k: {**v.as_dict(), "cpu_ms_per_request": cpu[k]} for k, v in runs.items()}

    # A profile of one API worker under the saturating load, in a run of its own.
    pid = stack.api_worker_pids()[0]
    spy = profiling.start(pid, sizes.profile_seconds, logs / "intake-api.raw", logs / "py-spy.log", threads=8)
    load.run(omnibot_url, "notifications", [API_KEY, secrets.token_hex(4)], sizes.intake_connections,
             sizes.profile_seconds + 1, logs, "intake-omnibot-profiled")
    result.profiles["intake_api_worker"] = profiling.finish(
        spy, ctx.results / f"{ctx.stamp}-intake-api.svg",
        "omnibot serve: one gunicorn worker under POST /v1/notifications")
    stack.database.truncate("notifications")

    sat_o, sat_f = runs["omnibot_saturated"], runs["floor_saturated"]
    light_o, light_f = runs["omnibot_light"], runs["floor_light"]
    share = ratio(sat_o.rps, sat_f.rps)
    conns = f"{sizes.intake_connections} connections"
    result.rows = [
        Row("1. Intake", f"throughput, {conns}", sat_o.rps, "floor app", sat_f.rps, "req/s", "≥ 70% of floor",
            share is not None and share >= FLOOR_SHARE_TARGET, share),
        Row("1. Intake", f"p50 / p99, {conns}", f"{sat_o.p50_ms:.1f} / {sat_o.p99_ms:.1f}", "floor app",
            f"{sat_f.p50_ms:.1f} / {sat_f.p99_ms:.1f}", "ms", "p99 < 20 ms", sat_o.p99_ms < P99_TARGET_MS,
            ratio(sat_o.p99_ms, sat_f.p99_ms)),
        Row("1. Intake", f"p50 / p99, {sizes.light_connections} connections", f"{light_o.p50_ms:.1f} / "
            f"{light_o.p99_ms:.1f}", "floor app", f"{light_f.p50_ms:.1f} / {light_f.p99_ms:.1f}", "ms",
            "p99 < 20 ms", light_o.p99_ms < P99_TARGET_MS, ratio(light_o.p99_ms, light_f.p99_ms)),
        Row("1. Intake", f"throughput, {sizes.light_connections} connections", light_o.rps, "floor app",
            light_f.rps, "req/s", "", None, ratio(light_o.rps, light_f.rps)),
        Row("1. Intake", f"CPU per request, app + PostgreSQL, {conns}", _total(cpu["omnibot_saturated"]),
            "floor app", _total(cpu["floor_saturated"]), "ms", "", None,
            ratio(_total(cpu["omnibot_saturated"]), _total(cpu["floor_saturated"]))),
    ]
    result.throughput = [("intake: omnibot", sat_o.rps), ("intake: floor", sat_f.rps)]
    result.latency = [(f"intake omnibot c={sizes.intake_connections}", sat_o.p50_ms, sat_o.p99_ms),
                      (f"intake floor c={sizes.intake_connections}", sat_f.p50_ms, sat_f.p99_ms),
                      (f"intake omnibot c={sizes.light_connections}", light_o.p50_ms, light_o.p99_ms),
                      (f"intake floor c={sizes.light_connections}", light_f.p50_ms, light_f.p99_ms)]
    result.notes.append(
        f"Load tool: {sat_o.tool}; {stack.api_workers} gunicorn workers × 8 threads for omnibot and the floor; "
        "every request a new phone, order and Idempotency-Key; no delivery worker running.")
    return result
