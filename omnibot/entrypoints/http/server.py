"""Running the Flask app under gunicorn, configured in code so ``omnibot serve`` needs no files."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


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
        from omnibot.settings import Settings

        logging_setup.configure()
        services = bootstrap.build(Settings.from_env())
        if services.embedded:
            start_in_process(services)
        return create_app(services)


def run(host: str, port: int, workers: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
    }).run()
