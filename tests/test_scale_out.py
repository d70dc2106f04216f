"""The same results on a Dask cluster (``--scheduler local:2``) as in this process: the snapshot (every feature
equal, NaN where NaN), the scores (PD to 1e-9, the same decisions and reasons) and the trained model's
out-of-time AUC (within 0.003 on the same rows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pymescore.cli import _register, app
from pymescore.cluster import Scheduler, dask_client, parse_scheduler
from pymescore.errors import ConfigError
from pymescore.features._partitioned import build_snapshot_distributed
from pymescore.features._snapshot import build_snapshot
from pymescore.lake import Lake
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import ingest_folder

pytestmark = pytest.mark.slow
DATES = ["2023-06-30", "2023-12-31", "2024-12-31"]
KEYS = ["as_of", "ruc"]

_register()
runner = CliRunner()


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One simulated population (with its data errors) ingested twice: a plain lake and one in 8 RUC buckets."""
    root = tmp_path_factory.mktemp("scale")
    write_simulation(simulate(SimulationConfig(firms=1500, months=48, seed=3)), root / "sim")
    plain, bucketed = Lake(root / "plain"), Lake(root / "bucketed", buckets=8)
    ingest_folder(root / "sim", plain)
    ingest_folder(root / "sim", bucketed)
    return {"root": root, "plain": plain, "bucketed": bucketed}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client(Scheduler("local", workers=2, memory_limit="2GiB")) as c:
        yield c


def _cli(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return out


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEYS).reset_index(drop=True)


def test_the_scheduler_setting_is_parsed_or_refused() -> None:
    assert parse_scheduler("") is None
    assert parse_scheduler("local") == Scheduler("local", workers=2)
    assert parse_scheduler("local:3", "6GiB") == Scheduler("local", workers=3, memory_limit="6GiB")
    assert parse_scheduler("tcp://10.0.0.5:8786") == Scheduler("address", address="tcp://10.0.0.5:8786")
    for bad in ("locale", "local:0", "http://x:1", "tcp://"):
        with pytest.raises(ConfigError, match="--scheduler"):
            parse_scheduler(bad)


def test_features_with_local_2_give_the_same_snapshot(lakes: dict[str, Any]) -> None:
    root: Path = lakes["root"]
    lake = str(lakes["bucketed"].root)
    _cli("features", "--lake", lake, "--as-of", ",".join(DATES), "--out", str(root / "in_process.parquet"))
    summary = _cli("features", "--lake", lake, "--as-of", ",".join(DATES), "--out", str(root / "parts.parquet"),
                   "--scheduler", "local:2")  # fmt: skip
    assert summary["scheduler"] == "local:2"
    parts = sorted(p.name for p in (root / "parts.parquet").iterdir())
    assert parts == ["_lineage.json", *[f"part-{b:05d}.parquet" for b in range(8)]]  # one part per bucket
    one = pd.read_parquet(root / "in_process.parquet")
    many = pd.read_parquet(root / "parts.parquet")
    assert len(one) == summary["rows"]
    pd.testing.assert_frame_equal(_by_key(many), _by_key(one), check_exact=True)  # NaN where NaN, else equal
    assert one.isna().any().any()  # the comparison saw missing values
    lineage = json.loads((root / "parts.parquet" / "_lineage.json").read_text())
    assert lineage["lake_versions"] == lakes["bucketed"].versions()
    assert lineage["partitions"]["parts"] == 8


def test_a_plain_lake_split_into_other_parts_gives_the_same_snapshot(lakes: dict[str, Any], client: Any) -> None:
    """Parts that are not the lake's buckets (each reads the tables and keeps its firms): the same rows, and the
    regional context and the label windows of the whole population, not of the part."""
    root: Path = lakes["root"]
    lake: Lake = lakes["plain"]
    expected, _ = build_snapshot(lake, DATES)
    lineage = build_snapshot_distributed(lake, DATES, str(root / "plain_parts"), client, parts=5)
    got = pd.read_parquet(root / "plain_parts")
    pd.testing.assert_frame_equal(_by_key(got), _by_key(expected), check_exact=True)
    assert lineage["rows"] == len(expected)
    assert lineage["labelled_rows"] == int(expected["default_12m"].notna().sum())


