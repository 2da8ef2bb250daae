"""The migrations build exactly ``tables.py`` on SQLite and PostgreSQL, and URLs map to our drivers."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from omnibot.adapters.db import migrate
from omnibot.adapters.db.engine import database_url, make_engine
from omnibot.adapters.db.tables import metadata

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def schema_differences(engine: Engine) -> list[object]:
    """What `alembic revision --autogenerate` would put in a new migration."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                 "compare_server_default": True})
        return list(compare_metadata(context, metadata))


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_from_an_empty_database_builds_the_whole_schema(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    assert not migrate.is_current(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert migrate.is_current(empty_engine)
    assert table_names(empty_engine) == {*metadata.tables, "alembic_version"}


def test_migrated_schema_has_no_difference_from_tables_py(engine: Engine) -> None:
    assert schema_differences(engine) == []


def test_autogenerate_would_notice_a_table_missing_from_the_database(engine: Engine) -> None:
    # Guards the test above against comparing nothing with nothing.
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE delivery_attempts")
    differences = schema_differences(engine)
    assert {diff[0] for diff in differences} == {"add_table", "add_index"}  # type: ignore[index]


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.is_current(engine)


def test_downgrade_to_nothing_and_up_again(engine: Engine) -> None:
    with engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
    assert table_names(engine) == {"alembic_version"}
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.is_current(engine) and schema_differences(engine) == []


def test_upgrade_takes_a_url_too(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(sqlite_engine: Engine) -> None:
    # After a migration too: migrations switch foreign keys off for SQLite's table rebuilds.
    with sqlite_engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
        assert pragma("PRAGMA foreign_keys").scalar() == 1


def test_postgres_urls_use_psycopg() -> None:
    assert make_engine("postgresql+psycopg://omnibot@db.invalid/omnibot").dialect.driver == "psycopg"


def test_alembic_ini_finds_the_same_migrations() -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.head_revision()


@pytest.mark.parametrize(("raw", "expected"), [
    (None, "sqlite:///omnibot.sqlite3"),
    ("", "sqlite:///omnibot.sqlite3"),
    ("  ", "sqlite:///omnibot.sqlite3"),
    # The seed's own value must work as written.
    ("postgresql://viber_admin:secret@db:5432/viber_bot_db",
     "postgresql+psycopg://viber_admin:secret@db:5432/viber_bot_db"),
    ("postgres://u:p@host/db?sslmode=require", "postgresql+psycopg://u:p@host/db?sslmode=require"),
    ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
    ("postgresql+psycopg2://u@host/db", "postgresql+psycopg2://u@host/db"),
    ("sqlite:////var/lib/omnibot/omnibot.sqlite3", "sqlite:////var/lib/omnibot/omnibot.sqlite3"),
])
def test_database_url(raw: str | None, expected: str) -> None:
    assert database_url(raw) == expected


def test_database_url_default_sqlite_path() -> None:
    assert database_url(None, "/data/omnibot.sqlite3") == "sqlite:////data/omnibot.sqlite3"


def test_the_seeds_url_makes_a_psycopg_engine() -> None:
    engine = make_engine(database_url("postgresql://viber_admin:secret@db:5432/viber_bot_db"))
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    assert engine.url.database == "viber_bot_db"
