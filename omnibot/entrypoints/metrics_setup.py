"""Where prometheus-client's multiprocess mode keeps its files (``PROMETHEUS_MULTIPROC_DIR``).

gunicorn runs the API in several processes; each writes its counters to files in one directory
and a scrape of any of them sums them all. prometheus-client reads the variable when it is first
imported, so ``omnibot serve`` sets it before anything imports it and before gunicorn forks.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Not imported from adapters.metrics: importing that imports prometheus-client, too early.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_serve_dir(configured: str | None) -> Path:
    """``configured`` emptied of files left by processes that are gone, or a new directory for this run."""
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        removed = remove_stale(path)
        if removed:
            log.info("metrics.stale_files_removed count=%d", removed)
    else:
        path = Path(tempfile.mkdtemp(prefix="omnibot-metrics-"))
        owner = os.getpid()

        def remove_if_owner() -> None:
            # gunicorn's workers inherit this handler at fork: only the process that made the directory removes it.
            if os.getpid() == owner:
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove_if_owner)
    _export(path)
    return path


def prepare_worker_dir(configured: str | None) -> Path | None:
    """One ``omnibot worker`` is one process: it needs a directory only to share one (with the API's, on one host)."""
    if not configured:
        return None
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    _export(path)
    return path


def remove_stale(path: Path) -> int:
    """Delete the files of processes no longer running (prometheus-client names them ``*_<pid>.db``)."""
    removed = 0
    for file in path.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _export(path: Path) -> None:
    if "prometheus_client" in sys.modules and os.environ.get(MULTIPROC_ENV) != str(path):
        log.warning("metrics.multiprocess_too_late: prometheus_client was imported before the directory was set")
    os.environ[MULTIPROC_ENV] = str(path)


def serve_worker_metrics(services: Any, port: int) -> None:
    """``/metrics`` of one ``omnibot worker`` on ``port`` (a thread of prometheus-client's own server)."""
    from prometheus_client import start_http_server

    from omnibot import bootstrap

    start_http_server(port, registry=bootstrap.metrics_registry(services, database=False))
    log.info("metrics.listening port=%d", port)