@pytest.fixture(scope="module")
def bundle(lakes: dict[str, Any]) -> Path:
    from pymescore.model import TrainConfig
    from pymescore.runs import run_training

    snapshot, _ = build_snapshot(lakes["plain"], DATES)
    out: Path = lakes["root"] / "bundle"
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=2, time_budget=20.0,
                         folds=3, embargo=False)  # fmt: skip
    run_training(snapshot, config, out, dataset="scale")
    return out


def test_score_with_local_2_gives_the_same_pds_and_decisions(lakes: dict[str, Any], bundle: Path) -> None:
    root: Path = lakes["root"]
    if not (root / "parts.parquet").exists():
        test_features_with_local_2_give_the_same_snapshot(lakes)
    _cli("score", "--bundle", str(bundle), "--table", str(root / "in_process.parquet"), "--out",
         str(root / "scores.parquet"))  # fmt: skip
    summary = _cli("score", "--bundle", str(bundle), "--table", str(root / "parts.parquet"), "--out",
                   str(root / "scores_parts.parquet"), "--scheduler", "local:2")  # fmt: skip
    assert summary["parts"] == 8
    one = _by_key(pd.read_parquet(root / "scores.parquet"))
    many = _by_key(pd.read_parquet(root / "scores_parts.parquet"))
    assert len(one) == len(many) == summary["rows"]
    np.testing.assert_allclose(many["pd"], one["pd"], rtol=0, atol=1e-9)
    assert (many["decision"] == one["decision"]).all()
    assert one["decision"].nunique() > 1
    pd.testing.assert_frame_equal(many.drop(columns="pd"), one.drop(columns="pd"))


def test_train_on_dask_gives_the_out_of_time_auc_of_in_process_training(
    tmp_path_factory: pytest.TempPathFactory, client: Any
) -> None:
    """On a 20,000-firm population (the issue's size: on fewer test rows, xgboost.dask's own row sampling on each
    worker moves the AUC by more than the tolerance), the same rows, folds, rounds and test."""
    from pymescore.features._adapter import snapshot_domain
    from pymescore.model import TrainConfig
    from pymescore.model._train import train

    root = tmp_path_factory.mktemp("scale_train")
    write_simulation(simulate(SimulationConfig(firms=20_000, months=48, seed=3)), root / "sim")
    lake = Lake(root / "lake")
    ingest_folder(root / "sim", lake)
    snapshot, _ = build_snapshot(lake, DATES)
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=600.0,
                         folds=3, embargo=False, families=("xgboost",))  # fmt: skip
    here = train(snapshot, config, domain=snapshot_domain(snapshot))
    there = train(snapshot, config, domain=snapshot_domain(snapshot), client=client)
    assert here.report["rows"] == there.report["rows"]  # the same development and test rows
    assert here.report["test_metrics"]["rows"] > 10_000
    assert here.report["tuning"]["rounds"] == there.report["tuning"]["rounds"]
    auc_here, auc_there = here.report["test_metrics"]["auc"], there.report["test_metrics"]["auc"]
    assert abs(auc_here - auc_there) <= 0.003, (auc_here, auc_there)
    assert there.report["scale"]["xgboost"].startswith("xgboost.dask on all")
    assert there.report["scale"]["sampled_families"] == []
    assert here.report["scale"] == {"scheduler": None}


