"""gunicorn's configuration as code: processes, timeouts, logs through omnibot's handler, metrics hooks."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from gunicorn import glogging

from omnibot.bootstrap import API_THREADS
from omnibot.domain.phone import mask_phone
from omnibot.entrypoints.metrics_setup import MULTIPROC_ENV
from omnibot.settings import Settings

MAX_DEFAULT_WORKERS = 8
# A path segment that is a phone number in any spelling (``/v1/customers/0501234567``).
_PHONE_SEGMENT = re.compile(r"\+?[\d ()-]{7,20}")


def default_workers(cpus: int | None = None) -> int:
    """gunicorn's rule of thumb, 2 × CPUs + 1, capped: each process holds its own database pool."""
    return min(2 * (cpus or os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def options(settings: Settings, host: str, port: int, workers: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": API_THREADS,  # the database pool of each process is sized on it
        # A worker silent this long is killed and replaced; on stop, requests get this long to finish.
        "timeout": settings.gunicorn_timeout,
        "graceful_timeout": settings.gunicorn_graceful_timeout,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "logger_class": GunicornLogger,
        "child_exit": child_exit,
        "control_socket_disable": True,  # no gunicornc socket in $XDG_RUNTIME_DIR or ~/.gunicorn
    }


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logs through omnibot's handler (JSON or text, redacted); access lines without query strings."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = str(resp.status).split(None, 1)[0]
        request_id = next((value for name, value in resp.headers if name.lower() == "x-request-id"), None)
        self.access_log.info(
            "http.access method=%s path=%s status=%s duration_ms=%.1f remote=%s",
            environ.get("REQUEST_METHOD"), safe_path(environ.get("PATH_INFO", "")), status,
            request_time.total_seconds() * 1000, environ.get("REMOTE_ADDR", "-"),
            extra={"request_id": request_id})


def safe_path(path: str) -> str:
    """The path with any phone-number segment masked (the query string is never logged at all)."""
    return "/".join(mask_phone(part) if _PHONE_SEGMENT.fullmatch(part) and sum(c.isdigit() for c in part) >= 7
                    else part for part in path.split("/"))


def child_exit(_server: Any, worker: Any) -> None:
    """A gunicorn worker ended: prometheus-client forgets its live gauges (its counters still count)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
