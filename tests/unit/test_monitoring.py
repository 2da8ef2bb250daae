"""The Grafana dashboard and the Prometheus alert rules of deploy/, checked by reading them.

promtool's own checks, and the metric names against a real /metrics, are in
tests/integration/test_monitoring.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "omnibot.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
SEVERITIES = {"warning", "critical"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    """The dashboard's panels, rows' headings left out (they hold no query)."""
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_dashboard_is_a_grafana_dashboard_of_its_own_uid() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41  # Grafana 10 and 11 load it without migrating far
    assert board["uid"] == "omnibot" and board["title"]
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


def test_every_panel_queries_prometheus_through_the_datasource_variable() -> None:
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert panels()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"]), panel["title"]


def test_panels_fit_the_grid_without_overlapping() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] >= 1 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_dashboard_shows_what_operators_ask_for() -> None:
    expressions = " ".join(target["expr"] for panel in panels() for target in panel["targets"])
    for shown in ("sum by (api) (rate(omnibot_notifications_accepted_total",
                  "sum by (channel) (rate(omnibot_notifications_sent_total",
                  "sum by (reason) (rate(omnibot_notifications_failed_total",
                  "sum by (channel) (rate(omnibot_provider_throttled_total",
                  "omnibot_queue_depth", "omnibot_queue_oldest_age_seconds",
                  "omnibot_viber_messages_this_month", "omnibot_viber_monthly_budget"):
        assert shown in expressions
    for quantile in ("0.5", "0.95", "0.99"):
        assert (f"histogram_quantile({quantile}, sum by (channel, le) "
                "(rate(omnibot_provider_request_seconds_bucket[$__rate_interval])))") in expressions


def test_every_alert_waits_has_a_severity_and_says_what_to_do() -> None:
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_there_is_an_alert_for_each_way_omnibot_goes_wrong() -> None:
    every = " ".join(rule["expr"] for rule in alert_rules())
    for watched in ("omnibot_queue_oldest_age_seconds", "omnibot_notifications_failed_total",
                    'up{job="omnibot-worker"}', "omnibot_database_up == 0", "omnibot_provider_throttled_total",
                    "omnibot_viber_monthly_budget"):
        assert watched in every


def test_every_alert_has_promtool_cases_firing_and_quiet() -> None:
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in alert_rules():
        expected = [case["exp_alerts"] for case in cases if case["alertname"] == rule["alert"]]
        assert any(expected), f"{rule['alert']} is never expected to fire"
        assert [] in expected, f"{rule['alert']} is never expected to stay quiet"
