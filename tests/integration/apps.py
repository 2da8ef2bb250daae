"""Whole API apps on a real database, for tests that drive them through Flask's test client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from flask import Flask

from omnibot import bootstrap
from omnibot.entrypoints.http.app import create_app
from omnibot.settings import Settings

AppFactory = Callable[..., Flask]


def sqlite_apps(database: Path, **settings: object) -> AbstractContextManager[AppFactory]:
    return apps(f"sqlite:///{database}", **settings)


@contextmanager
def apps(database_url: str, **settings: object) -> Iterator[AppFactory]:
    """A factory of apps on ``database_url`` (migrated) with ``settings``, each call able to override
    them and to replace some of the built services (``services={"sign_in_throttle": ...}``); every
    app's services are closed at the end."""
    built: list[bootstrap.Services] = []

    def make(services: dict[str, object] | None = None, **overrides: object) -> Flask:
        app_settings = Settings.from_env(**{
            "database_url": database_url, "telegram_bot_token": "1:unused",
            "telegram_api_url": "http://127.0.0.1:9", **settings, **overrides})
        bootstrap.upgrade_database(app_settings)
        built_services = bootstrap.build(app_settings)
        built.append(built_services)
        return create_app(dataclasses.replace(built_services, **(services or {})))

    try:
        yield make
    finally:
        for services in built:
            services.close()
