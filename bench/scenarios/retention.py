"""7. Retention: intake while the housekeeping deletes a backlog of old finished notifications.

The table first gets ``sizes.retention_rows`` notifications finished 100-135 days ago, with their
attempts (and a given-up callback on one in a hundred), written by ``INSERT … SELECT
generate_series``. Intake is measured as in scenario 1 in windows that alternate: retention
paused, then ``bench/retention_loop.py`` running omnibot's purge back to back (the worst case of
retention: a first run on a database that kept everything, with no pause between housekeeping
runs), ``sizes.retention_rounds`` times at each load, so drift on a shared machine hits both sides.
"""

from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load
from bench.config import Sizes
from bench.context import Context
from bench.database import BenchDatabase
from bench.load import LoadResult
from bench.results_model import Row, ScenarioResult, ratio
from bench.retention_loop import PAUSED, RESUMED
from bench.stack import API_KEY, PYTHON, Stack, wait_for

NAME = "7. Retention"
P99_RATIO_TARGET = 1.2
RETENTION_DAYS = 90  # the default of NOTIFICATION_RETENTION_DAYS
FILL_CHUNK = 250_000
OLD_ID_PREFIX = "00000000-0000-4000-8000-"  # then the row's number, 12 digits: ranges sort as numbers

# One in ten failed (two attempts), the rest sent (one); all finished 100 days ago and earlier.
_FILL_NOTIFICATIONS = f"""
INSERT INTO notifications (id, phone, order_id, event, items, status, channel, result, created_at, updated_at,
                           next_attempt_at, request_id)
SELECT '{OLD_ID_PREFIX}' || lpad(g::text, 12, '0'), '+38066' || lpad(mod(g, 10000000)::text, 7, '0'),
       'ORD-old-' || g, 'order_ready', '["Laptop", "Mouse"]'::json,
       CASE WHEN mod(g, 10) = 0 THEN 'failed' ELSE 'sent' END, 'telegram',
       CASE WHEN mod(g, 10) = 0 THEN 'Failed: the customer blocked the bot' ELSE 'Sent via Telegram' END,
       t.at, t.at + interval '2 seconds', t.at, 'bench-old-' || g
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
CROSS JOIN LATERAL (SELECT now() - interval '100 days' - g * interval '3 seconds' AS at) AS t
"""
_FILL_ATTEMPTS = """
INSERT INTO delivery_attempts (notification_id, channel, outcome, error, provider_message_id, created_at)
SELECT id, 'telegram', CASE WHEN status = 'failed' THEN 'permanent_failure' ELSE 'sent' END,
       CASE WHEN status = 'failed' THEN 'Forbidden: bot was blocked by the user' END,
       CASE WHEN status = 'sent' THEN substr(id, 25) END, updated_at
FROM notifications WHERE id BETWEEN %(first_id)s AND %(last_id)s
UNION ALL
SELECT id, 'telegram', 'transient_failure', 'Too Many Requests: retry after 1', NULL, created_at
FROM notifications WHERE id BETWEEN %(first_id)s AND %(last_id)s AND status = 'failed'
"""
_FILL_CALLBACKS = """
INSERT INTO status_callbacks (notification_id, url, body, attempts, next_attempt_at, last_error, created_at)
SELECT id, 'https://shop.example/omnibot', '{}', 12, NULL, 'HTTP 503', updated_at
FROM notifications WHERE id BETWEEN %(first_id)s AND %(last_id)s AND mod(substr(id, 25)::bigint, 100) = 0
"""
_OLD_LEFT = "SELECT count(*) FROM notifications WHERE status IN ('sent', 'failed')"  # intake's stay queued


