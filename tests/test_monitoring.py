"""The monitoring job on decisions made by the service: stable on the training population, PSI > 0.25 and
the shifted features flagged when the applications come from a population hit by a regional shock."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pymescore.bundle import load_bundle
from pymescore.features import build_labels
from pymescore.monitoring import Thresholds, monitor
from pymescore.service import application_bodies
from tests.service_support import make_app

AS_OF = "2024-12-31"  # an observation date of the training snapshot


def _shocked(body: dict[str, Any]) -> dict[str, Any]:
    """A regional shock: incomes fall by 60% over the last six months and arrears appear at the bureau."""
    out = copy.deepcopy(body)
    for rec in out["monthly_cashflows"][-6:]:
        rec["income"] = round(rec["income"] * 0.4, 2)
    for rec in out["bureau_ratings"][-3:]:
        rec["sbs_rating"] = max(rec["sbs_rating"], 2)
    return out


@pytest.fixture(scope="module")
def decided(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("monitor")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    tables = sme_bundle["tables"]
    # the training population: firms not already in default at AS_OF (snapshots leave those out), a random
    # sample (the first RUCs are natural persons)
    labels = build_labels(tables, AS_OF, tables["firms"]["ruc"].to_numpy(dtype=object))
    sample = labels.loc[~labels["in_default"].astype(bool), "ruc"].sample(500, random_state=0)
    bodies = application_bodies(tables, [str(r) for r in sample], AS_OF, months=36)
    out: dict[str, Any] = {"bundle": root / "bundle", "root": root}
    for name, batch in (("plain", bodies), ("shocked", [_shocked(b) for b in bodies])):
        url = f"sqlite:///{root / f'{name}.db'}"
        app, state = make_app(root / "bundle", url, lake=sme_bundle["lake"].root)
        key, _ = state.store.create_key("bank-a", ["score"])
        with TestClient(app) as client:
            for i in range(0, len(batch), 100):
                r = client.post("/v1/scores:batch", json={"applications": batch[i : i + 100]},
                                headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                assert r.status_code == 200
        out[name] = {"url": url, "decisions": state.store.recent()}
        assert len(out[name]["decisions"]) > 250
    return out


def test_the_training_population_is_stable(decided: dict[str, Any], sme_bundle: dict[str, Any]) -> None:
    result = monitor(load_bundle(decided["bundle"]), decided["plain"]["decisions"], lake_tables=sme_bundle["tables"])
    assert result["psi_score"]["value"] < 0.1, (result["psi_score"], list(result["csi"].items())[:6])
    assert result["status"] != "act", result["flagged_features"]
    assert not result["flagged_features"]
    bt = result["backtest"]
    assert bt["n"] > 250  # as_of 2024-12-31: the lake holds the 12 months after it
    assert bt["metrics"]["auc"] > 0.7
    assert sum(result["rates"].values()) == pytest.approx(1.0, abs=5e-4)  # each rate rounded to 4 decimals


def test_a_regional_shock_is_flagged(decided: dict[str, Any]) -> None:
    result = monitor(load_bundle(decided["bundle"]), decided["shocked"]["decisions"], thresholds=Thresholds())
    assert result["psi_score"]["value"] > 0.25, result["psi_score"]
    assert result["status"] == "act"
    assert any(name.startswith(("income", "net_cf", "log_income")) for name in result["flagged_features"])
    assert "sbs_rating_current" in result["flagged_features"] + result["watched_features"]
    assert "firm_age_years" not in result["flagged_features"]  # untouched inputs stay stable


def test_monitor_cli_writes_json_html_and_prometheus_and_fails_on_act(decided: dict[str, Any], tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pymescore.cli", "monitor", "--bundle", str(decided["bundle"]), "--since",
           "2000-01-01", "--database-url", decided["shocked"]["url"], "--out", str(tmp_path),
           "--fail-on-act"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "act"
    prom = (tmp_path / "monitor.prom").read_text()
    assert "pymescore_monitor_psi_score" in prom
    assert 'pymescore_monitor_csi{feature="' in prom
    assert "data:image/png;base64," in (tmp_path / "monitor.html").read_text()
    assert json.loads((tmp_path / "monitor.json").read_text())["n"] == summary["n"]
