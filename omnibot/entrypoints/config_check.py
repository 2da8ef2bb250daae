"""``omnibot check-config``: every problem of the configuration at once, each naming its variable.

The same checks run when ``omnibot serve`` and ``omnibot worker`` start. A line names the variable
and what is wrong with it, never its value: values are tokens, keys and passwords.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import redis
from pydantic import ValidationError

from omnibot.bootstrap import connections_needed, probe_database
from omnibot.settings import ConfigurationError, Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 3
# The workers a deployment is checked for (the README's `docker compose up --scale worker=3`).
PLANNED_WORKERS = 3
# About 128 bits as `secrets.token_urlsafe(24)` writes them: a key that long is not guessed.
MIN_KEY_LENGTH = 24


@dataclass(frozen=True)
class Problem:
    variable: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{'error' if self.error else 'warning'}: {self.variable}: {self.message}"

    @classmethod
    def from_line(cls, line: str, *, error: bool = True) -> Problem:
        """The problem a ``VARIABLE: message`` line states."""
        variable, _, message = line.partition(": ")
        return cls(variable, message, error)


def read_settings(**overrides: Any) -> tuple[Settings | None, list[Problem]]:
    """The settings, with each variable that does not validate reported and left at its default."""
    try:
        return Settings(**overrides), []
    except ValidationError as exc:
        problems, defaults = [], dict(overrides)
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            problems.append(Problem(name.upper() or "configuration", error["msg"]))
            if name in Settings.model_fields:
                defaults[name] = Settings.model_fields[name].get_default(call_default_factory=True)
    try:
        return Settings(**defaults), problems
    except ValidationError:
        return None, problems


def check(settings: Settings) -> list[Problem]:
    """What the settings cannot do: missing keys and tokens, an unreachable database or Redis."""
    problems: list[Problem] = []
    try:
        settings.require_serving()
    except ConfigurationError as exc:
        problems += [Problem.from_line(line) for line in exc.problems]
    if settings.telegram_bot_token is not None and not settings.telegram_bot_username:
        problems.append(Problem("TELEGRAM_BOT_USERNAME", "not set while Telegram is on: no Telegram deep links",
                                error=False))
    if settings.viber_auth_token is not None and not settings.viber_bot_uri:
        problems.append(Problem("VIBER_BOT_URI", "not set while Viber is on: no Viber deep links", error=False))
    problems += weakened_security(settings)
    problems += database_problems(settings.database_url, connection_budget(settings))
    if settings.redis_url:
        problems += redis_problems(settings.redis_url)
    return problems


def weakened_security(settings: Settings) -> list[Problem]:
    """Warnings for each setting that trades away some security (README, "Security")."""
    warnings = []
    if any(len(key) < MIN_KEY_LENGTH for key in settings.api_keys()):
        warnings.append(f"INTERNAL_API_KEY: a key is shorter than {MIN_KEY_LENGTH} characters and could be "
                        "guessed: generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    webhook_secret = settings.secret("telegram_webhook_secret")
    if webhook_secret is not None and len(webhook_secret) < MIN_KEY_LENGTH:
        warnings.append(f"TELEGRAM_WEBHOOK_SECRET: shorter than {MIN_KEY_LENGTH} characters and could be guessed; "
                        "unset, a secret derived from the bot token is used")
    if settings.trust_order_links:
        warnings.append("TRUST_ORDER_LINKS: on: whoever opens an order's link receives that order's "
                        "messages; prefer signed links (POST /v1/links)")
    if settings.callback_allow_private:
        warnings.append("CALLBACK_ALLOW_PRIVATE: on: status callbacks may reach loopback and private "
                        "addresses, so a caller of the API can make omnibot post inside your network")
    if settings.admin_cookie_secure is False:
        warnings.append("ADMIN_COOKIE_SECURE: off: the dashboard's session cookie is also sent over plain "
                        "HTTP, where it can be read on the way")
    return [Problem.from_line(warning, error=False) for warning in warnings]


def connection_budget(settings: Settings) -> tuple[int, str]:
    """The connections one `omnibot serve` and ``PLANNED_WORKERS`` workers can hold (README,
    "Connections"), and how to say so."""
    from omnibot.entrypoints.http.gunicorn_config import default_workers

    processes = settings.web_concurrency or default_workers()
    needed = connections_needed(processes, PLANNED_WORKERS)
    return needed, f"one `omnibot serve` ({processes} processes) and {PLANNED_WORKERS} workers can hold {needed}"


def database_problems(raw_url: str | None, budget: tuple[int, str] | None = None) -> list[Problem]:
    """Whether the database answers (within a few seconds) and has the schema this omnibot needs;
    on PostgreSQL, also whether it takes the ``budget`` of connections (a warning)."""
    found = probe_database(raw_url, CONNECT_TIMEOUT_SECONDS, budget[0] if budget else None)
    if found.problem is not None:
        return [Problem("DATABASE_URL", found.problem)]
    if budget and found.connections_accepted is not None:
        available, limit, reserved = found.connections_accepted
        return [Problem("WEB_CONCURRENCY / WORKER_CONCURRENCY",
                        f"{budget[1]} database connections, the server takes {available} (max_connections "
                        f"{limit}, {reserved} reserved): lower them or raise max_connections", error=False)]
    return []


def redis_problems(url: str) -> list[Problem]:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                      socket_timeout=CONNECT_TIMEOUT_SECONDS)
    except ValueError:
        return [Problem("REDIS_URL", "not a Redis URL (redis://host:6379/0)")]
    try:
        client.ping()
    except redis.AuthenticationError:
        return [Problem("REDIS_URL", "Redis refused the credentials")]
    except redis.RedisError as exc:
        return [Problem("REDIS_URL", f"Redis unreachable ({type(exc).__name__})")]
    finally:
        client.close()
    return []


def all_problems() -> tuple[Settings | None, list[Problem]]:
    settings, problems = read_settings()
    if settings is not None:
        problems += check(settings)
    return settings, problems


def run(echo: Callable[[str], None]) -> int:
    """``omnibot check-config``: print every problem; 1 if any is an error, else 0."""
    _, problems = all_problems()
    for problem in problems:
        echo(str(problem))
    errors = sum(problem.error for problem in problems)
    warnings = len(problems) - errors
    echo(f"configuration: {errors} error(s), {warnings} warning(s)" if problems else "configuration: ok")
    return 1 if errors else 0


def settings_for_startup() -> Settings:
    """The settings ``serve`` and ``worker`` start with, logging configured: any error stops them
    (all listed, with the warnings, as text); warnings alone are logged as ``config.warning`` events."""
    from omnibot import logging_setup

    settings, problems = all_problems()
    errors = [p for p in problems if p.error]
    warnings = [p for p in problems if not p.error]
    if errors or settings is None:
        for warning in warnings:
            click.echo(str(warning), err=True)
        raise click.ClickException(str(ConfigurationError([f"{p.variable}: {p.message}" for p in errors])))
    logging_setup.configure(settings)
    for warning in warnings:
        log.warning("config.warning variable=%s problem=%s", warning.variable, warning.message)
    return settings
