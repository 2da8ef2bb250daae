"""`omnibot check-config`, and the same checks at `serve` and `worker` start: every problem at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from omnibot.adapters.db import migrate
from omnibot.adapters.db.engine import make_engine
from omnibot.entrypoints.cli import main
from omnibot.settings import Settings
from tests.conftest import PostgresServer

REDIS_URL = os.environ.get("OMNIBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Invoke = Callable[..., Result]


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'omnibot.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_file: str) -> Invoke:
    """Run an `omnibot` command with a sound configuration, changed by ``env`` (None unsets a variable)."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)

    def run(*args: str, **env: str | None) -> Result:
        sound: dict[str, str | None] = {
            "INTERNAL_API_KEY": "check-key-long-enough-to-be-safe", "TELEGRAM_BOT_TOKEN": "1:check-token",
            "TELEGRAM_BOT_USERNAME": "shop_bot", "DATABASE_URL": sqlite_file}
        return CliRunner().invoke(main, list(args), env={**sound, **env})

    return run


def test_a_sound_configuration_passes(invoke: Invoke) -> None:
    result = invoke("check-config")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "configuration: ok"


def test_every_problem_is_reported_at_once_naming_the_variable_never_the_value(invoke: Invoke) -> None:
    result = invoke("check-config", INTERNAL_API_KEY=None, TELEGRAM_BOT_TOKEN=None,
                    TELEGRAM_API_URL="not-a-url-s3cr3t", WORKER_CONCURRENCY="many",
                    DATABASE_URL="postgresql://app:pg-s3cr3t@127.0.0.1:1/app",
                    REDIS_URL="redis://:redis-s3cr3t@127.0.0.1:1/0")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for variable in ("INTERNAL_API_KEY", "TELEGRAM_BOT_TOKEN / VIBER_AUTH_TOKEN", "TELEGRAM_API_URL",
                     "WORKER_CONCURRENCY", "DATABASE_URL", "REDIS_URL"):
        assert any(line.startswith(f"error: {variable}: ") for line in lines), (variable, result.output)
    assert "error: DATABASE_URL: database unreachable: connection refused" in lines
    assert lines[-1] == "configuration: 6 error(s), 0 warning(s)"
    assert "s3cr3t" not in result.output


def test_a_missing_deep_link_name_is_a_warning_only(invoke: Invoke) -> None:
    result = invoke("check-config", TELEGRAM_BOT_USERNAME=None, VIBER_AUTH_TOKEN="viber-check-token")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "warning: TELEGRAM_BOT_USERNAME: not set while Telegram is on: no Telegram deep links",
        "warning: VIBER_BOT_URI: not set while Viber is on: no Viber deep links",
        "configuration: 0 error(s), 2 warning(s)",
    ]


def test_each_setting_that_weakens_security_is_a_warning_naming_it_never_its_value(invoke: Invoke) -> None:
    result = invoke("check-config", INTERNAL_API_KEY="long-enough-key-for-everyone,sh0rt-k3y",
                    TELEGRAM_WEBHOOK_SECRET="sh0rt-h00k", TRUST_ORDER_LINKS="true", CALLBACK_ALLOW_PRIVATE="true",
                    ADMIN_COOKIE_SECURE="false")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for variable in ("INTERNAL_API_KEY", "TELEGRAM_WEBHOOK_SECRET", "TRUST_ORDER_LINKS", "CALLBACK_ALLOW_PRIVATE",
                     "ADMIN_COOKIE_SECURE"):
        assert sum(line.startswith(f"warning: {variable}: ") for line in lines) == 1, (variable, result.output)
    assert lines[-1] == "configuration: 0 error(s), 5 warning(s)"
    assert "sh0rt" not in result.output and "long-enough" not in result.output
    # The same warnings at start: `serve` says what it runs with (here it stops at the first error).
    started = invoke("serve", "--port", "0", TRUST_ORDER_LINKS="true", INTERNAL_API_KEY=None)
    assert "warning: TRUST_ORDER_LINKS: on: " in started.output and started.exit_code != 0


def test_a_database_without_the_current_schema_is_an_error(invoke: Invoke, tmp_path: Path) -> None:
    missing = invoke("check-config", DATABASE_URL=f"sqlite:///{tmp_path / 'none.sqlite3'}")
    assert "error: DATABASE_URL: the SQLite file does not exist yet: run `omnibot db upgrade`" in missing.output
    assert not (tmp_path / "none.sqlite3").exists()  # checking created nothing
    old_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(old_url)
    migrate.upgrade(engine, "0001")
    engine.dispose()
    old = invoke("check-config", DATABASE_URL=old_url)
    assert old.exit_code == 1
    assert f"the schema is at revision 0001, this omnibot needs {migrate.head_revision()}" in old.output


@pytest.mark.postgres
def test_postgresql_is_connected_to_and_its_schema_checked(invoke: Invoke, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    empty = invoke("check-config", DATABASE_URL=url)
    assert "error: DATABASE_URL: the database has no schema yet: run `omnibot db upgrade`" in empty.output
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    migrate.upgrade(engine)
    engine.dispose()
    assert invoke("check-config", DATABASE_URL=url).exit_code == 0


def test_pools_that_can_outgrow_the_servers_connections_are_a_warning(invoke: Invoke,
                                                                      postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        available = int(connection.exec_driver_sql("SHOW max_connections").scalar_one()) - int(
            connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    engine.dispose()
    # The defaults fit a stock PostgreSQL (100 connections) with the most processes serve starts by default.
    fits = invoke("check-config", DATABASE_URL=url, WEB_CONCURRENCY="8")
    assert fits.output.strip() == "configuration: ok", fits.output
    too_many = invoke("check-config", DATABASE_URL=url, WEB_CONCURRENCY=str(available // 8 + 1))
    assert too_many.exit_code == 0
    [warning] = [line for line in too_many.output.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: WEB_CONCURRENCY / WORKER_CONCURRENCY: one `omnibot serve` (")
    assert f"the server takes {available} " in warning


def test_a_reachable_redis_passes(invoke: Invoke) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis at OMNIBOT_TEST_REDIS_URL")
    assert invoke("check-config", REDIS_URL=REDIS_URL).exit_code == 0


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_to_start_listing_every_error(invoke: Invoke, command: str) -> None:
    result = invoke(command, INTERNAL_API_KEY=None, TELEGRAM_BOT_TOKEN=None, TELEGRAM_BOT_USERNAME=None)
    assert result.exit_code == 1
    assert "INTERNAL_API_KEY: required" in result.output
    assert "TELEGRAM_BOT_TOKEN / VIBER_AUTH_TOKEN: set at least one messenger's token" in result.output
