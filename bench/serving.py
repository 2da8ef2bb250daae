"""The baselines' server: gunicorn exactly as ``omnibot serve`` configures it, minus omnibot's logger.

Floor and naive apps import ``serve``, so a change to omnibot's gunicorn settings (worker class,
threads, timeouts) reaches the baselines too and the comparison stays like for like.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnibot.entrypoints.http.gunicorn_config import options
from omnibot.gunicorn_app import GunicornApp
from omnibot.settings import Settings

# omnibot's own log plumbing and metrics hook: the baselines keep gunicorn's plain access log instead.
_OMNIBOT_ONLY = ("logger_class", "child_exit")


def serve(factory: Callable[[], Any], host: str, port: int, workers: int) -> None:
    settings = {k: v for k, v in options(Settings(), host, port, workers).items() if k not in _OMNIBOT_ONLY}
    GunicornApp(settings, factory).run()
