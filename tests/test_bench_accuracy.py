"""The accuracy benchmark's protocol: repeated folds shared by every method, and the paired gap's interval."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bench._datasets import SEED, LoadedDataset
from bench.accuracy import N_FOLDS, folds_for, paired_bootstrap, paired_gap
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn.model_selection import StratifiedKFold


def _data(n: int = 103, train_mask: np.ndarray | None = None) -> LoadedDataset:
    y = (np.arange(n) % 4 == 0).astype(int)
    spec: Any = SimpleNamespace(split_column="Selected")
    return LoadedDataset(spec, pd.DataFrame({"x": np.arange(n)}), y, 0, train_mask)


def test_one_partition_is_the_published_protocol() -> None:
    data = _data()
    protocol, folds = folds_for(data)
    expected = StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(np.zeros(len(data.y)), data.y)
    assert protocol == f"stratified 5-fold CV, seed {SEED}"
    for (tr, te), (tr0, te0) in zip(folds, expected, strict=True):
        assert np.array_equal(tr, tr0)
        assert np.array_equal(te, te0)


def test_repeats_add_partitions_after_the_published_one() -> None:
    data = _data()
    _, one = folds_for(data)
    protocol, three = folds_for(data, repeats=3)
    assert protocol == f"stratified 5-fold CV repeated 3 times, seeds {SEED}-{SEED + 2}"
    assert len(three) == 3 * N_FOLDS
    for (tr, te), (tr1, te1) in zip(three[:N_FOLDS], one, strict=True):  # the first partition is unchanged
        assert np.array_equal(tr, tr1)
        assert np.array_equal(te, te1)
    tests_of = [np.sort(np.concatenate([te for _, te in three[r * N_FOLDS : (r + 1) * N_FOLDS]])) for r in range(3)]
    for covered in tests_of:  # each partition tests every row exactly once
        assert np.array_equal(covered, np.arange(len(data.y)))
    firsts = [three[r * N_FOLDS][1] for r in range(3)]
    assert not np.array_equal(firsts[0], firsts[1])
    assert not np.array_equal(firsts[1], firsts[2])


def test_own_split_ignores_repeats() -> None:
    mask = np.arange(40) < 25
    protocol, folds = folds_for(_data(40, mask), repeats=3)
    assert protocol.startswith("own split: Selected=1 train (25 rows)")
    assert len(folds) == 1
    assert np.array_equal(folds[0][1], np.arange(25, 40))


def test_paired_gap_by_hand() -> None:
    own, peer = [0.80, 0.82, 0.81, 0.79, 0.83], [0.79, 0.80, 0.82, 0.78, 0.81]
    d = np.array(own) - np.array(peer)  # 0.01, 0.02, -0.01, 0.01, 0.02
    gap = paired_gap(own, peer, 0.2)
    assert gap is not None
    se = np.sqrt((1 / 5 + 0.25) * d.var(ddof=1))
    half = stats.t.ppf(0.975, 4) * se
    assert gap["mean"] == pytest.approx(0.01, abs=1e-9)
    assert gap["ci95"] == pytest.approx([round(0.01 - half, 5), round(0.01 + half, 5)])
    assert gap["folds_ahead"] == 4
    assert gap["folds"] == 5
    assert paired_gap([0.9], [0.8], 0.2) is None  # one split: no spread


@given(st.lists(st.floats(-0.05, 0.05), min_size=2, max_size=30), st.floats(0.05, 0.5))
def test_paired_gap_interval_is_wider_than_the_naive_one(diffs: list[float], share: float) -> None:
    peer = [0.8] * len(diffs)
    own = [0.8 + d for d in diffs]
    gap = paired_gap(own, peer, share)
    assert gap is not None
    lo, hi = gap["ci95"]
    assert lo <= gap["mean"] + 1e-5
    assert gap["mean"] <= hi + 1e-5
    d = np.asarray(own) - np.asarray(peer)
    naive = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    # the correction only widens: the folds' training rows overlap
    assert (hi - lo) / 2 >= naive - 1e-5
    flipped = paired_gap(peer, own, share)
    assert flipped is not None
    assert flipped["mean"] == pytest.approx(-gap["mean"], abs=1e-5)


def test_paired_bootstrap_of_one_split() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    noise = rng.normal(size=400)
    good, weak = y + 0.5 * noise, y + 3.0 * noise
    same = paired_bootstrap(y, good, good, rounds=200)
    assert same["mean"] == 0.0
    assert same["ci95"] == [0.0, 0.0]
    assert same["share_level_or_ahead"] == 1.0
    ahead = paired_bootstrap(y, good, weak, rounds=200)
    assert ahead["ci95"][0] > 0  # a clearly better model: the whole interval above 0
    assert ahead["ci95"][0] <= ahead["mean"] <= ahead["ci95"][1]
    behind = paired_bootstrap(y, weak, good, rounds=200)
    assert behind["mean"] == pytest.approx(-ahead["mean"], abs=1e-5)
    assert behind["ci95"][1] < 0
    assert behind["share_level_or_ahead"] == 0.0


def test_paired_bootstrap_is_stratified() -> None:
    # 3 positives in 300 rows: an unstratified resample would often hold none, and its AUC would not exist
    y = np.zeros(300, dtype=int)
    y[[5, 150, 290]] = 1
    score = np.linspace(0, 1, 300)
    gap = paired_bootstrap(y, score, score[::-1].copy(), rounds=300)
    assert gap["rounds"] == 300
    assert gap["ci95"][0] <= gap["mean"] <= gap["ci95"][1]


def _stub(column: str, noise: float) -> Any:
    def predict(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
        rng = np.random.default_rng(len(x_test))
        return np.asarray(x_test[column], dtype=float) + noise * rng.normal(size=len(x_test))

    return predict


def test_main_writes_each_datasets_paired_gap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ``main``: 5 folds × 2 partitions on a cross-validated set (the corrected t with n_test/n_train ¼),
    and the one-split set's bootstrap read from pymescore's and the best peer's own predictions."""
    from bench import accuracy

    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    frame = pd.DataFrame({"a": signal + rng.normal(size=n), "b": signal + 2 * rng.normal(size=n)})
    frame["y"] = (signal > 0.5).astype(int)
    frame.to_csv(tmp_path / "cv.csv", index=False)
    frame.assign(Selected=(np.arange(n) < 200).astype(int)).to_csv(tmp_path / "split.csv", index=False)
    (tmp_path / "benchmarks.toml").write_text(
        '[toy]\npath = "cv.csv"\nformat = "csv"\ntarget = "y"\npositive = "1"\n\n'
        '[sba_case]\npath = "split.csv"\nformat = "csv"\ntarget = "y"\npositive = "1"\ndrop = ["Selected"]\n'
    )
    monkeypatch.setitem(accuracy.PEER_FITTERS, "logistic", _stub("b", 0.0))  # the weaker peer
    monkeypatch.setitem(accuracy.PEER_FITTERS, "xgboost", _stub("a", 1.0))
    monkeypatch.setattr(accuracy, "pymescore_predictor", lambda *args: _stub("a", 0.5))
    out = tmp_path / "acc.json"
    accuracy.main(["--datasets", str(tmp_path), "--methods", "logistic,xgboost,pymescore", "--repeats", "2",
                   "--out", str(out), "--md", str(tmp_path / "acc.md")])  # fmt: skip
    result = json.loads(out.read_text())
    assert result["args"]["repeats"] == 2
    toy = result["datasets"]["toy"]
    assert len(toy["methods"]["pymescore"]["fold_auc"]) == 10
    best = toy["best_peer"]
    own, peer = np.array(toy["methods"]["pymescore"]["fold_auc"]), np.array(toy["methods"][best]["fold_auc"])
    d = own - peer
    half = stats.t.ppf(0.975, 9) * np.sqrt((1 / 10 + 0.25) * d.var(ddof=1))
    assert toy["pymescore_paired"]["ci95"] == pytest.approx([d.mean() - half, d.mean() + half], abs=2e-5)
    split = result["datasets"]["sba_case"]
    assert len(split["methods"]["pymescore"]["fold_auc"]) == 1  # its own split, whatever --repeats
    gap = split["methods"]["pymescore"]["fold_auc"][0] - split["methods"][split["best_peer"]]["fold_auc"][0]
    assert split["pymescore_paired"]["mean"] == pytest.approx(gap, abs=2e-5)
    assert split["pymescore_paired"]["rounds"] == 2000
    assert "gap 95% interval" in (tmp_path / "acc.md").read_text()
