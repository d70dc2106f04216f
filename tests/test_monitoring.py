"""The monitoring job on decisions made by the service: stable on the training population, PSI > 0.25 and
the shifted features flagged when the applications come from a population hit by a regional shock; a PSI that
cannot be computed is "unknown", one on too few decisions "insufficient", both alerts (one verdict with
evaluate.psi_verdict, failing closed); a missing audit store is refused, never created."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pymescore.bundle import Bundle, load_bundle
from pymescore.errors import ConfigError
from pymescore.evaluate import psi_verdict, reference_bins
from pymescore.evaluate._stability import SEVERITY
from pymescore.features import build_labels
from pymescore.monitoring import Thresholds, monitor, write_outputs
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


def test_the_monitoring_page_renders_offline_in_chromium(decided: dict[str, Any], tmp_path: Path,
                                                       browser: Any) -> None:  # fmt: skip
    """The page ``monitor`` writes shows its verdict and every plot with the network cut; photographed into
    ``$PYMESCORE_SCREENSHOTS`` (docs/screenshots when making the site's pictures: the operator's guide)."""
    cmd = [sys.executable, "-m", "pymescore.cli", "monitor", "--bundle", str(decided["bundle"]), "--since",
           "2000-01-01", "--database-url", decided["shocked"]["url"], "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    shots = Path(os.environ.get("PYMESCORE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        context.set_offline(True)
        page = context.new_page()
        page.goto((tmp_path / "monitor.html").as_uri())
        drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert drawn
        assert all(drawn)
        assert "act" in page.inner_text("body")  # the shocked decisions' verdict is on the page
        page.screenshot(path=str(shots / "monitoring.png"), full_page=False)  # the verdict and the first plots
    finally:
        context.close()
    assert (shots / "monitoring.png").stat().st_size > 10_000


# ----------------------------------------------------------------- one verdict, fail closed (no model needed)


@dataclass(frozen=True)
class _Bundle:
    """What ``monitor`` reads of a bundle: its training reference and version."""

    reference: dict[str, Any]
    version: str = "stub"


def _decisions(n: int, rng: np.random.Generator, features: bool = True) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        score = float(rng.normal(600, 50))
        out.append({"id": str(i), "ruc": f"2010000{i:04d}", "created_at": f"2025-01-{1 + i % 28:02d}",
                    "model_version": "stub", "pd": 0.05, "score": score, "band": "B", "decision": "approve",
                    "response": {}, "features": {"income": float(rng.normal(10, 2))} if features else {}})  # fmt: skip
    return out


@pytest.fixture
def reference() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {"score": reference_bins(rng.normal(600, 50, 5000)),
            "features": {"income": reference_bins(rng.normal(10, 2, 5000))}}  # fmt: skip


def test_same_population_is_stable_and_no_alert(reference: dict[str, Any]) -> None:
    result = monitor(cast(Bundle, _Bundle(reference)), _decisions(400, np.random.default_rng(1)))
    assert (result["status"], result["alert"], result["unknown_features"]) == ("stable", False, [])
    assert result["psi_score"]["verdict"] == psi_verdict(result["psi_score"]["value"]) == "stable"


def test_no_score_reference_is_unknown_not_stable(reference: dict[str, Any]) -> None:
    """Before: a missing score PSI was called "stable" here while evaluate's psi_verdict refused it."""
    no_score = {"features": reference["features"]}
    result = monitor(cast(Bundle, _Bundle(no_score)), _decisions(400, np.random.default_rng(1)))
    assert result["psi_score"] == {"value": None, "verdict": "unknown"}
    assert (result["status"], result["alert"]) == ("unknown", True)


def test_a_feature_missing_from_the_decisions_is_unknown(reference: dict[str, Any]) -> None:
    result = monitor(cast(Bundle, _Bundle(reference)), _decisions(400, np.random.default_rng(1), features=False))
    assert result["csi"]["income"] == {"value": None, "verdict": "unknown"}
    assert result["unknown_features"] == ["income"]
    assert (result["status"], result["alert"]) == ("unknown", True)


def test_no_decisions_is_insufficient_and_the_textfile_says_so(reference: dict[str, Any], tmp_path: Path) -> None:
    result = monitor(cast(Bundle, _Bundle(reference)), [])
    assert (result["n"], result["status"], result["alert"]) == (0, "insufficient", True)
    paths = write_outputs(result, tmp_path)
    samples = _samples(paths["prom"].read_text())
    assert samples[("pymescore_monitor_status", ())] == SEVERITY["insufficient"] == 4
    assert samples[("pymescore_monitor_decisions", ())] == 0


