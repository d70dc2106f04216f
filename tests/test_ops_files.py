"""The operations files name only metrics that pymescore exposes, and parse as their tools expect."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from pymescore.service._metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
MONITOR = {"pymescore_monitor_decisions", "pymescore_monitor_status", "pymescore_monitor_psi_score",
           "pymescore_monitor_csi", "pymescore_monitor_decision_rate", "pymescore_monitor_backtest_auc"}  # fmt: skip


def _exposed() -> set[str]:
    names = set(MONITOR)
    for metric in Metrics().registry.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
        if metric.type == "histogram":
            names |= {metric.name + s for s in ("_bucket", "_sum", "_count")}
    return names


def _used(text: str) -> set[str]:
    return set(re.findall(r"\b(pymescore_[a-z_]+)", text))


def test_alert_rules_and_dashboard_use_only_exposed_metrics() -> None:
    exposed = _exposed()
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "pymescore.json").read_text())
    panel_exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert _used(exprs) <= exposed, _used(exprs) - exposed
    assert _used(panel_exprs) <= exposed, _used(panel_exprs) - exposed
    assert all(r["annotations"].get("action") for g in rules["groups"] for r in g["rules"])


def test_monitor_textfile_names_are_the_ones_rules_know() -> None:
    source = (Path(__file__).resolve().parents[1] / "src" / "pymescore" / "monitoring.py").read_text()
    assert _used(source) == MONITOR


def test_grafana_provisioning_points_at_the_dashboard_folder() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "pymescore.yml").read_text())
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "pymescore.json").read_text())
    assert provider["providers"][0]["type"] == "file"
    uid = datasource["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for needed in ("requests", "latency", "decisions", "score distribution", "psi", "model"):
        assert needed in titles
