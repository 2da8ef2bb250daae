"""Running the Flask app under gunicorn, configured in code so ``omnibot serve`` needs no files."""

from __future__ import annotations

from typing import Any

from omnibot.gunicorn_app import GunicornApp
from omnibot.settings import Settings


def _worker_app() -> Any:
    """Each worker builds its own services (database pool, HTTP client) after the fork."""
    from omnibot import bootstrap, logging_setup
    from omnibot.entrypoints.http.app import create_app
    from omnibot.entrypoints.worker_process import start_in_process

    settings = Settings.from_env()
    logging_setup.configure(settings)
    services = bootstrap.build(settings)
    if services.embedded:
        start_in_process(services)
    return create_app(services)


def run(settings: Settings, host: str, port: int, workers: int) -> None:
    from omnibot.entrypoints.http.gunicorn_config import options

    GunicornApp(options(settings, host, port, workers), _worker_app).run()
