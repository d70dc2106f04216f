"""Benchmark: does a network that reads the raw monthly histories beat the same network on the features alone?

On the simulated population of ``bench_train`` (development dates a year before the out-of-time test date), per
seed, the ``tf_mlp`` family's network on the registry's features and the ``tf_sequence`` family's — the same
network with a path over the last 36 months of income, expenses, days past due, rating and debt with their masks
(``pymescore features --sequences``, the features' own point-in-time panels): two 1-D convolutions, pooled, their
own term of the margin. Both are the families' own fits (``TfNetwork.fit``: Adam, L2 1e-3, stopping on held-out
whole firms) on the same development rows; the out-of-time AUC of each is reported against the oracle's on the
same rows, per seed and on average, with the share of the sequence model's attributions that goes to the
histories. The same comparison for the trees is ``bench/train_ceiling.py``'s ``+histories`` variant (the
histories flattened into columns).

    python -m bench.sequence_value --firms 12000 --seeds 3 --out bench/results/sequence_value.json
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench._common import simulated_lake, write_result
from bench.bench_train import AS_OF
from pymescore.features._adapter import snapshot_domain
from pymescore.features._sequences import SEQUENCE_COLUMNS, sequences_of
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig
from pymescore.model._data import column_types, prepare
from pymescore.model._lgbm import as_array
from pymescore.model._oof import model_monotone, network_inputs
from pymescore.model._preprocess import Preprocessor
from pymescore.model._tf_net import TfNetwork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=12_000)
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sequence_value.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        lake = simulated_lake(work, args.firms, args.months)
        snapshot, _ = build_snapshot(lake, AS_OF, sequences=True)
        oracle = pd.read_parquet(work / "sim" / "oracle.parquet")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    snapshot = snapshot[snapshot["default_12m"].notna()].reset_index(drop=True)
    seq = sequences_of(snapshot)
    assert seq is not None
    prep = prepare(snapshot, TrainConfig(target="default_12m"), snapshot_domain(snapshot))
    test = prep.times == prep.times.max()
    dev = np.flatnonzero(~test)
    types = column_types(prep.X.iloc[dev], prep.domain, 50)
    pre = Preprocessor(types, 0)
    train_x = as_array(pre.fit_transform(prep.X.iloc[dev].reset_index(drop=True), prep.y[dev]))
    test_x = as_array(pre.transform(prep.X[test].reset_index(drop=True)))
    sizes, directions = network_inputs(pre, model_monotone(pre, dict(prep.config.monotone or {})))
    y_dev, y_test, groups = prep.y[dev], prep.y[test], prep.groups[dev]
    rows = snapshot[test].merge(oracle[["ruc", "as_of", "true_pd"]], on=["ruc", "as_of"], how="left")
    known = rows["true_pd"].notna().to_numpy()  # the test rows the oracle scores (as bench_train's)
    oracle_auc = float(roc_auc_score(y_test[known], rows.loc[known, "true_pd"]))
    channels = list(SEQUENCE_COLUMNS)
    runs = []
    for seed in range(args.seeds):
        for name in ("tf_mlp", "tf_sequence"):
            t0 = time.perf_counter()
            histories = seq[dev] if name == "tf_sequence" else None
            net = TfNetwork.fit(train_x, y_dev, sizes, directions, seed, groups, explain=False, sequences=histories,
                                channels=channels)  # fmt: skip
            z = net.margin(test_x, seq[test] if name == "tf_sequence" else None)
            auc = float(roc_auc_score(y_test[known], z[known]))
            run = {"seed": seed, "family": name, "test_auc": auc, "ratio": auc / oracle_auc,
                   "epochs": net.info["epochs"], "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
            if name == "tf_sequence":  # how much of the margin's movement the histories carry
                parts, by_channel, _, _ = net.contributions(test_x[:2000], seq[test][:2000])
                run["history_share_of_attributions"] = float(np.abs(by_channel).sum() / (
                    np.abs(by_channel).sum() + np.abs(parts).sum()))  # fmt: skip
            runs.append(run)
            print(run, flush=True)
    mean = {name: float(np.mean([r["test_auc"] for r in runs if r["family"] == name]))
            for name in ("tf_mlp", "tf_sequence")}  # fmt: skip
    write_result({
        "benchmark": "sequence_value",
        "firms": args.firms,
        "development_rows": len(dev),
        "test_rows": int(known.sum()),
        "oracle_auc_same_rows": oracle_auc,
        "runs": runs,
        "mean_test_auc": mean,
        "mean_gain": mean["tf_sequence"] - mean["tf_mlp"],
    }, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
