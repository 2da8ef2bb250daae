"""No Docker engine runs here: the deployment files are checked by reading them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from omnibot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_has_the_seed_services_and_a_scalable_worker() -> None:
    services = compose()["services"]
    assert {"db", "bot", "worker", "migrate", "redis"} <= set(services)
    assert "ports" not in services["worker"]  # --scale worker=N needs no fixed port
    assert services["worker"]["environment"]["WORKER_METRICS_PORT"] in services["worker"]["expose"]
    assert services["bot"]["ports"] == ["5000:5000"]


def test_every_omnibot_service_reads_env_and_the_seed_database_url() -> None:
    services = compose()["services"]
    for name in ("bot", "worker", "migrate"):
        assert services[name]["env_file"] == ".env"
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"] == "postgresql://viber_admin:secret@db:5432/viber_bot_db"


def test_start_order_waits_for_health_and_migrations() -> None:
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("bot", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("db", "redis", "worker"):
        assert services[name]["healthcheck"]["test"]


def test_database_credentials_match_the_seed_url() -> None:
    db = compose()["services"]["db"]["environment"]
    credentials = (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"])
    assert credentials == ("viber_admin", "secret", "viber_bot_db")


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*healthz", text, re.MULTILINE)
    assert "EXPOSE 5000" in text


def test_env_example_names_every_setting_the_seed_uses() -> None:
    text = (ROOT / ".env.example").read_text()
    for name in ("VIBER_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN", "INTERNAL_API_KEY", "DATABASE_URL"):
        assert re.search(rf"^#? ?{name}=", text, re.MULTILINE), name


def test_env_example_names_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    missing = [name for name in (field.upper() for field in Settings.model_fields)
               if not re.search(rf"^#? ?{name}=", text, re.MULTILINE)]
    assert missing == []
