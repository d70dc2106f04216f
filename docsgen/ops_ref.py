"""The alerts runbook: ``deploy/prometheus/ALERTS.md`` (what to do) and every rule of ``alerts.yml`` (what fires)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def alert_rules() -> list[dict[str, Any]]:
    import yaml

    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def alerts_reference() -> str:
    text = (PROMETHEUS / "ALERTS.md").read_text(encoding="utf-8")
    # links relative to deploy/prometheus/ name files outside the site: shown as repository paths
    text = re.sub(r"\[([^\]]+)\]\(([\w.-]+\.ya?ml)\)", r"`deploy/prometheus/\2`", text)
    lines = [text.rstrip(), "", "## Every rule", "",
             "Generated at build time from `deploy/prometheus/alerts.yml` (`docsgen/ops_ref.py`).", "",
             "| alert | severity | for | expression |", "|---|---|---|---|"]  # fmt: skip
    for rule in alert_rules():
        expr = " ".join(str(rule["expr"]).split()).replace("|", "\\|")
        severity = rule.get("labels", {}).get("severity", "")
        lines.append(f"| `{rule['alert']}` | {severity} | {rule.get('for', '')} | `{expr}` |")
    return "\n".join(lines) + "\n"
