"""Benchmark: per-application scoring time of a TensorFlow bundle beside a tree bundle, trained on the same
simulated snapshot and scored by the service's ``Scorer.score()`` from raw 24-month histories (contracts,
features, PD, exact reasons — Integrated Gradients for the network —, decision and hints).

Bundles: ``xgboost`` alone, ``tf_mlp`` alone, ``tf_sequence`` alone (its histories built from the request's raw
records), and the default families with ``tf_mlp`` added (a blend). For each:
one application per call (the median of ``--repeat`` blocks of ``--single`` calls, bundles alternating call by
call so that each sees the same machine load) and ``--batch`` applications per call (per application). Ratios
to the tree bundle are the figures to read (the machine is shared).

    python -m bench.family_scoring --firms 4000 --out bench/results/family_scoring.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import simulated_lake, write_result
from bench._service import request_bodies
from pymescore.bundle import load_bundle
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig
from pymescore.runs import run_training
from pymescore.service import Policy, Scored, Scorer, ScoreRequest

BUNDLES = {
    "xgboost": ("xgboost",),
    "tf_mlp": ("tf_mlp",),
    "tf_sequence": ("tf_sequence",),
    "blend with tf_mlp": ("xgboost", "lightgbm", "scorecard", "logistic", "tf_mlp"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=4000)
    parser.add_argument("--single", type=int, default=200, help="one-application calls per block")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results/family_scoring.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        lake = simulated_lake(work, args.firms, 48)
        snapshot, _ = build_snapshot(lake, ("2023-06-30", "2023-12-31", "2024-12-31"), sequences=True)
        scorers: dict[str, Scorer] = {}
        trained: dict[str, Any] = {}
        for name, families in BUNDLES.items():
            config = TrainConfig(target="default_12m", trials=5, time_budget=60, families=families)
            _, metrics = run_training(snapshot, config, work / name)
            bundle = load_bundle(work / name)
            scorers[name] = Scorer(bundle, Policy(), lake.read_optional("exchange_rates"), nthread=1)
            trained[name] = {"weights": {k: v for k, v in metrics["blend_weights"].items() if v > 0},
                             "test_auc": metrics["test_metrics"]["auc"]}  # fmt: skip
        # 36 months of raw history per application: what the sequence model reads (the features read 24)
        bodies = request_bodies(work / "lake", 400, "2025-06-30", months=36)
        requests = [ScoreRequest.model_validate(b) for b in bodies]
        for scorer in scorers.values():
            refused = [s for s in scorer.score(requests) if not isinstance(s, Scored)]  # warms every path up
            assert not refused, refused[0]
        single: dict[str, list[float]] = {name: [] for name in scorers}
        for r in range(args.repeat):
            times: dict[str, list[float]] = {name: [] for name in scorers}
            for i in range(args.single):
                request = requests[(r * args.single + i) % len(requests)]
                for name, scorer in scorers.items():
                    t0 = time.perf_counter()
                    scorer.score([request])
                    times[name].append(time.perf_counter() - t0)
            for name in scorers:
                single[name].append(statistics.median(times[name]))
        batch: dict[str, list[float]] = {name: [] for name in scorers}
        for _ in range(args.repeat):
            for name, scorer in scorers.items():
                t0 = time.perf_counter()
                scorer.score(requests[: args.batch])
                batch[name].append((time.perf_counter() - t0) / args.batch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base_single, base_batch = statistics.median(single["xgboost"]), statistics.median(batch["xgboost"])
    result = {
        "benchmark": "family_scoring",
        "firms": args.firms,
        "single_calls": args.single,
        "repeats": args.repeat,
        "batch_size": args.batch,
        "bundles": {
            name: {
                **trained[name],
                "single_ms": round(1000 * statistics.median(single[name]), 3),
                "single_ms_blocks": [round(1000 * v, 3) for v in single[name]],
                "batch_ms_per_app": round(1000 * statistics.median(batch[name]), 3),
                "single_vs_xgboost": round(statistics.median(single[name]) / base_single, 2),
                "batch_vs_xgboost": round(statistics.median(batch[name]) / base_batch, 2),
            }
            for name in scorers
        },
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
