"""deploy/prometheus and deploy/grafana against the real tools and the real /metrics.

promtool (Debian's ``prometheus`` package, installed when missing: see tests/debian_tools.py) checks
the Prometheus configuration, the alert rules and their unit tests in alerts_test.yml, and parses every
query of the Grafana dashboard. Every metric those queries and rules name must be one omnibot's
/metrics exposes: a renamed metric would otherwise leave a panel empty and an alert silent.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.debian_tools import PROMTOOL, install_promtool, unavailable
from tests.integration.apps import sqlite_apps
from tests.integration.billing import STARS, start_of_month_minus_a_second, store_sends

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "omnibot.json"
KEY = "monitoring-key-1234"
METRIC_NAME = re.compile(r"\bomnibot_[a-z_]+")
# Prometheus's own series for each target: whether its scrape answered.
SCRAPE_SERIES = {"up"}
# The series Prometheus stores for each sample of a family of the text format.
SERIES_OF_TYPE = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                  "summary": ("", "_sum", "_count"), "gauge": ("",), "unknown": ("",)}


@pytest.fixture(scope="module")
def promtool() -> str:
    problem = install_promtool()
    if problem:
        unavailable(problem)
    return str(PROMTOOL)


def run(command: list[str], cwd: Path = ROOT) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] if panel["type"] != "row" for target in panel["targets"]]


def alert_expressions() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_the_prometheus_configuration_and_its_rules_are_valid(promtool: str) -> None:
    assert "SUCCESS" in run([promtool, "check", "rules", "deploy/prometheus/alerts.yml"])
    # check config also reads the rule files prometheus.yml loads, relative to it.
    assert "1 rule files found" in run([promtool, "check", "config", "deploy/prometheus/prometheus.yml"])


def test_the_alerts_fire_and_stay_quiet_as_their_unit_tests_expect(promtool: str) -> None:
    assert "SUCCESS" in run([promtool, "test", "rules", "deploy/prometheus/alerts_test.yml"])


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # Grafana replaces $__rate_interval before Prometheus sees a query; promtool parses recording rules.
    rules = [{"record": f"omnibot:dashboard_query_{number}", "expr": expr.replace("$__rate_interval", "5m")}
             for number, expr in enumerate(dashboard_queries())]
    queries = tmp_path / "dashboard_queries.yml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in run([promtool, "check", "rules", str(queries)])


@pytest.fixture(scope="module")
def metrics_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The API's /metrics after a trigger and a queued notification, with a Viber budget of 2500."""
    workdir = tmp_path_factory.mktemp("monitoring")
    with sqlite_apps(workdir / "omnibot.sqlite3", internal_api_key=KEY, viber_monthly_budget=2500) as make_app:
        client = make_app().test_client()
        headers = {"X-Internal-API-Key": KEY}
        triggered = client.post("/trigger-notification", json={"phone": "+380501234567", "order_id": "ORD-1"},
                                headers=headers)
        queued = client.post("/v1/notifications", json={"phone": "+380501234568", "order_id": "ORD-2"},
                             headers=headers)
        assert (triggered.status_code, queued.status_code) == (200, 202)
        return client.get("/metrics").get_data(as_text=True)


def exposed_series(metrics_text: str) -> set[str]:
    """The names of the series Prometheus stores from ``metrics_text``, samples or not yet."""
    names = set()
    for family in text_string_to_metric_families(metrics_text):
        names |= {family.name + suffix for suffix in SERIES_OF_TYPE[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_metric_the_dashboard_and_the_alerts_use_is_exposed(metrics_text: str) -> None:
    used = {name for expr in dashboard_queries() + alert_expressions() for name in METRIC_NAME.findall(expr)}
    assert "omnibot_provider_request_seconds_bucket" in used and "omnibot_viber_monthly_budget" in used
    assert sorted(used - exposed_series(metrics_text)) == []
    for expr in dashboard_queries() + alert_expressions():
        named = set(METRIC_NAME.findall(expr)) | {name for name in SCRAPE_SERIES if re.search(rf"\b{name}\{{", expr)}
        assert named, f"no metric in {expr!r}"


def test_the_api_exposes_the_viber_budget_beside_the_months_messages(metrics_text: str) -> None:
    samples = {sample.name: sample.value for family in text_string_to_metric_families(metrics_text)
               for sample in family.samples if not sample.labels}
    assert samples["omnibot_viber_monthly_budget"] == 2500
    assert samples["omnibot_viber_messages_this_month"] == 0
    assert samples["omnibot_queue_depth"] == 1  # the queued one; the trigger finished "User not found"


def billed_spend(metrics_text: str) -> dict[tuple[str, str], float]:
    return {(sample.labels["channel"], sample.labels["currency"]): sample.value
            for family in text_string_to_metric_families(metrics_text) for sample in family.samples
            if sample.name == "omnibot_billed_spend_month"}


def test_the_api_exposes_the_months_billed_spend_by_channel_and_currency(tmp_path: Path) -> None:
    database = tmp_path / "omnibot.sqlite3"
    with sqlite_apps(database, internal_api_key=KEY) as make_app:
        assert billed_spend(make_app().test_client().get("/metrics").get_data(as_text=True)) == {}
        paid = make_app(telegram_paid_broadcast=True).test_client()
        assert billed_spend(paid.get("/metrics").get_data(as_text=True)) == {("telegram", "XTR"): 0}

        now = datetime.now(UTC)
        store_sends(f"sqlite:///{database}", [
            (now, [STARS, None, STARS]), (now, [STARS]), (start_of_month_minus_a_second(), [STARS])])

        spend = billed_spend(paid.get("/metrics").get_data(as_text=True))
        assert spend == {("telegram", "XTR"): pytest.approx(0.3)}  # last month's Star left out
