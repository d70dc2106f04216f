"""Benchmark reject inference: each method's model scored on the whole through-the-door population (approved and
rejected applications) against the simulator's oracle, beside training on approved loans only.

Usage::

    python -m bench.bench_reject_inference --firms 5000 --seeds 3 --out bench/results/reject_inference.json

Per seed, a population of ``--firms`` firms over ``--months`` months (60: applications at the 15 quarter-ends from
2021-06 to 2024-12, each firm once) lives under an earlier lending policy that rejects ``--rejection-rate`` of the
applications (``simulate --policy-history``): the lake hides the rejected firms' outcomes, the oracle keeps them.
The snapshot has one row per application (``features --as-of applications``); each method trains on it with the
same settings (``train --reject-inference METHOD``: out-of-time test on the latest application dates, embargo,
folds by firm; ``METHOD:F`` with ``--reject-factor F``, e.g. ``parcelling:2``, the textbook "rejects twice as
bad"). Then, on the out-of-time applications, approved and rejected:

- AUC, Brier and ECE of each model's PD against the oracle's realised outcome (``oracle.defaulted``), and its mean
  PD against the realised bad rate;
- the approval rate at equal bad rate: the approved-only model's cut-off approves as many applications as the old
  policy did (1 − the rejection rate), which gives a bad rate B; each model approves its best-scored applications
  as long as their realised bad rate stays ≤ B (``approval_at_equal_bad_rate``; with the oracle's true PDs as the
  bad rate, ``..._expected``: the same comparison without the outcomes' noise);
- what a lender would see instead: each model's AUC on the out-of-time rows with known outcomes (the approved
  ones), the figure the training report gives.

Differences to approved-only are paired (same seed, same rows). The oracle's own AUC on the rows is the ceiling.
The approved-only training is run once per seed and reused by fuzzy, parcelling and the hard cut-off
(``train(approved_only=...)``), as each would otherwise train it again.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd

from bench._common import write_result
from pymescore.evaluate import binary_metrics
from pymescore.features._adapter import snapshot_domain
from pymescore.features._snapshot import build_snapshot
from pymescore.lake import Lake
from pymescore.model import TrainConfig, train
from pymescore.model._config import REJECT_INFERENCE
from pymescore.model._train import approved_only_run
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import ingest_folder


def population(work: Path, firms: int, months: int, seed: int, rate: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshot of every application (one row each, rejected marked) and the oracle."""
    config = SimulationConfig(firms=firms, months=months, seed=seed, error_rate=0.0, outlier_rate=0.0,
                              policy_history=True, rejection_rate=rate)  # fmt: skip
    data = simulate(config)
    write_simulation(data, work / "sim")
    lake = Lake(work / "lake")
    ingest_folder(work / "sim", lake)
    applications = data.applications if data.applications is not None else pd.DataFrame({"application_date": []})
    dates = sorted({str(d.date()) for d in pd.to_datetime(applications["application_date"])})
    snapshot, _ = build_snapshot(lake, dates)
    return snapshot, data.oracle


