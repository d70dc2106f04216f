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


def _live(version: str, n: int, swapped: int) -> dict[str, Any]:
    """A shadow comparison of ``n`` live decisions of which ``swapped`` the challenger approves and the champion not."""
    from pymescore.evaluate import shadow_comparison

    pairs = [{"id": f"d{i}", "decision": "review" if i < swapped else "approve", "score": 650,
              "shadow_model_version": version, "shadow_decision": "approve", "shadow_score": 660}
             for i in range(n)]  # fmt: skip
    return shadow_comparison(pairs)


def test_the_gate_reads_the_shadow_comparison(sme_bundle: dict[str, Any], snapshot: Path) -> None:
    import pandas as pd

    from pymescore.gate import GatePolicy

    bundle = load_bundle(sme_bundle["bundle"])
    frame = pd.read_parquet(snapshot)
    rules = GatePolicy(min_shadow_agreement=0.9, max_shadow_swap_share=0.05)
    ok = gate(bundle, bundle, frame, "default_12m", policy=rules, shadow=_live(bundle.version, 400, 8))
    assert ok["promote"] is True, ok["reasons"]
    assert ok["shadow"]["swap_share"] == 0.02
    swaps = gate(bundle, bundle, frame, "default_12m", policy=rules, shadow=_live(bundle.version, 400, 60))
    assert swaps["promote"] is False
    assert any("swaps 15.0% of 400 live decisions" in r for r in swaps["reasons"]), swaps["reasons"]
    assert any("agrees with the champion on 85.0%" in r for r in swaps["reasons"]), swaps["reasons"]
    few = gate(bundle, bundle, frame, "default_12m", policy=rules, shadow=_live(bundle.version, 50, 0))
    assert few["reasons"] == ["shadow: 50 decisions scored by both models, fewer than the 200 required"]
    other = gate(bundle, bundle, frame, "default_12m", policy=rules, shadow=_live("someone-else", 400, 0))
    assert other["reasons"] == [f"shadow: the comparison is of challenger someone-else, not of {bundle.version}"]


def test_gate_cli_reads_a_monitor_folder(sme_bundle: dict[str, Any], snapshot: Path, tmp_path: Path) -> None:
    bundle = load_bundle(sme_bundle["bundle"])
    (tmp_path / "monitor.json").write_text(json.dumps({"shadow": _live(bundle.version, 400, 60)}))
    args = ["--challenger", str(sme_bundle["bundle"]), "--champion", str(sme_bundle["bundle"]), "--table",
            str(snapshot), "--shadow-from", str(tmp_path), "--max-shadow-swap-share", "0.1"]  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "pymescore", "gate", *args], capture_output=True, text=True, check=False)
    assert r.returncode == 1, r.stderr
    verdict = json.loads(r.stdout.strip().splitlines()[-1])
    assert verdict["reasons"] == ["shadow: the challenger swaps 15.0% of 400 live decisions in or out of approval "
                                  "(allowed: at most 10.0%)"]  # fmt: skip
    missing = subprocess.run([sys.executable, "-m", "pymescore", "gate", *args[:-4], "--shadow-from", str(tmp_path
                              / "none")], capture_output=True, text=True, check=False)  # fmt: skip
    assert missing.returncode == 2
    assert "monitor.json" in missing.stdout + missing.stderr
