"""Retention without a pause, for scenario 7: ``python -m bench.retention_loop DATABASE_URL DAYS PAUSE_FILE``.

Runs omnibot's own purge (the housekeeping's batches and time budget) again and again, back to
back, until nothing is left or SIGTERM: the heaviest retention can be, a worker's housekeeping
working off a backlog with no delivery in between. While ``PAUSE_FILE`` exists it waits instead
(checked between purges), so the scenario can alternate windows with and without it. One JSON
line per purge on stdout, and a line when it pauses and resumes.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.retention import SqlRetention

PAUSED, RESUMED = "retention_loop.paused", "retention_loop.resumed"


def main(argv: list[str]) -> int:
    url, days, pause_file = argv[0], int(argv[1]), Path(argv[2])
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    engine = make_engine(database_url(url))
    retention = SqlRetention(engine)
    older_than = datetime.now(UTC) - timedelta(days=days)
    paused = False
    try:
        while not stopping.is_set():
            if pause_file.exists():
                if not paused:
                    print(PAUSED, flush=True)
                    paused = True
                stopping.wait(0.02)
                continue
            if paused:
                print(RESUMED, flush=True)
                paused = False
            began = time.monotonic()
            purged = retention.purge(older_than)
            print(json.dumps({"at": time.time(), "seconds": round(time.monotonic() - began, 4),
                              "notifications": purged.notifications, "attempts": purged.attempts,
                              "callbacks": purged.callbacks}), flush=True)
            if not purged.notifications:
                break
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
