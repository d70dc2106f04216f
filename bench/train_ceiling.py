"""Benchmark: how much of the oracle's AUC the observable data can reach at all (the ceiling of ``bench_train``).

The simulator's oracle knows each firm's latent quality (level ``z``, yearly drift ``delta`` and the AR(1)
disturbance ``w`` at as_of) and no model of the raw tables can. This fits one fixed XGBoost learner on the
same development rows as ``bench_train`` four times — on the registry's features, then with the true ``z``,
with ``z``, ``delta`` and ``w``, and with what the oracle itself knows (the level-and-drift part of quality
averaged over the outcome window, and ``w``) added as columns — and reports each out-of-time AUC against the
oracle's on the same rows. The first is the baseline of the others: the gain from knowing the latent truth is
measured in one run, with one learner, on one split. It also reports how much of each latent part the
features recover (out-of-time R², 1 − MSE / variance, of a regression on them): how far the observable data
is from the truth that separates the trainer from the oracle; and the learner's AUC in a 5-fold CV inside the
test date's rows (no change of dates): what the drift between development and test dates costs. The
``+histories`` variant adds the raw monthly histories the sequence model reads (36 months × income, expenses,
days past due, rating, debt and their masks: ``pymescore features --sequences``), flattened into columns: what
the tables hold beyond the hand-made features, for the same learner (``bench/sequence_value.py``: the networks).

    python -m bench.train_ceiling --out bench/results/train_ceiling.json   # the population of bench_train
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from bench._common import simulated_lake, write_result
from bench.bench_train import AS_OF
from pymescore.features._sequences import CHANNELS, SEQUENCE_COLUMNS, SEQUENCE_MONTHS, sequences_of
from pymescore.features._snapshot import build_snapshot
from pymescore.simulate import SimulationConfig
from pymescore.simulate._config import Calendar
from pymescore.simulate._credit import simulate_risk
from pymescore.simulate._fx import simulate_rates
from pymescore.simulate._loans import plan_loans
from pymescore.simulate._population import build_population

#: one fixed learner for every variant (no tuning: the variants differ only in their columns)
PARAMS = {
    "objective": "binary:logistic",
    "eta": 0.03,
    "max_depth": 4,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
    "tree_method": "hist",
    "seed": 7,
}
ROUNDS = 400
#: the histories flattened into columns (channel, months back from as_of: 36 … 1)
HISTORY_COLUMNS = [f"hist_{c}_m{SEQUENCE_MONTHS - t}" for c in CHANNELS for t in range(SEQUENCE_MONTHS)]
VARIANTS = {
    "features": [],
    "+histories": HISTORY_COLUMNS,
    "+z": ["z"],
    "+z,delta,w": ["z", "delta", "w"],
    "+known_quality,w": ["known_quality", "w"],
}


def latent_truth(config: SimulationConfig, dates: list[pd.Timestamp]) -> pd.DataFrame:
    """(ruc, as_of, z, delta, w, known_quality) of every simulated firm at each date, redrawn from the
    simulator's streams. ``known_quality`` is what the oracle knows of the quality to come: the level and
    drift part of ``q`` averaged over the 12 months after as_of (the drift's weight grows with time, so
    ``delta`` alone means something else on each date)."""
    calendar = Calendar.from_config(config)
    pop = build_population(config, calendar)
    book = plan_loans(pop, calendar, config, simulate_rates(config.seed, calendar))
    risk = simulate_risk(pop, calendar, config, book.exposure_start)
    known = risk.quality - risk.disturbance  # z + delta * trend(t)
    month_end = pd.DatetimeIndex(calendar.month_end(np.arange(calendar.months)).astype("datetime64[ns]"))
    frames = []
    for ts in dates:
        t = int(month_end.get_loc(ts))
        frames.append(
            pd.DataFrame(
                {
                    "ruc": pop.ruc.astype(str),
                    "as_of": ts,
                    "z": pop.z,
                    "delta": pop.delta,
                    "w": risk.disturbance[:, t],
                    "known_quality": known[:, t + 1 : t + 13].mean(axis=1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _matrix(frame: pd.DataFrame, columns: list[str], label: np.ndarray | None = None) -> xgb.DMatrix:
    return xgb.DMatrix(frame[columns], label=label, enable_categorical=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=32_000, help="simulated firms (as bench_train)")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_ceiling.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        config = SimulationConfig(firms=args.firms, months=args.months, seed=7)
        lake = simulated_lake(work, args.firms, args.months, seed=config.seed)
        snapshot, _ = build_snapshot(lake, AS_OF, sequences=True)
        oracle = pd.read_parquet(work / "sim" / "oracle.parquet")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    dates = sorted(pd.to_datetime(AS_OF))
    labelled = snapshot.dropna(subset=["default_12m"]).drop(columns="label_window_end").reset_index(drop=True)
    histories = sequences_of(labelled)
    assert histories is not None
    flat = histories.transpose(0, 2, 1).reshape(len(labelled), -1)  # channel-major, oldest month first
    labelled = pd.concat([labelled.drop(columns=list(SEQUENCE_COLUMNS)),
                          pd.DataFrame(flat, columns=HISTORY_COLUMNS)], axis=1)  # fmt: skip
    labelled = labelled.assign(ruc=labelled["ruc"].astype(str), as_of=labelled["as_of"].astype("datetime64[ns]"))
    truth = latent_truth(config, dates)
    oracle = oracle.assign(ruc=oracle["ruc"].astype(str), as_of=oracle["as_of"].astype("datetime64[ns]"))
    data = labelled.merge(truth, on=["ruc", "as_of"], how="left", validate="one_to_one").merge(
        oracle[["ruc", "as_of", "true_pd"]], on=["ruc", "as_of"], how="left", validate="one_to_one"
    )
    keys = {"ruc", "as_of", "default_12m", "label_window_end", *SEQUENCE_COLUMNS}
    features = [c for c in snapshot.columns if c not in keys]
    test = (data["as_of"] == dates[-1]).to_numpy()
    scored = test & data["true_pd"].notna().to_numpy()
    y = data["default_12m"].astype(int).to_numpy()
    oracle_auc = float(roc_auc_score(y[scored], data.loc[scored, "true_pd"]))
    develop = data[~test]
    aucs = {}
    for name, extra in VARIANTS.items():
        params = {**PARAMS, "nthread": 0}
        booster = xgb.train(params, _matrix(develop, features + extra, y[~test]), ROUNDS)
        pd_hat = booster.predict(_matrix(data[scored], features + extra))
        aucs[name] = float(roc_auc_score(y[scored], pd_hat))
    # the same learner without the change of dates: 5-fold CV inside the test date's own rows (one row per firm),
    # the features only: what is lost to the drift between development and test dates rather than to information
    rows = data[scored].reset_index(drop=True)
    y_rows = rows["default_12m"].astype(int).to_numpy()
    in_time = np.zeros(len(rows))
    for fit_rows, held in StratifiedKFold(5, shuffle=True, random_state=0).split(rows, y_rows):
        booster = xgb.train({**PARAMS, "nthread": 0}, _matrix(rows.iloc[fit_rows], features, y_rows[fit_rows]), ROUNDS)
        in_time[held] = booster.predict(_matrix(rows.iloc[held], features))
    aucs["features, in-time CV on the test date"] = float(roc_auc_score(y_rows, in_time))
    # how much of each latent part the features recover: R² out of time of a regression of it on the features
    explained = {}
    for part in ("z", "delta", "w", "known_quality"):
        target = develop[part].to_numpy()
        booster = xgb.train(
            {**PARAMS, "objective": "reg:squarederror", "nthread": 0}, _matrix(develop, features, target), ROUNDS
        )
        truth_test = data.loc[scored, part].to_numpy()
        residual = truth_test - booster.predict(_matrix(data[scored], features))
        explained[part] = float(1.0 - np.mean(residual**2) / truth_test.var())
    result = {
        "benchmark": "train_ceiling",
        "firms": args.firms,
        "development_rows": int((~test).sum()),
        "test_rows": int(scored.sum()),
        "test_date": str(dates[-1].date()),
        "oracle_auc_same_rows": oracle_auc,
        "auc": aucs,
        "ratio_to_oracle": {name: auc / oracle_auc for name, auc in aucs.items()},
        "latent_r2_from_features": explained,
        "learner": {**PARAMS, "rounds": ROUNDS},
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
