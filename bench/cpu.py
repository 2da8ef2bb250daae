"""CPU seconds spent by a process tree: a cost per request that holds up better than throughput on a busy machine.

Throughput on 2 shared cores moves with whatever else runs there; the CPU a process spends per
request or per message moves much less, so the scenarios report both.
"""

from __future__ import annotations

from collections.abc import Callable

import psutil


def tree_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (a gunicorn master and its workers)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


class Meter:
    """CPU seconds of several process trees between ``start()`` and ``stop()``, per name."""

    def __init__(self, **sources: Callable[[], float | None]) -> None:
        self._sources = sources
        self._start: dict[str, float | None] = {}
        self.spent: dict[str, float | None] = {}

    def start(self) -> Meter:
        self._start = {name: source() for name, source in self._sources.items()}
        return self

    def stop(self) -> dict[str, float | None]:
        for name, source in self._sources.items():
            begin, end = self._start.get(name), source()
            self.spent[name] = None if begin is None or end is None else round(end - begin, 3)
        return self.spent

    def per(self, count: int) -> dict[str, float | None]:
        """Milliseconds of CPU per item, for ``count`` items."""
        return {name: None if spent is None or not count else round(1000 * spent / count, 3)
                for name, spent in self.spent.items()}
