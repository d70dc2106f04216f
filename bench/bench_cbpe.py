"""Benchmark CBPE: does the AUC estimated from the PDs of each monthly cohort match the realised AUC?

Usage::

    python -m bench.bench_cbpe --firms 20000 --seeds 3 --out bench/results/cbpe.json

On a simulated population (36 months ending 2025-12) a bundle is trained on two early quarter-ends; each
month-end from 2023-07 to 2024-12 is a cohort of decisions scored by the bundle, and its outcomes are the
12 months after it (all known in the lake, as they would be a year later). Per cohort: the AUC estimated by
``pymescore monitor`` (CBPE) beside the realised one, and whether monitoring marked the estimate
untrustworthy. Two scenarios: ``calm`` (no shock: the acceptance asks |estimated − realised| ≤ 0.03 in ≥ 80% of
cohorts) and ``shock`` (the El Niño-like coastal shock of ``SimulationConfig.shock``: each cohort must be
flagged or follow the realised figure). The baseline in the same run is what is known without CBPE: the
bundle's own test AUC, taken as every cohort's estimate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd

from bench._common import write_result
from pymescore.bundle import Bundle, load_bundle
from pymescore.cbpe import AUC_AGREEMENT
from pymescore.features._snapshot import build_snapshot, read_lake_tables
from pymescore.lake import Lake
from pymescore.monitoring import monitor
from pymescore.scoring import score
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import ingest_folder

#: month-ends from 2023-07 to 2024-12: 6 months of history before each, its 12-month window inside 2025-12
COHORTS = [str(d.date()) for d in pd.date_range("2023-07-31", "2024-12-31", freq="ME")]
#: the bundle learns on the first and tests out of time on the second (12 months apart: the embargo)
TRAIN_AS_OF = ["2023-06-30", "2024-06-30"]


def cohort_decisions(bundle: Bundle, lake: Lake, as_ofs: Sequence[str]) -> list[dict[str, Any]]:
    """The decisions the bundle would have made at each date, scored on the snapshot rows directly (the
    audit store's row shape: the CBPE path of ``monitor`` is what is measured, not the HTTP service)."""
    snapshot, _ = build_snapshot(lake, list(as_ofs))
    scored = score(bundle, snapshot)
    names = [n for n in bundle.reference.get("features", {}) if n in snapshot.columns]
    feats = snapshot[names].to_dict(orient="records")
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [
        {
            "id": i,
            "ruc": r.ruc,
            "created_at": created,
            "model_version": bundle.version,
            "pd": r.pd,
            "score": r.score,
            "band": r.band,
            "decision": r.decision,
            "response": {"as_of": str(pd.Timestamp(r.as_of).date())},
            "features": feats[i],
        }
        for i, r in enumerate(scored.itertuples(index=False))
    ]


def cohort_table(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per cohort of a monitor result: estimated and realised AUC, their gap, trusted or not."""
    return [
        {
            "cohort": c["cohort"],
            "n": c["n"],
            "estimated_auc": c["estimated"]["auc"],
            "realised_auc": (c["realised"] or {}).get("auc"),
            "gap": c.get("auc_gap"),
            "trusted": c["trustworthy"],
            "reasons": c["untrustworthy_reasons"],
        }
        for c in result["cbpe"]["cohorts"]
    ]


def train_bundle(lake: Lake, out: Path, trials: int = 2, time_budget: float = 10.0) -> Bundle:
    from pymescore.model import TrainConfig
    from pymescore.runs import run_training

    snapshot, _ = build_snapshot(lake, TRAIN_AS_OF)
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=trials,
                         time_budget=time_budget, folds=3)  # fmt: skip
    run_training(snapshot, config, out, dataset="sim")
    return load_bundle(out)


def scenario(work: Path, firms: int, seed: int, shock: bool) -> dict[str, Any]:
    """One simulated population: train, score the monthly cohorts, monitor; the per-cohort table."""
    started = time.perf_counter()
    config = SimulationConfig(firms=firms, months=36, seed=seed, error_rate=0.0, shock=shock)
    write_simulation(simulate(config), work / "sim")
    lake = Lake(work / "lake")
    ingest_folder(work / "sim", lake)
    bundle = train_bundle(lake, work / "bundle")
    decisions = cohort_decisions(bundle, lake, COHORTS)
    result = monitor(bundle, decisions, lake_tables=read_lake_tables(lake))
    rows = cohort_table(result)
    gaps = [abs(r["gap"]) for r in rows if r["gap"] is not None]
    test_auc = (bundle.metrics.get("test_metrics") or {}).get("auc")
    baseline = [abs(r["realised_auc"] - test_auc) for r in rows if r["realised_auc"] is not None and test_auc]
    followed_or_flagged = [r for r in rows if r["gap"] is not None and (abs(r["gap"]) <= AUC_AGREEMENT
                                                                         or not r["trusted"])]  # fmt: skip
    return {
        "firms": firms,
        "seed": seed,
        "shock": shock,
        "cohorts": rows,
        "seconds": round(time.perf_counter() - started),
        "within_0.03": round(float(np.mean([g <= AUC_AGREEMENT for g in gaps])), 3),
        "mean_abs_gap": round(float(np.mean(gaps)), 4),
        "flagged_or_within": round(len(followed_or_flagged) / max(len(gaps), 1), 3),
        "baseline_test_auc": test_auc,
        "baseline_within_0.03": round(float(np.mean([g <= AUC_AGREEMENT for g in baseline])), 3) if baseline else None,
        "baseline_mean_abs_gap": round(float(np.mean(baseline)), 4) if baseline else None,
        "untrustworthy": result["cbpe"]["untrustworthy"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/cbpe.json"))
    args = parser.parse_args(argv)
    runs = []
    for seed in range(1, args.seeds + 1):
        for shock in (False, True):
            with TemporaryDirectory() as tmp:
                runs.append(scenario(Path(tmp), args.firms, seed, shock))
                print({k: v for k, v in runs[-1].items() if k != "cohorts"}, flush=True)
    write_result({"benchmark": "cbpe", "firms": args.firms, "cohorts": COHORTS, "runs": runs}, args.out)


if __name__ == "__main__":
    main()
