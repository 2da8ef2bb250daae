"""Whole API apps on a real database, for tests that drive them through Flask's test client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from flask import Flask

from omnibot import bootstrap
from omnibot.adapters.db import migrate
from omnibot.entrypoints.http.app import create_app
from omnibot.settings import Settings

AppFactory = Callable[..., Flask]


def sqlite_apps(database: Path, **settings: object) -> AbstractContextManager[AppFactory]:
    return apps(f"sqlite:///{database}", **settings)


@contextmanager
def apps(database_url: str, **settings: object) -> Iterator[AppFactory]:
    """A factory of apps on ``database_url`` (migrated) with ``settings``, each call able to override
    them; every app's services are closed at the end."""
    built: list[bootstrap.Services] = []

    def make(**overrides: object) -> Flask:
        services = bootstrap.build(Settings.from_env(**{
            "database_url": database_url, "telegram_bot_token": "1:unused",
            "telegram_api_url": "http://127.0.0.1:9", **settings, **overrides}))
        migrate.upgrade(services.engine)
        built.append(services)
        return create_app(services)

    try:
        yield make
    finally:
        for services in built:
            services.close()