def fill(database: BenchDatabase, count: int) -> float:
    """``count`` old finished notifications with their attempts; rows (notifications) per second."""
    started = time.monotonic()
    for first in range(1, count + 1, FILL_CHUNK):
        last = min(count, first + FILL_CHUNK - 1)
        ids = {"first_id": f"{OLD_ID_PREFIX}{first:012d}", "last_id": f"{OLD_ID_PREFIX}{last:012d}"}
        database.execute(_FILL_NOTIFICATIONS, {"first": first, "last": last})
        database.execute(_FILL_ATTEMPTS, ids)
        database.execute(_FILL_CALLBACKS, ids)
    database.execute("VACUUM ANALYZE notifications, delivery_attempts, status_callbacks")
    return round(count / (time.monotonic() - started), 0)


def _intake(url: str, connections: int, seconds: float, logs: Path, label: str) -> LoadResult:
    result = load.run(url, "notifications", [API_KEY, secrets.token_hex(4)], connections, seconds, logs, label)
    if result.errors:
        raise RuntimeError(f"{label}: {result.errors} errors of {result.requests} requests")
    return result


def _old_left(stack: Stack) -> int:
    return int(stack.database.execute(_OLD_LEFT)[0][0])


class RetentionLoop:
    """``bench/retention_loop.py`` in a process of its own, held or let go through its pause file."""

    def __init__(self, stack: Stack, logs: Path) -> None:
        self._pause_file = logs / "retention.pause"
        self._pause_file.touch()  # it starts paused
        self._stack = stack
        self._log = stack.processes.log_of("retention")
        self.process: subprocess.Popen[bytes] = stack.processes.start(
            "retention", [PYTHON, "-m", "bench.retention_loop", stack.database.url, str(RETENTION_DAYS),
                          str(self._pause_file)], stack.env)
        self._await(PAUSED, 0, "the retention loop to start")

    def _lines(self) -> list[str]:
        return self._log.read_text(errors="replace").splitlines()

    def _await(self, marker: str, seen: int, what: str) -> None:
        wait_for(lambda: self._lines().count(marker) > seen or not self.running, 60, what, interval=0.02)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def pause(self) -> None:
        """Returns once the loop has finished its purge in progress and waits."""
        if not self._pause_file.exists():
            seen = self._lines().count(PAUSED)
            self._pause_file.touch()
            self._await(PAUSED, seen, "the retention loop to pause")

    def resume(self) -> None:
        seen = self._lines().count(RESUMED)
        self._pause_file.unlink(missing_ok=True)
        self._await(RESUMED, seen, "the retention loop to resume")

    def stop(self) -> None:
        self._stack.processes.stop(self.process)
        if self.process.returncode != 0:
            raise RuntimeError(f"the retention loop failed (exit {self.process.returncode}); see {self._log}")

    def purges(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._lines() if line.startswith("{")]


@dataclass
class Window:
    """One measured run of intake; for a run beside retention, what retention did meanwhile."""

    load: LoadResult
    deleted: int = 0
    retention_running: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**self.load.as_dict(), "deleted": self.deleted, "retention_running": self.retention_running}


def run(ctx: Context) -> ScenarioResult:
    stack, sizes, logs = ctx.stack, ctx.sizes, ctx.logs
    result = ScenarioResult(NAME)
    url = f"{stack.api_url}/v1/notifications"
    loads = {"saturated": sizes.intake_connections, "light": sizes.light_connections}
    fill_rate = fill(stack.database, sizes.retention_rows)
    quiet: dict[str, list[Window]] = {name: [] for name in loads}
    busy: dict[str, list[Window]] = {name: [] for name in loads}
    loop = RetentionLoop(stack, logs)
    try:
        if sizes.warmup_seconds:
            _intake(url, sizes.intake_connections, sizes.warmup_seconds, logs, "retention-warmup")
        for round_ in range(1, sizes.retention_rounds + 1):
            for name, connections in loads.items():
                loop.pause()
                quiet[name].append(Window(_intake(url, connections, sizes.retention_seconds, logs,
                                                  f"retention-{name}-{round_}-paused")))
                before = _old_left(stack)
                loop.resume()
                load_result = _intake(url, connections, sizes.retention_seconds, logs,
                                      f"retention-{name}-{round_}-deleting")
                # A window counts only if retention was deleting all along.
                busy[name].append(Window(load_result, before - _old_left(stack), loop.running))
    finally:
        loop.stop()
    left = _old_left(stack)
    stack.database.truncate("notifications", "delivery_attempts", "status_callbacks")
    _report(result, sizes, loads, quiet, busy, loop.purges(), fill_rate, left)
    return result


