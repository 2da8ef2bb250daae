"""The ``omnibot`` command: serve the API, run the sandbox, migrate, set webhooks, try it locally."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from omnibot.settings import ConfigurationError, Settings


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="omnibot")
def main() -> None:
    """omnibot: order notifications through Telegram first, Viber as fallback.

    Configuration comes from the environment and an optional .env file (see README).
    """


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", 5000)),
              show_default="5000 or $PORT", help="Port to listen on.")
@click.option("--workers", type=int, default=None, show_default="WEB_CONCURRENCY, else 2 x CPUs + 1, at most 8",
              help="gunicorn worker processes (always 1 on SQLite).")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the shop API and the messenger webhooks under gunicorn."""
    from omnibot.entrypoints import config_check, metrics_setup

    settings = config_check.settings_for_startup()
    metrics_setup.prepare_serve_dir(settings.prometheus_multiproc_dir)  # before prometheus-client is imported
    from omnibot.bootstrap import embedded_database
    from omnibot.entrypoints.http.admin.auth import share_run_key
    from omnibot.entrypoints.http.gunicorn_config import default_workers
    from omnibot.entrypoints.http.server import run

    workers = workers or settings.web_concurrency or default_workers()
    if embedded_database(settings):
        # One process owns the embedded database and runs the delivery worker inside it.
        workers = 1
    share_run_key(os.environ)  # one dashboard session key for all of serve's processes when SECRET_KEY is unset
    run(settings, host, port, workers)


@main.command()
@click.option("--concurrency", type=int, default=None,
              help="Sends in flight at once (default WORKER_CONCURRENCY, 512).")
@click.option("--heartbeat-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Touch this file every few seconds while healthy (for container health checks).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve /metrics on this port (default WORKER_METRICS_PORT; unset: none).")
def worker(concurrency: int | None, heartbeat_file: Path | None, metrics_port: int | None) -> None:
    """Deliver queued notifications: retries, rate limits, fallback. Run as many as you like."""
    from omnibot.entrypoints import config_check, metrics_setup

    settings = config_check.settings_for_startup()
    metrics_setup.prepare_worker_dir(settings.prometheus_multiproc_dir)  # before prometheus-client is imported
    from omnibot import bootstrap
    from omnibot.entrypoints.worker_process import run_forever

    services = bootstrap.build(settings, role="worker")
    if metrics_port or settings.worker_metrics_port:
        metrics_setup.serve_worker_metrics(services, metrics_port or settings.worker_metrics_port or 0)
    if services.embedded:
        click.echo("note: on SQLite `omnibot serve` already runs a worker; run one process only.", err=True)
    if not settings.redis_url and not services.embedded:
        click.echo("note: REDIS_URL is not set: rate limits hold per worker process, not across them.",
                   err=True)
    run_forever(services, concurrency, heartbeat_file)


@main.command("check-config")
def check_config() -> None:
    """Check the configuration, the database and Redis: every problem at once (exit 1 on errors)."""
    from omnibot.entrypoints import config_check

    sys.exit(config_check.run(click.echo))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Create or upgrade the database schema to the latest version."""
    from omnibot.bootstrap import upgrade_database

    click.echo(f"database schema at revision {upgrade_database(load_settings())}")


@main.command("set-webhooks")
@click.option("--url", required=True, help="omnibot's public base URL, e.g. https://bot.example.com")
def set_webhooks(url: str) -> None:
    """Point Telegram and Viber at URL/webhook/telegram and URL/webhook/viber."""
    from omnibot.entrypoints.webhook_setup import set_all

    settings = load_settings()
    ok = set_all(settings, url, click.echo)
    if not ok:
        sys.exit(1)


@main.group()
def links() -> None:
    """Signed one-customer deep links."""


@links.command("create")
@click.option("--phone", required=True, help="The customer's phone (any spelling; DEFAULT_PHONE_REGION applies).")
@click.option("--order", "order_id", default=None, help="The order the link is for (optional).")
@click.option("--ttl-hours", type=float, default=None, help="Validity (default LINK_TTL_HOURS, 168).")
def create_link(phone: str, order_id: str | None, ttl_hours: float | None) -> None:
    """Print a Telegram and a Viber deep link that bind the customer to PHONE in one click."""
    from datetime import timedelta

    from omnibot import bootstrap
    from omnibot.domain.errors import InvalidPhone
    from omnibot.domain.phone import normalize_phone

    settings = load_settings()
    try:
        normalized = normalize_phone(phone, settings.default_phone_region)
    except InvalidPhone:
        raise click.BadParameter("not a valid phone number", param_hint="--phone") from None
    services = bootstrap.build(settings)
    try:
        link = services.links.create(normalized, order_id, None if ttl_hours is None else timedelta(hours=ttl_hours))
    finally:
        services.close()
    click.echo(f"telegram: {link.telegram_url or '(set TELEGRAM_BOT_USERNAME)'}")
    click.echo(f"viber:    {link.viber_url or '(set VIBER_BOT_URI)'}")
    click.echo(f"expires:  {link.expires_at.isoformat(timespec='seconds')}")


def _register_optional() -> None:
    from omnibot.entrypoints.admin_cli import admin_command
    from omnibot.entrypoints.dev import dev_command
    from omnibot_sandbox.cli import sandbox_command

    main.add_command(sandbox_command)
    main.add_command(dev_command)
    main.add_command(admin_command)


_register_optional()
