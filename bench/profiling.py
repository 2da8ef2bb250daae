"""Profiles with py-spy: raw stacks recorded from a running process, drawn as an SVG flame graph.

``py-spy record --format raw`` gives one line per distinct stack with its sample count; from it
this module draws the flame graph (a plain SVG, a tooltip per frame) and sums the top costs:
where the CPU samples end (by library) and the omnibot functions that hold the most samples.
Idle threads (waiting on a socket or a lock) are not sampled, so the figures are CPU time.
"""

from __future__ import annotations

import hashlib
import html
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WIDTH, _ROW, _MIN_FRACTION = 1400, 16, 0.0015
# Frames at the bottom of every stack of a process: true of everything, telling nothing.
_ENTRY_POINTS = ("omnibot/__main__.py", "omnibot/entrypoints/cli.py", "omnibot/entrypoints/http/server.py",
                 "omnibot/entrypoints/worker_process.py")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Recording:
    """Two py-spy recordings of one process at once: the GIL holder (CPU) and every active thread."""

    processes: list[subprocess.Popen[bytes]]
    raws: dict[str, Path]
    seconds: float


def start(pid: int, seconds: float, raw: Path, log: Path, threads: int = 8) -> Recording | None:
    """Sample ``pid`` for ``seconds``; None when py-spy is not installed.

    ``--gil`` samples the thread holding the GIL: where the process spends CPU in Python. Without
    it py-spy samples every thread it does not see as idle, which also shows threads waiting on a
    lock or a socket in C code. Rates stay low for processes with many threads: py-spy reads every
    thread's stack per sample, and one that falls behind runs long past its duration.
    """
    binary = py_spy()
    if binary is None:
        return None
    raws = {"cpu": raw.with_suffix(".cpu.raw"), "wall": raw.with_suffix(".wall.raw")}
    rates = {"cpu": 100, "wall": max(4, min(100, 800 // max(1, threads)))}
    processes = []
    for kind, path in raws.items():
        command = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                   "--rate", str(rates[kind]), "--format", "raw", "--function", "--nonblocking", "--output", str(path)]
        if kind == "cpu":
            command.insert(2, "--gil")
        with log.open("ab") as handle:
            processes.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT))
    return Recording(processes, raws, seconds)


def finish(recording: Recording | None, svg: Path, title: str) -> dict[str, Any]:
    """Wait for the recordings (stopping them past their time); draw the SVGs; the top costs."""
    if recording is None:
        return {"error": "py-spy is not installed (pip install -e '.[bench]')"}
    deadline = time.monotonic() + recording.seconds + 5
    for process in recording.processes:
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    summary: dict[str, Any] = {}
    for kind, raw in recording.raws.items():
        if not raw.exists() or raw.stat().st_size == 0:
            summary[kind] = {"error": "py-spy recorded nothing (see py-spy.log)"}
            continue
        stacks = read(raw)
        path = svg.with_name(f"{svg.stem}-{kind}.svg")
        what = "GIL holder: CPU in Python" if kind == "cpu" else "every active thread, waits in C included"
        path.write_text(flame_graph(stacks, f"{title} — {what}"))
        summary[kind] = {"svg": path.name, **top_costs(stacks)}
    return summary


def read(raw: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            # py-spy's first frame is the thread ("process 123:..."/thread names); keep real frames only.
            stacks[tuple(f for f in frames.split(";") if f)] += int(count)
    return stacks


def library(frame: str) -> str:
    """``execute (sqlalchemy/engine/base.py:1412)`` → ``sqlalchemy``; stdlib modules by their name."""
    location = frame.rpartition("(")[2].rstrip(")")
    path = location.rpartition(":")[0] or location
    if "/" not in path:
        return path.removesuffix(".py") or "?"
    head = path.split("/")[0]
    return head if head not in ("site-packages", "lib") else path.split("/")[1]


def top_costs(stacks: Counter[tuple[str, ...]], count: int = 12) -> dict[str, Any]:
    total = sum(stacks.values())
    by_library: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, samples in stacks.items():
        if not frames:
            continue
        by_library[library(frames[-1])] += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if "omnibot/" in frame and not any(entry in frame for entry in _ENTRY_POINTS):
                inclusive[frame] += samples

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"name": name, "percent": round(100 * n / total, 1)} for name, n in counter.most_common(count)]

    return {"samples": total, "by_library": share(by_library), "self": share(own),
            "omnibot_inclusive": share(inclusive)}


@dataclass
class _Node:
    name: str
    samples: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def flame_graph(stacks: Counter[tuple[str, ...]], title: str) -> str:
    root = _Node("all")
    for frames, samples in stacks.items():
        node = root
        node.samples += samples
        for frame in frames:
            node = node.children.setdefault(frame, _Node(frame))
            node.samples += samples
    boxes: list[str] = []
    depth = _draw(root, 0.0, 0, root.samples or 1, boxes)
    height = (depth + 3) * _ROW
    header = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
              f'font-family="monospace" font-size="11">'
              f'<rect width="100%" height="100%" fill="#fdfdf8"/>'
              f'<text x="8" y="14" font-size="13">{html.escape(title)} — {root.samples} samples; '
              f'hover a frame for its share</text>')
    return header + "".join(boxes) + "</svg>\n"


def _draw(node: _Node, x: float, level: int, total: int, out: list[str]) -> int:
    """Draw ``node`` at ``level`` (the root at the top, callees below), then its children; the depth."""
    width = node.samples / total * _WIDTH
    y = (level + 1) * _ROW + 4
    label = f"{node.name} ({node.samples} samples, {100 * node.samples / total:.1f}%)"
    text = ""
    if width > 40:
        chars = int(width / 6.6)
        short = node.name if len(node.name) <= chars else node.name[: max(0, chars - 1)] + "…"
        text = f'<text x="{x + 3:.1f}" y="{y + 11}">{html.escape(short)}</text>'
    out.append(f'<g><title>{html.escape(label)}</title><rect x="{x:.1f}" y="{y}" width="{width:.1f}" '
               f'height="{_ROW - 1}" fill="{_colour(node.name)}" rx="2"/>{text}</g>')
    deepest = level
    for child in sorted(node.children.values(), key=lambda c: c.name):
        if child.samples / total >= _MIN_FRACTION:
            deepest = max(deepest, _draw(child, x, level + 1, total, out))
        x += child.samples / total * _WIDTH
    return deepest


def _colour(name: str) -> str:
    lib = library(name) if "(" in name else name
    if lib == "omnibot":
        return "#f2a65a"
    hue = int(hashlib.md5(lib.encode()).hexdigest()[:4], 16) % 60
    return f"hsl({hue}, 70%, {62 + hue % 15}%)"