def _mean(windows: list[Window], figure: str) -> float:
    return round(statistics.fmean(getattr(w.load, figure) for w in windows), 3)


def _report(result: ScenarioResult, sizes: Sizes, loads: dict[str, int], quiet: dict[str, list[Window]],
            busy: dict[str, list[Window]], purges: list[dict[str, Any]], fill_rate: float, left: int) -> None:
    deleted = sum(p["notifications"] for p in purges)
    purge_seconds = sum(p["seconds"] for p in purges)
    rate = round(deleted / purge_seconds, 0) if purge_seconds else None
    result.data = {
        "old_notifications": sizes.retention_rows, "fill_rows_per_second": fill_rate,
        "paused": {k: [w.as_dict() for w in v] for k, v in quiet.items()},
        "deleting": {k: [w.as_dict() for w in v] for k, v in busy.items()},
        "purges": len(purges), "deleted": {
            "notifications": deleted, "attempts": sum(p["attempts"] for p in purges),
            "callbacks": sum(p["callbacks"] for p in purges)},
        "purge_seconds": round(purge_seconds, 2), "deleted_per_second": rate, "old_left_at_the_end": left,
    }
    rounds = (f"{sizes.retention_seconds:g}-s windows each way" if sizes.retention_rounds == 1 else
              f"mean of {sizes.retention_rounds} {sizes.retention_seconds:g}-s windows each way")
    for name, connections in loads.items():
        q, b = quiet[name], busy[name]
        p99_ratio = ratio(_mean(b, "p99_ms"), _mean(q, "p99_ms"))
        valid = all(w.retention_running and w.deleted > 0 for w in b)
        result.rows += [
            Row(NAME, f"intake p50 / p99, {connections} connections, retention deleting ({rounds})"
                + ("" if valid else "; retention had finished: not a valid window"),
                f"{_mean(b, 'p50_ms'):.1f} / {_mean(b, 'p99_ms'):.1f}", "retention paused",
                f"{_mean(q, 'p50_ms'):.1f} / {_mean(q, 'p99_ms'):.1f}", "ms", f"p99 ≤ {P99_RATIO_TARGET}× paused",
                valid and p99_ratio is not None and p99_ratio <= P99_RATIO_TARGET, p99_ratio),
            Row(NAME, f"intake throughput, {connections} connections, retention deleting", _mean(b, "rps"),
                "retention paused", _mean(q, "rps"), "req/s", "", None, ratio(_mean(b, "rps"), _mean(q, "rps"))),
        ]
        result.latency += [(f"intake c={connections}, retention paused", _mean(q, "p50_ms"), _mean(q, "p99_ms")),
                           (f"intake c={connections}, retention deleting", _mean(b, "p50_ms"), _mean(b, "p99_ms"))]
    result.rows.append(Row(NAME, "retention: notifications deleted per second of purging", rate, unit="rows/s"))
    during = ", ".join(f"{sum(w.deleted for w in windows):,} ({name})" for name, windows in busy.items())
    result.notes.append(
        f"{sizes.retention_rows:,} notifications finished 100-135 days ago ({fill_rate:,.0f} rows/s with their "
        f"attempts, INSERT … SELECT generate_series); retention at {RETENTION_DAYS} days: omnibot's purge "
        "(batches of 500, each followed by a rest 3× its length, 2 s a run) back to back in a process of its own, "
        "far more than a worker's housekeeping (one run every 5 minutes). Windows alternate, paused then "
        "deleting, at each load. During the deleting "
        f"windows it deleted {during} notifications; {deleted:,} in all over {len(purges)} purges "
        f"({rate or 0:,.0f} a second of purging), {left:,} left when it was stopped.")
