"""Benchmark: training on ~100k simulated firm-snapshots with the default tuning budget (target ≤ 5 min),
and the quality against the simulator's oracle on the out-of-time test rows (target AUC ≥ 0.97 × the
oracle's AUC on the same rows, ECE ≤ 0.015, monotone bands). Development dates end a year before the test
date, so no development outcome window reaches past it (the trainer's embargo would leave such rows out).

    python -m bench.bench_train --out bench/results/train.json   # 32k firms: ~100k firm-snapshots
    python -m bench.bench_train --families xgboost,lightgbm,scorecard,logistic,tf_mlp --out bench/results/train-tf.json

``--families`` picks the model families (default: the trainer's default set); the result records each family's
out-of-fold and test AUC, its fitting time, and (a network in the blend) the completeness error of its reasons.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from bench._common import simulated_lake, write_result
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig
from pymescore.runs import run_training

AS_OF = ("2023-06-30", "2023-09-30", "2023-12-31", "2024-12-31")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=32_000, help="simulated firms (32k: ~100k snapshot rows)")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--time-budget", type=float, default=120.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--families", default=None, help="FAMILY,FAMILY (default: the trainer's default set)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        lake = simulated_lake(work, args.firms, args.months)
        families = tuple(args.families.split(",")) if args.families else None
        # the sequence model reads each row's monthly histories (``pymescore features --sequences``)
        snapshot, _ = build_snapshot(lake, AS_OF, sequences=bool(families and "tf_sequence" in families))
        config = TrainConfig(target="default_12m", trials=args.trials, time_budget=args.time_budget,  # type: ignore[arg-type]
                             device=args.device, families=families)  # fmt: skip
        t0 = time.perf_counter()
        bundle, metrics = run_training(snapshot, config, work / "bundle")
        seconds = time.perf_counter() - t0
        oracle = pd.read_parquet(work / "sim" / "oracle.parquet")
        test = snapshot[snapshot["as_of"].isin(pd.to_datetime(metrics["test_dates"]))].dropna(subset=["default_12m"])
        test = test.merge(oracle, on=["ruc", "as_of"], how="inner")
        y = test["default_12m"].astype(int).to_numpy()
        model_auc = float(roc_auc_score(y, bundle.model.predict_pd(test)))
        oracle_auc = float(roc_auc_score(y, test["true_pd"]))
        result = {
            "benchmark": "train",
            "firms": args.firms,
            "snapshot_rows": len(snapshot),
            "labelled_rows": int(snapshot["default_12m"].notna().sum()),
            "trials": args.trials,
            "time_budget_s": args.time_budget,
            "train_seconds": round(seconds, 1),
            "timings_s": metrics["timings_s"],
            "tuning_trials": metrics["tuning"]["trials"],
            "embargoed_rows": metrics["rows"]["embargoed"],
            "test_dates": metrics["test_dates"],
            "test_auc": model_auc,
            "oracle_auc_same_rows": oracle_auc,
            "auc_ratio": model_auc / oracle_auc,
            "ece": metrics["test_metrics"]["ece"],
            "bands_monotone": metrics["bands_monotone"],
            "blend_weight_xgboost": metrics["blend_weight_xgboost"],
            "blend_weights": metrics["blend_weights"],
            "candidates": metrics["candidates"],
            "calibration": metrics["calibration"]["method"],
            "families": metrics["families"],
            "blend_why": metrics["blend"],
            "explanations": metrics.get("explanations"),
            "targets": {"train_seconds": 300, "auc_ratio": 0.97, "ece": 0.015},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