def test_families_that_do_not_run_on_dask_fit_on_a_stratified_sample(lakes: dict[str, Any], client: Any) -> None:
    from pymescore.features._adapter import snapshot_domain
    from pymescore.model import TrainConfig
    from pymescore.model._train import train
    from pymescore.model_card import model_card

    snapshot, _ = build_snapshot(lakes["plain"], DATES)
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=120.0,
                         folds=3, embargo=False, families=("xgboost", "logistic"), sample_rows=1_000)  # fmt: skip
    result = train(snapshot, config, domain=snapshot_domain(snapshot), client=client)
    scale = result.report["scale"]
    development = result.report["rows"]["development"]
    assert development > 1_000
    assert scale["sampled_families"] == ["logistic"]
    assert 990 <= scale["sample_rows"] <= 1_010
    assert scale["development_rows"] == development
    assert np.isfinite(result.oof["margin_logistic"]).all()  # every development row still has its margin
    from pymescore.decision import current_policy

    card = model_card(result, "scale", None, result.report, current_policy())
    assert f"logistic on a stratified sample of {scale['sample_rows']:,} of the {development:,}" in card


def test_outcomes_per_bucket_on_dask_equal_the_lakes(lakes: dict[str, Any], client: Any) -> None:
    """Monitoring's backtest labels (ruc, as_of) pairs per RUC bucket on the cluster: the same outcomes."""
    from pymescore.features import known_outcomes
    from pymescore.features._partitioned import known_outcomes_distributed
    from pymescore.features._snapshot import read_lake_tables

    lake: Lake = lakes["bucketed"]
    firms = lake.read("firms", columns=["ruc"])["ruc"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    rucs = rng.choice(firms, 600)
    as_ofs = rng.choice(np.array(["2023-06-30", "2024-03-31", "2025-06-30", None], dtype=object), 600)
    expected = known_outcomes(read_lake_tables(lake), rucs, as_ofs)
    got = known_outcomes_distributed(lake, rucs, as_ofs, client)
    np.testing.assert_array_equal(got, expected)  # NaN where NaN
    assert np.isnan(expected).any()
    assert (expected == 1.0).any()


def test_the_pipelines_step_passes_the_scheduler_through(lakes: dict[str, Any]) -> None:
    """What the Airflow DAGs call: ``scheduler`` given, the snapshot is built on the cluster as parts."""
    from pymescore import pipelines

    root: Path = lakes["root"]
    done = pipelines.features(lakes["bucketed"].root, DATES, root / "dag_snapshot", scheduler="local:2")
    expected, _ = build_snapshot(lakes["bucketed"], DATES)
    assert done["rows"] == len(expected)
    assert (root / "dag_snapshot" / "_lineage.json").is_file()
    pd.testing.assert_frame_equal(_by_key(pd.read_parquet(root / "dag_snapshot")), _by_key(expected))


def test_the_portfolio_per_bucket_on_dask_equals_the_one_in_process(lakes: dict[str, Any], client: Any) -> None:
    from pymescore.regulation import load_regulation
    from pymescore.regulation._report import portfolio

    root: Path = lakes["root"]
    rules = load_regulation(None)
    here = portfolio(lakes["bucketed"].root, "2024-12-31", root / "pf_here", rules, months=6)
    there = portfolio(lakes["bucketed"].root, "2024-12-31", root / "pf_there", rules, months=6, client=client)
    assert here["loans"] == there["loans"] > 100
    assert there["exposure_pen"] == pytest.approx(here["exposure_pen"], rel=1e-9)
    keys = ["ruc", "loan_id"]
    one = pd.read_parquet(root / "pf_here" / "loans.parquet").sort_values(keys).reset_index(drop=True)
    many = pd.read_parquet(root / "pf_there" / "loans.parquet").sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(many, one)
    for name in ("migration", "vintages"):  # counts added up per part: the same shares
        pd.testing.assert_frame_equal(pd.read_parquet(root / "pf_there" / f"{name}.parquet"),
                                      pd.read_parquet(root / "pf_here" / f"{name}.parquet"))  # fmt: skip
    summary_here = pd.read_parquet(root / "pf_here" / "summary.parquet")
    summary_there = pd.read_parquet(root / "pf_there" / "summary.parquet")
    pd.testing.assert_frame_equal(summary_there, summary_here, check_exact=False, rtol=1e-9)