def test_a_psi_on_too_few_decisions_is_insufficient_not_drift(reference: dict[str, Any], tmp_path: Path) -> None:
    """Issue 17 #5: 12 decisions gave PSI 4.84 "act" on every feature. Below the minimum sample size (200 by
    default) the verdict is "insufficient" (an alert, never "stable"), nothing is flagged as drift, and the
    textfile holds no PSI gauge that a drift alert would read."""
    decisions = _decisions(12, np.random.default_rng(1))
    for d in decisions:  # a population far from the reference: on 400 decisions this is "act"
        d["score"] += 300
    result = monitor(cast(Bundle, _Bundle(reference)), decisions)
    assert result["psi_score"]["value"] > 0.25
    assert (result["status"], result["alert"], result["flagged_features"]) == ("insufficient", True, [])
    assert result["psi_score"]["verdict"] == result["csi"]["income"]["verdict"] == "insufficient"
    assert "12 decisions, fewer than the 200" in result["note"]
    paths = write_outputs(result, tmp_path)
    samples = _samples(paths["prom"].read_text())
    assert samples[("pymescore_monitor_status", ())] == SEVERITY["insufficient"]
    assert ("pymescore_monitor_psi_score", ()) not in samples
    assert result["note"] in paths["html"].read_text()
    shifted = _decisions(400, np.random.default_rng(1))
    for d in shifted:
        d["score"] += 300
    assert monitor(cast(Bundle, _Bundle(reference)), shifted)["status"] == "act"


def test_the_minimum_sample_size_is_configurable(reference: dict[str, Any]) -> None:
    decisions = _decisions(150, np.random.default_rng(1))
    assert monitor(cast(Bundle, _Bundle(reference)), decisions)["status"] == "insufficient"
    result = monitor(cast(Bundle, _Bundle(reference)), decisions, thresholds=Thresholds(min_n=100))
    assert result["status"] in ("stable", "watch")  # read as drift (here: none)
    assert not result["alert"]
    with pytest.raises(ConfigError, match="minimum sample size"):
        Thresholds(min_n=0)


def test_a_reading_job_never_creates_an_audit_store(reference: dict[str, Any], tmp_path: Path) -> None:
    """Issue 17 #5: the monitoring job created an empty ``pymescore.db`` where none existed and reported on it.
    A missing store (or one without a decisions table) is refused, naming it, and left as it was."""
    from pymescore.pipelines import monitor_store
    from pymescore.service import AuditStore
    from pymescore.service._store import StoreMissingError

    bundle = cast(Bundle, _Bundle(reference))
    missing = tmp_path / "nowhere.db"
    with pytest.raises(StoreMissingError, match=r"nowhere\.db"):
        monitor_store(bundle, f"sqlite:///{missing}", dt.datetime(2000, 1, 1, tzinfo=dt.UTC), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file, but not an audit store: refused, not migrated
    before = empty.read_bytes()
    with pytest.raises(StoreMissingError, match="decisions table"):
        monitor_store(bundle, f"sqlite:///{empty}", dt.datetime(2000, 1, 1, tzinfo=dt.UTC), tmp_path / "out")
    assert empty.read_bytes() == before
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.migrate()
    store.dispose()
    result, _ = monitor_store(bundle, f"sqlite:///{tmp_path / 'audit.db'}", dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                              tmp_path / "out")  # fmt: skip
    assert (result["n"], result["status"]) == (0, "insufficient")


def test_the_textfile_parses_as_prometheus_reads_it(reference: dict[str, Any], tmp_path: Path) -> None:
    decisions = _decisions(400, np.random.default_rng(1))
    decisions[0]["features"] = {}  # a label value with quotes and a backslash must still parse
    result = monitor(cast(Bundle, _Bundle(reference)), decisions)
    result["csi"]['we"ird\\name'] = {"value": 0.5, "verdict": "act"}
    samples = _samples(write_outputs(result, tmp_path)["prom"].read_text())
    assert samples[("pymescore_monitor_status", ())] == SEVERITY[result["status"]]
    assert samples[("pymescore_monitor_psi_score", ())] == result["psi_score"]["value"]
    assert samples[("pymescore_monitor_csi", (("feature", 'we"ird\\name'),))] == 0.5
    assert samples[("pymescore_monitor_decision_rate", (("decision", "approve"),))] == 1.0
    assert not list(tmp_path.glob(".*tmp"))  # written whole, then moved into place


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_scheduled_job_and_the_cli_fail_on_insufficient_data(sme_bundle: dict[str, Any], tmp_path: Path) -> None:
    """An empty audit store: insufficient data. The pipeline step stops and ``--fail-on-act`` exits 1, as on
    drift."""
    from pymescore import pipelines
    from pymescore.service import AuditStore

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = AuditStore(url)
    store.migrate()
    store.dispose()
    with pytest.raises(pipelines.PipelineStop, match="insufficient data"):
        pipelines.monitor(str(sme_bundle["bundle"]), url, tmp_path / "job")
    cmd = [sys.executable, "-m", "pymescore.cli", "monitor", "--bundle", str(sme_bundle["bundle"]), "--database-url",
           url, "--out", str(tmp_path / "cli"), "--fail-on-act"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["alert"], summary["n"]) == ("insufficient", True, 0)


def test_the_readme_monitor_line_without_a_store_fails_and_creates_nothing(
    sme_bundle: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 17 #5 acceptance: the README's line with no --database-url (default ``sqlite:///pymescore.db``) in a
    fresh folder created ``pymescore.db`` there and reported on it. Now it exits non-zero, names the missing
    store, and creates no file outside --out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYMESCORE_")}
    cmd = [sys.executable, "-m", "pymescore.cli", "monitor", "--bundle", str(sme_bundle["bundle"]), "--out",
           "textfile", "--fail-on-act"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert "AUDIT_STORE_MISSING" in done.stderr, done.stderr
    assert "pymescore.db" in done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name != "textfile"] == []
