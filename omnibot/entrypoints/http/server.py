"""Running the Flask app under gunicorn, configured in code so ``omnibot serve`` needs no files."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from omnibot.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Each worker builds its own services (database pool, HTTP client) after the fork.
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

    _Gunicorn(options(settings, host, port, workers)).run()
