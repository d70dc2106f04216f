"""The logistic-regression family: exact contributions, JSON round trip, declared directions, unseen values,
and its place in the blend (weights on the 0.1 simplex, any single family reachable)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.model import TrainConfig, train
from pymescore.model._blend import blend_grid
from pymescore.model._linear import Linear


def matrix(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    late = rng.poisson(1.0, n).astype(float)
    income = rng.lognormal(8, 0.6, n)
    noise = rng.normal(size=n)
    sectors = ["agro", "comercio", "servicios"]
    sector = pd.Categorical(rng.choice(sectors, n), categories=sectors)
    logit = -1.5 + 0.9 * late - 1.2 * (np.log(income) - 8) + 0.8 * (np.asarray(sector) == "agro") + 0.4 * noise
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.05] = np.nan
    x = pd.DataFrame({"late": late, "income": income, "noise": noise, "sector": sector})
    return x, y


def test_contributions_add_up_to_the_margin_and_survive_json() -> None:
    x, y = matrix()
    model = Linear().fit(x, y, {})
    parts, bias = model.contributions(x)
    assert set(parts) == {"late", "income", "noise", "sector"}
    assert np.allclose(bias + np.sum(list(parts.values()), axis=0), model.margin(x))
    again = Linear.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.array_equal(again.margin(x), model.margin(x))
    # it learned the simulated directions: late payments raise risk, income lowers it
    coef = {v["name"]: v["coef"] for v in model.variables_}
    assert coef["late"][0] > 0 > coef["income"][0]


def test_a_column_against_its_declared_direction_is_dropped() -> None:
    x, y = matrix()
    # late payments raise risk in the data; declaring the opposite must not give a model that follows the data
    model = Linear().fit(x, y, {"late": -1, "income": -1})
    names = [v["name"] for v in model.variables_]
    assert "late" not in names
    assert "income" in names


def test_missing_and_unseen_values() -> None:
    x, y = matrix()
    model = Linear().fit(x, y, {})
    income = next(v for v in model.variables_ if v["name"] == "income")
    row = x.head(1).copy()
    row["income"] = np.nan
    filled = row.copy()
    filled["income"] = income["median"]
    assert np.allclose(model.margin(row), model.margin(filled))
    unseen = x.head(1).copy()
    unseen["sector"] = pd.Categorical(["minería"], categories=["agro", "comercio", "servicios", "minería"])
    parts, _ = model.contributions(unseen)
    assert parts["sector"][0] == 0.0


@pytest.fixture(scope="module")
def monotone_fit() -> tuple[pd.DataFrame, Linear]:
    x, y = matrix(seed=3)
    return x, Linear().fit(x, y, {"late": 1})


@settings(max_examples=40, deadline=None)
@given(row=st.integers(0, 1999), bump=st.floats(0.1, 50.0))
def test_monotone_numbers_never_move_the_margin_against_their_direction(
    monotone_fit: tuple[pd.DataFrame, Linear], row: int, bump: float
) -> None:
    x, model = monotone_fit
    base = x.iloc[[row]].copy()
    more = base.copy()
    more["late"] = base["late"] + bump
    assert model.margin(more)[0] >= model.margin(base)[0] - 1e-12


def test_blend_grid_sums_to_one_and_respects_the_families() -> None:
    full = blend_grid(True, True, True)
    assert len(full) == 66
    assert all(abs(sum(w) - 1) < 1e-9 for w in full)
    assert {(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)} <= set(full)
    assert blend_grid(True, False, False) == [(1.0, 0.0, 0.0)]
    assert all(w[1] == 0 for w in blend_grid(True, False, True))


@pytest.mark.parametrize("families", [("logistic",), ("xgboost", "logistic")])
def test_training_with_the_logistic_family(families: tuple[str, ...]) -> None:
    x, y = matrix(1500, seed=5)
    frame = x.assign(sector=x["sector"].astype(str), target=y)
    config = TrainConfig(target="target", families=families, trials=2, time_budget=5.0, folds=3, holdout=0.2)
    result = train(frame, config)
    weights = result.report["blend_weights"]
    assert weights["scorecard"] == 0
    assert abs(sum(weights.values()) - 1) < 1e-9
    names = [c["name"] for c in result.report["candidates"]]
    assert "logistic" in names
    model = result.model
    if weights["logistic"] > 0:
        assert model.linear is not None
    summary, points = model.explain(frame.head(30))
    assert np.array_equal(summary["pd"].to_numpy(), model.predict_pd(frame.head(30)))
    assert np.allclose(np.clip(summary["base_score"] + points.sum(axis=1), 300, 850), summary["score"], atol=0.51)
    assert result.report["test_metrics"]["auc"] > 0.7
