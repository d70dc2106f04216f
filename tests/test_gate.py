"""The promotion gate refuses a deliberately worse challenger and says why; it accepts an equal one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pymescore.bundle import load_bundle
from pymescore.features._snapshot import build_snapshot
from pymescore.gate import gate
from pymescore.model import TrainConfig
from pymescore.runs import run_training


@pytest.fixture(scope="module")
def snapshot(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])
    out = tmp_path_factory.mktemp("gate") / "snapshot.parquet"
    frame.to_parquet(out)
    return out


@pytest.fixture(scope="module")
def worse(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A challenger trained on shuffled outcomes: no better than chance."""
    import pandas as pd

    frame = pd.read_parquet(snapshot)
    frame["default_12m"] = np.random.default_rng(0).permutation(frame["default_12m"].to_numpy())
    out = tmp_path_factory.mktemp("worse") / "bundle"
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=5.0, folds=3)
    run_training(frame, config, out, dataset="shuffled")
    return out


def test_a_worse_challenger_is_refused_with_the_reason(sme_bundle: dict[str, Any], worse: Path, snapshot: Path) -> None:
    import pandas as pd

    verdict = gate(load_bundle(worse), load_bundle(sme_bundle["bundle"]), pd.read_parquet(snapshot), "default_12m")
    assert verdict["promote"] is False
    assert any("below the champion's" in r for r in verdict["reasons"]), verdict["reasons"]
    assert verdict["champion"]["metrics"]["auc"] > verdict["challenger"]["metrics"]["auc"] + 0.1


def test_an_equal_challenger_passes(sme_bundle: dict[str, Any], snapshot: Path) -> None:
    import pandas as pd

    bundle = load_bundle(sme_bundle["bundle"])
    verdict = gate(bundle, bundle, pd.read_parquet(snapshot), "default_12m")
    assert verdict["promote"] is True, verdict["reasons"]
    assert verdict["challenger"]["metrics"] == verdict["champion"]["metrics"]


def test_gate_cli_exits_1_and_explains(sme_bundle: dict[str, Any], worse: Path, snapshot: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pymescore.cli", "gate", "--challenger", str(worse), "--champion",
         str(sme_bundle["bundle"]), "--table", str(snapshot)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["promote"] is False
    assert "refused" in done.stderr


def test_a_band_inversion_refuses_only_when_it_is_beyond_chance() -> None:
    import pandas as pd

    from pymescore.evaluate import band_inversions

    def table(bads: list[int], n: list[int]) -> pd.DataFrame:
        rate = [b / m if m else float("nan") for b, m in zip(bads, n, strict=True)]
        return pd.DataFrame({"band": list("ABCDE"), "n": n, "bads": bads, "bad_rate": rate})

    noisy = table([2, 6, 10, 20, 40], [40, 200, 200, 200, 200])  # A 5% > B 3%: two defaults' worth of noise
    assert band_inversions(noisy) == []
    assert band_inversions(noisy, z=0.0) == ["A 5.0% > B 3.0%"]
    real = table([2, 60, 10, 20, 40], [1000, 1000, 1000, 1000, 1000])  # B 6% > C 1% on 1,000 rows each
    assert band_inversions(real) == ["B 6.0% > C 1.0%"]
    assert band_inversions(table([0, 0, 5, 20, 40], [0, 100, 100, 100, 100])) == []  # empty bands ignored
