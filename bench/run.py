"""``python -m bench [--quick]``: every scenario, each against its baseline, in one run.

Starts everything itself (a database of its own, the sandbox, omnibot, the baseline apps), stops
it all at the end whatever happened, and writes ``bench/results/<stamp>.{json,md,png}``, the flame
graphs, and ``latest.md``; each process's log goes to ``bench/results/<stamp>-logs/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bench import load, report
from bench.config import FULL, QUICK, with_delivery_limit
from bench.context import Context
from bench.database import BenchDatabase, PrivateServer
from bench.results_model import ScenarioResult
from bench.stack import Processes
from bench.startup import start_stack

RESULTS = Path(__file__).resolve().parent / "results"
_LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
Scenario = Callable[[Context], ScenarioResult]


def scenarios() -> list[tuple[str, Scenario]]:
    from bench.scenarios import delivery, fanout, intake, latency, paid_broadcast, priorities, retention, webhooks

    return [("1. Intake", intake.run), (delivery.NAME, delivery.run), (paid_broadcast.NAME, paid_broadcast.run),
            ("4. Latency", latency.run), ("3. Fan-out capacity", fanout.run), ("5. Webhooks and lookup", webhooks.run),
            ("7. Retention", retention.run), (priorities.NAME, priorities.run)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Tiny versions of every scenario (under a minute).")
    parser.add_argument("--only", action="append", default=[], metavar="N",
                        help="Run only the scenarios whose name starts with N (e.g. --only 1 --only 5; "
                             "--only 2 runs 2 and 2b, --only 2. only 2).")
    parser.add_argument("--pg-url", default=os.environ.get("OMNIBOT_BENCH_PG_URL"),
                        help="Use this PostgreSQL server (a database of the run's own is created there and dropped) "
                             "instead of a throwaway server of the run's own.")
    parser.add_argument("--delivery-limit", type=float, default=None, metavar="PER_SECOND",
                        help="Scenario 2's rate limit; the count follows (100 s of sending). Default 50, quick 30.")
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="Where to write the results (default bench/results; latest.md only there).")
    parser.add_argument("--redis-url", default=os.environ.get("OMNIBOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.delivery_limit:
        sizes = with_delivery_limit(sizes, args.delivery_limit)
    stamp = time.strftime("%Y-%m-%d-%H%M") + ("-quick" if args.quick else "")
    results = args.results_dir.resolve()
    logs = results / f"{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the finally below stops everything.
    signal.signal(signal.SIGTERM, _raise_interrupt)

    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    processes = Processes(logs)
    server = None if args.pg_url else PrivateServer(processes)
    if server is not None and not server.available:
        server = None
    database = BenchDatabase(args.pg_url or (server.url if server else _LOCAL_PG))
    done: list[ScenarioResult] = []
    meta: dict[str, object] = {}
    try:
        if server is not None:
            server.start()
        database.create()
        stack = start_stack(processes, database, args.redis_url)
        if server is not None:
            stack.database_cpu = server.cpu_seconds
        ctx = Context(stack, sizes, logs, results, stamp)
        meta = _meta(args.quick, stack.redis_url, database, server is not None)
        print(f"bench: stack up in {time.monotonic() - started:.0f} s; logs in {logs}", flush=True)
        for name, scenario in scenarios():
            if args.only and not any(name.startswith(prefix) for prefix in args.only):
                continue
            done.append(_run_one(name, scenario, ctx))
        meta.update(ctx.shared)
    except KeyboardInterrupt:
        print("bench: interrupted; stopping everything", file=sys.stderr)
        meta["interrupted"] = True
    finally:
        if server is None:
            try:
                database.drop()
            except Exception as error:
                print(f"bench: could not drop {database.name}: {error}", file=sys.stderr)
        processes.stop_all()  # the throwaway server, started first, stops last
        if server is not None:
            server.stop()
    meta["wall time"] = f"{time.monotonic() - started:.0f} s"
    meta["load average, start → end"] = f"{load_at_start:.1f} → {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)"
    if not done:
        print("bench: no scenario ran", file=sys.stderr)
        return 1
    summary = report.write(results, stamp, meta, done, latest=not args.quick and results == RESULTS)
    print(summary.read_text())
    print(f"bench: wrote {summary} in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if any(s.error for s in done) else 0


def _run_one(name: str, scenario: Scenario, ctx: Context) -> ScenarioResult:
    began = time.monotonic()
    print(f"bench: {name} …", flush=True)
    try:
        result = scenario(ctx)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        (ctx.logs / "errors.log").open("a").write(f"--- {name}\n{traceback.format_exc()}\n")
        result = ScenarioResult(name, error=f"{type(error).__name__}: {error}")
    finally:
        ctx.stack.stop_workers()
    result.data["seconds"] = round(time.monotonic() - began, 1)
    # Other work on the machine skews a scenario: its load average says how busy the cores were.
    result.data["load_average_after"] = round(os.getloadavg()[0], 1)
    print(f"bench: {name} done in {result.data['seconds']} s" + (f" — FAILED: {result.error}" if result.error else ""),
          flush=True)
    return result


def _meta(quick: bool, redis_url: str | None, database: BenchDatabase, private: bool) -> dict[str, object]:
    version = database.execute("SHOW server_version")[0][0]
    connections = database.execute("SHOW max_connections")[0][0]
    return {
        "mode": "quick (tiny sizes: figures are indicative only)" if quick else "full",
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": f"{version}, "
        + ("a throwaway server of the run's own" if private else database.server_url.rpartition("@")[2])
        + f", max_connections {connections}",
        "redis": "yes" if redis_url else "not reachable: two-worker runs skipped",
        "load generator": "wrk (Debian), Lua scripts in bench/lua/" if load.tool() == "wrk"
        else "Python closed-loop client (wrk not installed): it caps what it can drive",
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
