"""gunicorn configured in code, and the directory of prometheus-client's multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnibot.entrypoints import metrics_setup
from omnibot.entrypoints.http.gunicorn_config import GunicornLogger, default_workers, options, safe_path
from omnibot.settings import Settings


def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset for the test and restored after it (``delenv`` alone restores nothing it did not delete)."""
    monkeypatch.setenv(metrics_setup.MULTIPROC_ENV, "")
    monkeypatch.delenv(metrics_setup.MULTIPROC_ENV)


def test_workers_default_to_twice_the_cpus_plus_one_at_most_eight() -> None:
    assert default_workers(1) == 3
    assert default_workers(2) == 5
    assert default_workers(64) == 8


def test_timeouts_and_logging_come_from_settings() -> None:
    settings = Settings.from_env(gunicorn_timeout=45, gunicorn_graceful_timeout=25)
    config = options(settings, "127.0.0.1", 5000, 3)
    assert (config["bind"], config["workers"], config["timeout"], config["graceful_timeout"]) == (
        "127.0.0.1:5000", 3, 45, 25)
    assert config["logger_class"] is GunicornLogger


def test_access_log_paths_never_show_a_phone_number() -> None:
    assert safe_path("/v1/customers/0501234567") == "/v1/customers/0501****67"
    assert safe_path("/v1/customers/+380501234567/links") == "/v1/customers/+380*******67/links"
    assert safe_path("/v1/notifications/574b8542-d337-4666-8acc-cc585efb40d9") == (
        "/v1/notifications/574b8542-d337-4666-8acc-cc585efb40d9")


def test_serve_start_removes_only_the_files_of_processes_gone(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for name in (f"counter_{gone.pid}.db", f"histogram_{gone.pid}.db", f"counter_{os.getpid()}.db", "notes.txt"):
        (tmp_path / name).write_text("")
    assert metrics_setup.remove_stale(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{os.getpid()}.db", "notes.txt"]


def test_serve_makes_a_directory_of_its_own_when_none_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    unset(monkeypatch)
    path = metrics_setup.prepare_serve_dir(None)
    try:
        assert path.is_dir() and os.environ[metrics_setup.MULTIPROC_ENV] == str(path)
    finally:
        path.rmdir()


def test_a_worker_shares_a_configured_directory_and_makes_none_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unset(monkeypatch)
    assert metrics_setup.prepare_worker_dir(None) is None
    assert metrics_setup.MULTIPROC_ENV not in os.environ
    shared = tmp_path / "metrics"
    assert metrics_setup.prepare_worker_dir(str(shared)) == shared
    assert shared.is_dir() and os.environ[metrics_setup.MULTIPROC_ENV] == str(shared)
