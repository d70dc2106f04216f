"""Reject inference end to end on a small simulated lender: the snapshot of applications (point in time for the
rejected ones), training without reject inference exactly as without the rejects, each method through training,
the bundle's metadata and model card, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pymescore.cli import _register, app
from pymescore.features import FEATURES, build_features
from pymescore.features._adapter import snapshot_domain
from pymescore.features._snapshot import build_snapshot, read_lake_tables
from pymescore.lake import Lake
from pymescore.model import TrainConfig, train
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import ingest_folder

pytestmark = pytest.mark.slow

BASE = {"firms": 1500, "months": 48, "seed": 4, "error_rate": 0.0, "outlier_rate": 0.0}
FAST = {"target": "default_12m", "trials": 2, "time_budget": 600.0, "folds": 3, "families": ("xgboost", "logistic")}


def _lake(root: Path, config: SimulationConfig) -> tuple[Lake, object]:
    data = simulate(config)
    write_simulation(data, root / "sim")
    lake = Lake(root / "lake")
    ingest_folder(root / "sim", lake)
    return lake, data


@pytest.fixture(scope="module")
def lender(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("lender")
    lake, data = _lake(root, SimulationConfig(**BASE, policy_history=True))  # type: ignore[arg-type]
    apps = data.applications  # type: ignore[attr-defined]
    dates = sorted({str(d.date()) for d in pd.to_datetime(apps["application_date"])})
    snapshot, lineage = build_snapshot(lake, dates)
    return {"root": root, "lake": lake, "applications": apps, "snapshot": snapshot, "lineage": lineage,
            "oracle": data.oracle}  # type: ignore[attr-defined]  # fmt: skip


def test_the_snapshot_has_one_row_per_application(lender: dict[str, object]) -> None:
    snapshot: pd.DataFrame = lender["snapshot"]  # type: ignore[assignment]
    apps: pd.DataFrame = lender["applications"]  # type: ignore[assignment]
    assert len(snapshot) == len(apps)
    merged = snapshot.merge(apps, left_on=["ruc", "as_of"], right_on=["ruc", "application_date"], validate="1:1")
    assert len(merged) == len(apps)
    assert np.array_equal(merged["rejected"].to_numpy() == 1, (merged["decision"] == "rejected").to_numpy())
    rejected = snapshot["rejected"] == 1
    assert snapshot.loc[rejected, "default_12m"].isna().all()
    assert snapshot.loc[~rejected, "default_12m"].notna().mean() > 0.8  # approved: outcomes observed
    lineage: dict[str, object] = lender["lineage"]  # type: ignore[assignment]
    assert lineage["applications"] == {"rows": len(apps), "rejected": int(rejected.sum()), "in_lake": len(apps)}


def test_rejected_applications_have_the_features_the_full_lake_gives(lender: dict[str, object], tmp_path: Path) -> None:
    # a firm's own features; the regional and sector context is the lender's view of every firm it sees, which
    # the firms rejected earlier leave (their later records are hidden), so it is not the full lake's
    full, _ = _lake(tmp_path, SimulationConfig(**BASE))  # type: ignore[arg-type]
    snapshot: pd.DataFrame = lender["snapshot"]  # type: ignore[assignment]
    tables = read_lake_tables(full)
    rejected = snapshot[snapshot["rejected"] == 1]
    own = [f.name for f in FEATURES if f.group != "context"]
    for as_of in sorted(rejected["as_of"].unique())[:3]:
        rows = rejected[rejected["as_of"] == as_of].set_index("ruc")
        whole = build_features(tables, as_of).set_index("ruc").loc[rows.index]
        features = [c for c in own if c in rows.columns]
        pd.testing.assert_frame_equal(rows[features], whole[features], check_dtype=False, obj=str(as_of))


def test_without_reject_inference_training_is_training_without_the_rejects(lender: dict[str, object]) -> None:
    snapshot: pd.DataFrame = lender["snapshot"]  # type: ignore[assignment]
    approved = snapshot[snapshot["rejected"] == 0].drop(columns="rejected")
    config = TrainConfig(**FAST)  # type: ignore[arg-type]
    with_rejects = train(snapshot, config, domain=snapshot_domain(snapshot))
    without = train(approved, config, domain=snapshot_domain(approved))
    assert with_rejects.test is not None
    assert without.test is not None
    np.testing.assert_array_equal(with_rejects.test["pd"].to_numpy(), without.test["pd"].to_numpy())
    rows = with_rejects.report["rows"]
    assert rows["rejected"] == int(snapshot["rejected"].sum())
    assert rows["excluded_no_target"] == without.report["rows"]["excluded_no_target"] + rows["rejected"]
    assert {k: v for k, v in rows.items() if k not in ("rejected", "excluded_no_target")} == {
        k: v for k, v in without.report["rows"].items() if k not in ("rejected", "excluded_no_target")}  # fmt: skip
    record = with_rejects.report["reject_inference"]
    assert record["method"] == "none"
    assert record["rejects_used"] == 0
    assert record["rejects_in_table"] == rows["rejected"]
    assert with_rejects.model.metadata["reject_inference"]["method"] == "none"
    assert "reject_inference" not in without.model.metadata


@pytest.mark.parametrize("method", ["augmentation", "fuzzy", "parcelling", "hardcutoff"])
def test_each_method_trains_and_evaluates_on_known_outcomes_only(lender: dict[str, object], method: str) -> None:
    snapshot: pd.DataFrame = lender["snapshot"]  # type: ignore[assignment]
    config = TrainConfig(**FAST, reject_inference=method)  # type: ignore[arg-type]
    result = train(snapshot, config, domain=snapshot_domain(snapshot))
    record = result.report["reject_inference"]
    assert record["method"] == method
    assert record["rejects_used"] == record["rejects_for_development"] > 50
    first_test = min(result.report["test_dates"])
    test_known = snapshot[(snapshot["as_of"] >= pd.Timestamp(first_test)) & snapshot["default_12m"].notna()]
    assert result.report["rows"]["test"] == len(test_known)  # the test: known outcomes, never a reject
    assert result.test is not None
    assert len(result.test) == len(test_known)
    assert result.oof is not None
    assert len(result.oof) == result.report["rows"]["development"]  # validation figures: known rows only
    assert sum(f["rows"] for f in result.report["cv"]["folds"]) == result.report["rows"]["development"]
    used_dates = snapshot.loc[snapshot["rejected"] == 1, "as_of"]
    assert record["rejects_for_development"] <= int((used_dates < pd.Timestamp(first_test)).sum())
    pd_ = result.model.predict_pd(snapshot[snapshot["rejected"] == 1])
    assert np.all((pd_ > 0) & (pd_ < 1))
    if method == "augmentation":
        assert record["approved_weights"]["sum"] == pytest.approx(
            result.report["rows"]["development"] + record["rejects_used"])  # fmt: skip
    else:
        assert record["approved_only"]["test_auc"] is not None
        weights = record["reject_weights"]
        assert weights["sum"] == pytest.approx(record["rejects_used"])  # fuzzy: each reject's two rows weigh 1


def test_the_cli_builds_the_applications_and_records_the_method_in_the_bundle(
    lender: dict[str, object], tmp_path: Path
) -> None:
    _register()
    runner = CliRunner()
    lake: Lake = lender["lake"]  # type: ignore[assignment]
    table = tmp_path / "applications.parquet"
    built = runner.invoke(app, ["features", "--lake", str(lake.root), "--as-of", "applications", "--out", str(table)])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout.strip().splitlines()[-1])
    assert summary["applications"]["rejected"] == int((lender["snapshot"]["rejected"] == 1).sum())  # type: ignore[index]
    out = tmp_path / "bundle"
    args = ["train", "--table", str(table), "--target", "default_12m", "--out", str(out), "--trials", "2",
            "--families", "xgboost,logistic", "--reject-inference", "fuzzy", "--quiet"]  # fmt: skip
    trained = runner.invoke(app, args)
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    assert result["reject_inference"]["method"] == "fuzzy"
    assert result["reject_inference"]["rejects_used"] > 0
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert "## Reject inference" in card
    assert "fuzzy augmentation" in card
    assert "inferencia de rechazados `fuzzy`" in card
    metadata = json.loads((out / "model.json").read_text(encoding="utf-8"))["metadata"]["reject_inference"]
    assert metadata["method"] == "fuzzy"
    assert metadata["rejects_used"] == result["reject_inference"]["rejects_used"]
    assert metadata["reject_weights"]["n"] == 2 * metadata["rejects_used"]
