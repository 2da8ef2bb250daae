"""No Docker engine runs here: the deployment files are checked by reading them."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
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


SYSTEMD_UNITS = ROOT / "deploy" / "systemd"


def systemd_service(name: str) -> configparser.SectionProxy:
    # strict=False: systemd allows a key more than once (Environment=); no interpolation: %i is systemd's.
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((SYSTEMD_UNITS / name).read_text())
    return unit["Service"]


@pytest.mark.parametrize(("name", "command"), [("omnibot-api.service", "serve"), ("omnibot-worker@.service", "worker")])
def test_systemd_units_run_omnibot_from_the_environment_file_and_restart_it(name: str, command: str) -> None:
    service = systemd_service(name)
    program, *arguments = shlex.split(service["ExecStart"])
    assert Path(program).is_absolute() and Path(program).name == "omnibot"
    assert arguments[0] == command
    assert service["EnvironmentFile"] == "/etc/omnibot/omnibot.env"  # one file, the same on every machine
    assert service["Restart"] in {"on-failure", "always"}


def test_only_the_api_unit_has_a_metrics_directory_and_each_worker_its_own_metrics_port() -> None:
    api, worker = systemd_service("omnibot-api.service"), systemd_service("omnibot-worker@.service")
    assert f"PROMETHEUS_MULTIPROC_DIR=/run/{api['RuntimeDirectory']}" in api["Environment"].split()
    assert "Environment" not in worker
    assert shlex.split(worker["ExecStart"])[-2:] == ["--metrics-port", "%i"]  # the instance name is the port


MONITORING = ("prometheus", "grafana")


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts of this repository's files: where in the container -> the file here."""
    found = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def test_prometheus_and_grafana_start_only_with_the_monitoring_profile() -> None:
    services = compose()["services"]
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"]
    assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]  # no sign-in: this machine only
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    # `docker compose up` without the profile starts what it always did.
    assert all("profiles" not in service for name, service in services.items() if name not in MONITORING)


def test_the_monitoring_services_mount_files_of_the_repository() -> None:
    services = compose()["services"]
    for name in MONITORING:
        for target, source in mounts(services[name]).items():
            assert source.exists(), f"{name}: {source} for {target}"
    prometheus = mounts(services["prometheus"])
    config = yaml.safe_load(prometheus["/etc/prometheus/prometheus.yml"].read_text())
    for rule_file in config["rule_files"]:  # read relative to the configuration file
        assert f"/etc/prometheus/{rule_file}" in prometheus
    grafana = mounts(services["grafana"])
    providers = yaml.safe_load(grafana["/etc/grafana/provisioning/dashboards"].joinpath("omnibot.yml").read_text())
    dashboards = providers["providers"][0]["options"]["path"]
    assert grafana[f"{dashboards}/omnibot.json"] == ROOT / "deploy" / "grafana" / "omnibot.json"
    sources = yaml.safe_load(grafana["/etc/grafana/provisioning/datasources"].joinpath("prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"


def test_prometheus_scrapes_the_api_and_every_worker_on_their_compose_ports() -> None:
    services = compose()["services"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api_port = services["bot"]["command"][services["bot"]["command"].index("--port") + 1]
    assert jobs["omnibot-api"]["static_configs"][0]["targets"] == [f"bot:{api_port}"]
    # One DNS name, one address per replica: `--scale worker=N` needs no new target.
    workers = jobs["omnibot-worker"]["dns_sd_configs"][0]
    assert workers["names"] == ["worker"] and workers["type"] == "A"
    assert str(workers["port"]) == services["worker"]["environment"]["WORKER_METRICS_PORT"]
    # The alerts and the dashboard name these jobs (the dashboard's JSON escapes its quotes).
    for used in (ROOT / "deploy" / "prometheus" / "alerts.yml", ROOT / "deploy" / "grafana" / "omnibot.json"):
        named = set(re.findall(r'job=\\?"([^"\\]+)', used.read_text()))
        assert named and named <= set(jobs), used.name
