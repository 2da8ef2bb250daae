"""Load generation: wrk with a Lua script per request shape, or a Python closed loop when wrk is missing.

Each request shape exists twice, as ``lua/<name>.lua`` for wrk and as a Python function below
that builds the same bodies and headers, so a run without wrk measures the same thing (slower:
a Python client on the same 2 cores caps what it can drive, which the results say).

A run can also count the answers whose body holds a given string (``count_answers_with``):
``lua/count_answers.lua`` under wrk, a substring test in the Python client.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

LUA = Path(__file__).resolve().parent / "lua"
Request = tuple[bytes, dict[str, str]]


@dataclass
class LoadResult:
    tool: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # transport errors, time-outs and non-2xx/3xx answers
    # Answers under 400 whose body held the run's ``count_answers_with``; None when it counted nothing.
    answers_matched: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run(url: str, script: str, args: Sequence[str], connections: int, seconds: float, workdir: Path,
        label: str, count_answers_with: str | None = None) -> LoadResult:
    """Drive ``url`` with ``connections`` keep-alive connections for ``seconds``; the run's figures.

    With ``count_answers_with``, the result also says how many answers (under 400) held that string.
    """
    if count_answers_with is not None and not (count_answers_with.isascii() and count_answers_with.isprintable()):
        raise ValueError("count_answers_with: printable ASCII only (it is written into a Lua script)")
    if tool() == "wrk":
        return _wrk(url, script, args, connections, seconds, workdir, label, count_answers_with)
    return _python(url, _PYTHON_SHAPES[script](list(args)), connections, seconds, count_answers_with)


def _wrk(url: str, script: str, args: Sequence[str], connections: int, seconds: float, workdir: Path,
         label: str, needle: str | None) -> LoadResult:
    parts = [(LUA / "report.lua").read_text(), (LUA / f"{script}.lua").read_text()]
    if needle is not None:
        # A JSON string of printable ASCII is also a Lua string literal.
        parts += [f"answer_needle = {json.dumps(needle)}\n" + (LUA / "count_answers.lua").read_text()]
    combined = workdir / f"{label}.lua"
    combined.write_text("\n".join(parts))
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(combined), url, "--", *args]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    (workdir / f"{label}.wrk.txt").write_text(finished.stdout + finished.stderr)
    line = next((x for x in finished.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {finished.returncode}): {finished.stderr[-500:]}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    duration = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return LoadResult("wrk", connections, round(duration, 2), raw["requests"], round(raw["requests"] / duration, 1),
                      raw["p50_us"] / 1000, raw["p90_us"] / 1000, raw["p99_us"] / 1000, raw["max_us"] / 1000, errors,
                      raw["answers_matched"])


def _python(url: str, make: Callable[[int, int], Request], connections: int, seconds: float,
            needle: str | None) -> LoadResult:
    parts = urlsplit(url)
    path = parts.path or "/"
    wanted = None if needle is None else needle.encode()
    latencies: list[float] = []
    errors, matched = [0], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(thread: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine: list[float] = []
        failed, counter, found = 0, 0, 0
        while time.monotonic() < deadline:
            counter += 1
            body, headers = make(thread, counter)
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status >= 400:
                    failed += 1
                elif wanted is not None and wanted in answer:
                    found += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            matched[0] += found

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i + 1,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 3)

    return LoadResult("python", connections, round(elapsed, 2), len(latencies), round(len(latencies) / elapsed, 1),
                      pct(50), pct(90), pct(99), round(ordered[-1] * 1000, 3), errors[0],
                      None if needle is None else matched[0])


# --- the request shapes, as the Lua scripts build them ------------------------------------------

def _notifications(args: list[str]) -> Callable[[int, int], Request]:
    api_key, nonce = args

    def make(thread: int, counter: int) -> Request:
        n = thread * 1_000_000 + counter
        body = {"phone": f"+38067{n % 10_000_000:07d}", "order_id": f"ORD-{nonce}-{n}", "items": ["Laptop", "Mouse"]}
        return json.dumps(body).encode(), {"Content-Type": "application/json", "X-Internal-API-Key": api_key,
                                           "Idempotency-Key": f"bench-{nonce}-{n}"}
    return make


def _webhook_start(args: list[str]) -> Callable[[int, int], Request]:
    secret, base = args[0], int(args[1])

    def make(thread: int, counter: int) -> Request:
        n = base + thread * 1_000_000 + counter
        chat = 700_000_000 + n
        user = {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "uk"}
        update = {"update_id": n, "message": {
            "message_id": 1, "from": user, "chat": {"id": chat, "first_name": "Bench", "type": "private"},
            "date": int(time.time()), "text": f"/start ORD-{n}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        return json.dumps(update).encode(), {"Content-Type": "application/json",
                                             "X-Telegram-Bot-Api-Secret-Token": secret}
    return make


def _trigger(args: list[str]) -> Callable[[int, int], Request]:
    api_key, phones_file, nonce = args
    phones = Path(phones_file).read_text().split()

    def make(thread: int, counter: int) -> Request:
        phone = phones[((thread - 1) * 7919 + counter) % len(phones)]
        body = {"phone": phone, "order_id": f"ORD-{nonce}-{thread}-{counter}", "items": ["Laptop", "Mouse"]}
        return json.dumps(body).encode(), {"Content-Type": "application/json", "X-Internal-API-Key": api_key}
    return make


def _send_message(args: list[str]) -> Callable[[int, int], Request]:
    first, count = int(args[0]), int(args[1])
    paid = args[2:] == ["paid"]

    def make(thread: int, counter: int) -> Request:
        body: dict[str, object] = {"chat_id": first + (thread * 7919 + counter) % count,
                                   "text": f"Order ORD-{thread}-{counter} is ready"}
        if paid:
            body["allow_paid_broadcast"] = True
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    return make


_PYTHON_SHAPES: dict[str, Callable[[list[str]], Callable[[int, int], Request]]] = {
    "notifications": _notifications, "webhook_start": _webhook_start, "trigger": _trigger,
    "send_message": _send_message,
}