def approval_at(pd_: np.ndarray, bad: np.ndarray, limit: float) -> float:
    """The largest share of applications, best PD first, whose bad rate (``bad``: outcomes or true PDs) is ≤
    ``limit``."""
    order = np.argsort(pd_, kind="stable")
    rate = np.cumsum(bad[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(rate <= limit + 1e-12)
    return float((ok.max() + 1) / len(order)) if ok.size else 0.0


def evaluate(
    models: dict[str, Any], snapshot: pd.DataFrame, oracle: pd.DataFrame, first_test: str, share: float
) -> dict[str, dict[str, Any]]:
    """Each model on the out-of-time applications, approved and rejected, against the oracle."""
    rows = snapshot[snapshot["as_of"] >= pd.Timestamp(first_test)].merge(
        oracle[["ruc", "as_of", "true_pd", "defaulted"]], on=["ruc", "as_of"], how="left", validate="one_to_one"
    )
    y = rows["defaulted"].to_numpy(dtype=np.int64)
    truth = rows["true_pd"].to_numpy(dtype=np.float64)
    rejected = rows["rejected"].to_numpy(dtype=bool)
    pds = {name: model.predict_pd(rows) for name, model in models.items()}
    approved = np.zeros(len(y), dtype=bool)  # approved-only's cut-off: the old policy's approval share
    approved[np.argsort(pds["none"], kind="stable")[: round(share * len(y))]] = True
    limit = float(y[approved].mean()) if approved.any() else 0.0
    limit_expected = float(truth[approved].mean()) if approved.any() else 0.0
    out: dict[str, dict[str, Any]] = {
        "population": {"n": len(y), "rejected": int(rejected.sum()), "bad_rate": float(y.mean()),
                       "bad_rate_rejected": float(y[rejected].mean()), "bad_rate_approved": float(y[~rejected].mean()),
                       "oracle_auc": binary_metrics(y, truth)["auc"], "approval_share": share,
                       "approved_only_approval_rate": float(approved.mean()), "approved_only_bad_rate": limit,
                       "approved_only_expected_bad_rate": limit_expected},
    }  # fmt: skip
    for name, p in pds.items():
        m = binary_metrics(y, p)
        out[name] = {
            "auc": m["auc"], "brier": m["brier"], "ece": m["ece"], "mean_pd": m["mean_pd"],
            "auc_rejected_only": binary_metrics(y[rejected], p[rejected])["auc"],
            "mean_pd_rejected": float(p[rejected].mean()),
            "approval_at_equal_bad_rate": approval_at(p, y.astype(np.float64), limit),
            "approval_at_equal_bad_rate_expected": approval_at(p, truth, limit_expected),
        }  # fmt: skip
    return out


def run_seed(args: argparse.Namespace, seed: int, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    snapshot, oracle = population(work, args.firms, args.months, seed, args.rejection_rate)
    models, reports, seconds = {}, {}, {}
    domain = snapshot_domain(snapshot)
    approved_only = None
    for method in args.methods:
        t = time.perf_counter()
        name, _, factor = method.partition(":")
        config = TrainConfig(target="default_12m", trials=args.trials, time_budget=args.time_budget, folds=args.folds,
                             seed=seed, reject_inference=name, reject_factor=float(factor or 1.0))  # type: ignore[arg-type]  # fmt: skip
        if method == "none":  # the approved-only run, every fold scoring the rejects too: reused below
            result = approved_only = approved_only_run(snapshot, config, domain)
        else:
            result = train(snapshot, config, domain=domain, approved_only=approved_only)
        models[method], seconds[method] = result.model, round(time.perf_counter() - t, 1)
        ri = result.report["reject_inference"]
        reports[method] = {
            "known_test_auc": (result.report["test_metrics"] or {}).get("auc"),
            "cv_auc": result.report["cv"]["mean_auc"],
            "rejects_used": ri.get("rejects_used", 0),
            "inferred_bad_rate": ri.get("inferred_bad_rate"),
            "weights": ri.get("reject_weights") or ri.get("approved_weights"),
            "test_dates": result.report["test_dates"],
        }
        print(f"seed {seed} {method}: {seconds[method]} s", flush=True)
    first_test = min(reports["none"]["test_dates"])
    scored = evaluate(models, snapshot, oracle, first_test, 1.0 - args.rejection_rate)
    for method in args.methods:
        scored[method] |= {k: v for k, v in reports[method].items() if k != "test_dates"} | {"seconds": seconds[method]}
    return {"seed": seed, "test_dates": reports["none"]["test_dates"], "applications": len(snapshot),
            "rejected": int(snapshot["rejected"].sum()), "seconds": round(time.perf_counter() - started),
            "results": scored}  # fmt: skip


_FIGURES = ("auc", "brier", "ece", "mean_pd", "auc_rejected_only", "approval_at_equal_bad_rate",
            "approval_at_equal_bad_rate_expected", "known_test_auc")  # fmt: skip


def summarise(runs: list[dict[str, Any]], methods: Sequence[str]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each figure; the paired difference to approved-only and how many
    seeds it is better in (AUC and approval higher, Brier and ECE lower)."""
    out: dict[str, Any] = {}
    lower = {"brier", "ece"}
    for method in methods:
        row: dict[str, Any] = {}
        for fig in _FIGURES:
            values = np.array([r["results"][method][fig] for r in runs], dtype=np.float64)
            base = np.array([r["results"]["none"][fig] for r in runs], dtype=np.float64)
            diff = values - base
            better = (diff < 0) if fig in lower else (diff > 0)
            row[fig] = {"mean": float(values.mean()), "std": float(values.std()), "diff_mean": float(diff.mean()),
                        "seeds_better": int(better.sum())}  # fmt: skip
        out[method] = row
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=5000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rejection-rate", type=float, default=0.35)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--time-budget", type=float, default=900.0, help="per training (large: the trials decide)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--methods", default=",".join([*REJECT_INFERENCE, "parcelling:2"]),
                        help="methods to compare; METHOD:F sets reject_factor F (default 1)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench/results/reject_inference.json"))
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "none" not in args.methods:
        args.methods.insert(0, "none")
    started = time.perf_counter()
    runs = []
    for seed in range(1, args.seeds + 1):
        with TemporaryDirectory() as tmp:
            runs.append(run_seed(args, seed, Path(tmp)))
    write_result({"benchmark": "reject_inference", "firms": args.firms, "months": args.months,
                  "rejection_rate": args.rejection_rate, "trials": args.trials, "folds": args.folds,
                  "methods": args.methods, "seconds": round(time.perf_counter() - started),
                  "summary": summarise(runs, args.methods), "runs": runs}, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
