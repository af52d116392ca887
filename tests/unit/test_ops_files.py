"""The shipped Prometheus rules, their promtool tests, the runbooks and the dashboard
agree with each other. (promtool itself checks and runs the rules: scripts/test, and
tests/integration/test_prometheus.py runs them in a real server.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.dashboard import load, metric_names, panel_queries, panels

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops" / "prometheus"
RUNBOOKS = REPO / "docs/alerts.md"
ROWS = ["Node overview", "Stream", "Peg-outs", "Supervision", "Storage"]


def rules(name: str) -> list[dict[str, Any]]:
    document = yaml.safe_load((OPS / "rules" / name).read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


ALERTS = rules("alys-alerts.yml")
RECORDED = {rule["record"] for rule in rules("alys-recording.yml")}
ALERT_NAMES = [rule["alert"] for rule in ALERTS]


def promtool_cases() -> list[dict[str, Any]]:
    return [case for path in sorted((OPS / "tests").glob("*.yml"))
            for test in yaml.safe_load(path.read_text())["tests"]
            for case in test.get("alert_rule_test", [])]


def test_the_alerts_the_issue_asks_for_are_there() -> None:
    assert set(ALERT_NAMES) >= {
        "AlysActorRestartingRepeatedly", "AlysSupervisorIntensityExceeded",
        "AlysStreamNotConnected", "AlysStreamCircuitOpen", "AlysPegoutsAwaitingSignaturesStuck",
        "AlysPegoutUnconfirmedTooLong", "AlysPegoutNeedsReview", "AlysOutboxDrops",
        "AlysStorageWriteFailures", "AlysStorageFatal", "AlysDiskNearlyFull"}
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES))


@pytest.mark.parametrize("rule", ALERTS, ids=ALERT_NAMES)
def test_each_alert_has_a_severity_a_summary_and_a_runbook_section(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    assert annotations["runbook_url"] == f"docs/alerts.md#{name.lower()}"
    text = RUNBOOKS.read_text()
    assert re.search(rf"^## {name}$", text, re.MULTILINE), f"no runbook section for {name}"
    section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
    assert "**Means.**" in section and "**Check.**" in section and "**Do.**" in section
    assert f"[{name}](#{name.lower()})" in text  # in the table of alerts


@pytest.mark.parametrize("rule", ALERTS, ids=ALERT_NAMES)
def test_each_alert_has_promtool_cases_quiet_and_firing(rule: dict[str, Any]) -> None:
    cases = [case for case in promtool_cases() if case["alertname"] == rule["alert"]]
    assert any(case["exp_alerts"] for case in cases), "never shown firing"
    assert any(not case["exp_alerts"] for case in cases), "never shown quiet"


def test_alerts_read_only_recording_rules_that_exist() -> None:
    for rule in ALERTS:
        used = {name for name in metric_names(rule["expr"]) if ":" in name}
        assert used <= RECORDED, (rule["alert"], used - RECORDED)


def test_the_dashboard_has_the_five_rows_in_order_and_every_panel_says_what_it_shows() -> None:
    document = load()
    assert [p["title"] for p in document["panels"] if p["type"] == "row"] == ROWS
    for panel in panels(document):
        assert panel.get("description"), panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"
    ids = [panel["id"] for panel in panels(document)]
    assert len(ids) == len(set(ids))


def test_every_dashboard_query_names_some_metric_and_no_recording_rule_is_needed() -> None:
    for title, expr in panel_queries():
        names = metric_names(expr)
        assert names, title
        assert not {n for n in names if ":" in n}, f"{title}: works without the rules"


@pytest.mark.parametrize(("expr", "names"), [
    ('histogram_quantile(0.99, sum by (le, type) (rate(a_bucket{x=~"$i"}[5m])))', {"a_bucket"}),
    ("time() - (b > 0) and on (job) up offset 10m > 1e3", {"b", "up"}),
    ('sum without (x) (a) / ignoring(y) group_left c{l="and"}', {"a", "c"}),
    ("alys:x:rate5m < 0.10", {"alys:x:rate5m"}),
])
def test_metric_names_are_read_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
