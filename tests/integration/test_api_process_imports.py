"""An API process on PostgreSQL stays light: no migration tool, no worker's HTTP client; `/readyz`
still tells a schema this omnibot does not expect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from omnibot.adapters.db import migrate
from omnibot.adapters.db.engine import make_engine
from omnibot.entrypoints.dev import sandbox_environment
from tests.conftest import SQL_BACKENDS, PostgresServer
from tests.integration.apps import apps

# What `omnibot serve` runs: the start-up check in gunicorn's master, then each forked worker's
# app (whose modules include the master's), then a readiness probe.
API_PROCESS = """
import json, sys
from omnibot.entrypoints import config_check
from omnibot.entrypoints.http import server

config_check.settings_for_startup()
app = server._worker_app()
status = app.test_client().get("/readyz").status_code
print(json.dumps({"readyz": status, "loaded": sorted(m for m in ("alembic", "aiohttp") if m in sys.modules)}))
"""


@pytest.mark.postgres
def test_an_api_process_on_postgresql_imports_neither_alembic_nor_aiohttp(
        postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = postgres_server.create_database()
    migrate.upgrade(url)
    env = {name: value for name, value in os.environ.items()
           if name not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY")}
    env.update(sandbox_environment(9), DATABASE_URL=url, INTERNAL_API_KEY="k" * 32)
    finished = subprocess.run([sys.executable, "-c", API_PROCESS], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout.splitlines()[-1]) == {"readyz": 200, "loaded": []}


@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_readyz_is_503_while_the_schema_is_behind_this_omnibot(
        backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = (request.getfixturevalue("postgres_server").create_database() if backend == "postgres"
           else f"sqlite:///{tmp_path / 'ready.sqlite3'}")
    engine = make_engine(url)
    try:
        with apps(url) as make, make().test_client() as client:
            assert client.get("/readyz").json == {"status": "ok", "database": "ok"}

            with engine.connect() as connection:
                command.downgrade(migrate.alembic_config(connection), "-1")
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json == {"status": "unavailable", "database": "migrations pending"}

            with engine.begin() as connection:  # as if never migrated
                connection.exec_driver_sql(f"DROP TABLE {migrate.VERSION_TABLE}")
            assert client.get("/readyz").json == {"status": "unavailable", "database": "migrations pending"}
    finally:
        engine.dispose()
