"""A bundle with a large booster, for the serving benchmark's "≥ 300 trees" case.

The demo bundle's XGBoost family is refitted on the same snapshot and preprocessing with a fixed number of
rounds (default 400) and a smaller learning rate; every other part of the bundle (scorecard, logistic,
calibration, scale, reference, context) is kept. The result is a valid, signed bundle whose booster costs
what a production-sized model costs; its accuracy is not the point.

    python -m bench.big_bundle --bundle demo/bundle --table demo/snapshot.parquet --out demo/bundle-400
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from pymescore.bundle import load_bundle, save_bundle
from pymescore.model._xgb import dmatrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("demo/bundle"))
    parser.add_argument("--table", type=Path, default=Path("demo/snapshot.parquet"))
    parser.add_argument("--target", default="default_12m")
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("demo/bundle-400"))
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    model = bundle.model
    assert model.booster is not None, "the bundle has no XGBoost family to enlarge"
    frame = pd.read_parquet(args.table)
    frame = frame[frame[args.target].notna()]
    X = model.matrix(frame[[f.name for f in model.features]])
    y = frame[args.target].astype(float).to_numpy()
    params = json.loads(model.booster.save_config())["learner"]["gradient_booster"]["tree_train_param"]
    booster = xgb.train(
        {"objective": "binary:logistic", "tree_method": "hist", "max_depth": int(params.get("max_depth", 4)),
         "learning_rate": 0.02, "nthread": 2, "max_cat_to_onehot": 4,
         "monotone_constraints": params.get("monotone_constraints", "()")},
        dmatrix(X, y), num_boost_round=args.rounds,
    )  # fmt: skip
    big = dataclasses.replace(bundle, model=dataclasses.replace(model, booster=booster), version="")
    save_bundle(big, args.out)
    print(f"{args.out}: {booster.num_boosted_rounds()} trees, mean PD {np.mean(big.model.predict_pd(frame)):.4f}")


if __name__ == "__main__":
    main()
