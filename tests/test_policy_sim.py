"""``pymescore simulate-policy`` (issue 24, item 5): two policies on the same applications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pymescore.bundle import load_bundle
from pymescore.cli import _register, app
from pymescore.decision import Policy
from pymescore.policy_sim import simulate_policy, write_outputs
from pymescore.scoring import score

pytestmark = pytest.mark.slow
_register()
STRICTER = Policy(name="stricter", approve_min_score=640.0, review_min_score=600.0)


@pytest.fixture(scope="module")
def applications(sme_bundle: dict[str, Any]) -> pd.DataFrame:
    from pymescore.features._snapshot import build_snapshot

    snapshot, _ = build_snapshot(sme_bundle["lake"], ["2024-06-30"])
    return snapshot.head(1500).reset_index(drop=True)


def test_figures_match_a_direct_computation(sme_bundle: dict[str, Any], applications: pd.DataFrame) -> None:
    bundle = load_bundle(sme_bundle["bundle"])
    result = simulate_policy(bundle, applications, Policy(), STRICTER, target="default_12m", amount=30_000, term=12)
    frame = applications.assign(requested_amount=30_000.0, term_months=12)
    for which, policy in (("current", Policy()), ("proposed", STRICTER)):
        direct = score(bundle, frame, top=0, policy=policy)
        approved = (direct["decision"] == "approve").to_numpy()
        y = frame["default_12m"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)[approved]
        got = result[which]
        assert got["approved"] == approved.sum() > 0
        assert got["approval_rate"] == pytest.approx(approved.mean())
        assert got["expected_bad_rate"] == pytest.approx(direct["pd"].to_numpy()[approved].mean())
        assert got["observed_bad_rate"] == pytest.approx(np.nanmean(y))
        assert got["expected_loss"] == pytest.approx(direct["expected_loss"].to_numpy()[approved].sum())
        assert got["approval_rate"] + got["review_rate"] + got["decline_rate"] == pytest.approx(1.0)
    # only the cut-offs moved: the proposal approves exactly the current approvals scoring 640 or more
    current = score(bundle, frame, top=0, policy=Policy())
    expected = (current["decision"] == "approve") & (current["score"] >= 640)
    assert result["proposed"]["approved"] == int(expected.sum())
    assert result["swap_in"]["count"] == 0
    assert result["swap_out"]["count"] == result["current"]["approved"] - result["proposed"]["approved"]
    assert result["proposed"]["expected_bad_rate"] <= result["current"]["expected_bad_rate"]
    for rows in result["segments"].values():
        assert sum(r["n"] for r in rows) == len(applications)
        assert sum(r["swap_out"] for r in rows) == result["swap_out"]["count"]


def test_the_command_writes_the_summary_and_the_page(
    sme_bundle: dict[str, Any], applications: pd.DataFrame, tmp_path: Path, browser: Any
) -> None:
    table = tmp_path / "applications.parquet"
    applications.to_parquet(table)
    proposed = tmp_path / "stricter.toml"
    proposed.write_text('name = "stricter"\napprove_min_score = 640\nreview_min_score = 600\n', encoding="utf-8")
    out = tmp_path / "sim"
    r = CliRunner().invoke(app, ["simulate-policy", "--bundle", str(sme_bundle["bundle"]), "--table", str(table),
                                 "--policy", str(proposed), "--target", "default_12m", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    printed = json.loads(r.output.strip().splitlines()[-1])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for which in ("current", "proposed"):
        assert {"approval_rate", "expected_bad_rate", "expected_loss"} <= set(summary[which])
        assert printed[which]["approval_rate"] == summary[which]["approval_rate"]
    assert summary["swap_out"]["count"] > 0
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto((out / "report.html").as_uri())
    assert page.locator("img").count() >= 2  # the rates plot and one per segment
    assert all(
        page.locator("img").nth(i).evaluate("i => i.naturalWidth") > 0 for i in range(page.locator("img").count())
    )
    page.screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "policy-simulation.png"),
                    full_page=False)  # fmt: skip
    page.close()


def test_a_missing_target_column_is_named(sme_bundle: dict[str, Any], applications: pd.DataFrame) -> None:
    from pymescore.errors import ConfigError

    with pytest.raises(ConfigError, match="--target: expected a column of the table, got 'nope'"):
        simulate_policy(load_bundle(sme_bundle["bundle"]), applications, Policy(), STRICTER, target="nope")


def test_writes_are_whole(tmp_path: Path) -> None:
    result = {"rows": 0, "policies": {"current": "a", "proposed": "b"}, "target": None, "segments": {},
              "current": {}, "proposed": {}, "swap_in": {"count": 0}, "swap_out": {"count": 0}}  # fmt: skip
    with pytest.raises(KeyError):
        write_outputs(result, tmp_path / "x")  # the page cannot be made: no half-written folder is left
    assert not (tmp_path / "x" / "report.html").exists()
