"""The compiled tree walks reproduce XGBoost: the margin bit for bit, the TreeSHAP contributions to float rounding
(and they add up to the margin), on boosters with numeric and categorical splits and missing values; a booster
the walks do not support is left to xgboost itself."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymescore.model._trees import Forest, check_rows, compile_forest

TYPES = ["q", "q", "c", "q", "c"]


def _booster(
    seed: int, depth: int, rounds: int, objective: str = "binary:logistic", onehot: int = 1, **extra: float | None
) -> xgb.Booster:
    rng = np.random.default_rng(seed)
    n = 600
    data = np.column_stack([
        rng.normal(size=n), rng.exponential(size=n), rng.integers(0, 9, n).astype(float),
        rng.integers(0, 4, n).astype(float), rng.integers(0, 30, n).astype(float),
    ])  # fmt: skip
    data[rng.random(data.shape) < 0.1] = np.nan
    filled = np.nan_to_num(data)
    logit = data[:, 0] + filled[:, 1] - (filled[:, 2] % 3 == 0) + (filled[:, 4] > 20)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    dm = xgb.DMatrix(data, label=y, feature_types=TYPES, enable_categorical=True, missing=np.nan)
    params = {"objective": objective, "max_depth": depth, "eta": 0.3, "max_cat_to_onehot": onehot, "nthread": 1,
              "seed": seed, "base_score": 0.3 if objective != "reg:squarederror" else 0.5}  # fmt: skip
    params.update(extra)
    if extra.get("base_score") is None:  # xgboost's own: boosted from the labels' average
        params.pop("base_score")
    return xgb.train(params, dm, num_boost_round=rounds)


def _xgboost(booster: xgb.Booster, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    margin = booster.inplace_predict(table, predict_type="margin", missing=np.nan)
    dm = xgb.DMatrix(table, feature_types=TYPES, enable_categorical=True, missing=np.nan)
    return np.asarray(margin), np.asarray(booster.predict(dm, pred_contribs=True), dtype=np.float64)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), depth=st.integers(1, 7), rounds=st.integers(1, 40),
       rows=st.integers(1, 300), onehot=st.sampled_from([1, 4, 64]))  # fmt: skip
def test_the_walks_equal_xgboost(seed: int, depth: int, rounds: int, rows: int, onehot: int) -> None:
    """Partition splits (max_cat_to_onehot 1), one-hot splits (64: every category column), and a mix (4)."""
    booster = _booster(seed, depth, rounds, onehot=onehot)
    forest = compile_forest(booster, TYPES)
    assert forest is not None, "a binary:logistic booster of numeric and categorical splits compiles"
    table = check_rows(forest, TYPES, n=rows, seed=seed + 1)
    margin, contrib = _xgboost(booster, table)
    mine = forest.margin(table)
    assert np.array_equal(mine.astype(np.float32), margin.astype(np.float32))  # bit for bit
    shap = forest.contributions(table)
    assert shap.shape == contrib.shape
    np.testing.assert_allclose(shap, contrib, rtol=0, atol=2e-5)
    np.testing.assert_allclose(shap.sum(axis=1), mine, rtol=0, atol=2e-5)  # they add up to the margin


def _expected(f: Forest, tree: int, x: np.ndarray, known: set[int]) -> float:
    """The tree's value with the features in ``known`` set to ``x`` and the others averaged over the training
    rows by cover (path-dependent TreeSHAP's value function), walking node by node in plain Python."""

    def walk(node: int) -> float:
        if f.left[node] < 0:
            return float(f.value[node])
        j, left, right = int(f.feature[node]), int(f.left[node]), int(f.right[node])
        if j not in known:
            return (walk(left) * f.cover[left] + walk(right) * f.cover[right]) / f.cover[node]
        v = np.float32(x[j])
        if np.isnan(v):
            return walk(left if f.default_left[node] else right)
        if f.cat_start[node] >= 0:
            code, start = int(v), int(f.cat_start[node])
            return walk(right if 0 <= code < f.cat_end[node] - start and f.cats[start + code] else left)
        return walk(left if v < f.threshold[node] else right)

    return walk(int(f.roots[tree]))


def test_the_contributions_are_the_exact_shapley_values() -> None:
    """By their definition: each feature's marginal gain averaged over every subset of the others, weighted
    |S|!(M-|S|-1)!/M! — to 1e-9, where xgboost's own float32 TreeSHAP is off by ~1e-7."""
    booster = _booster(11, 6, 12)
    forest = compile_forest(booster, TYPES)
    assert forest is not None
    table = check_rows(forest, TYPES, n=8, seed=4, leaves=8)
    m = len(TYPES)
    for x, phi in zip(table, forest.contributions(table), strict=True):
        exact = np.zeros(m + 1)
        for t in range(len(forest.roots)):
            for i in range(m):
                others = [j for j in range(m) if j != i]
                for k in range(m):
                    weight = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
                    for subset in itertools.combinations(others, k):
                        with_i = _expected(forest, t, x, {*subset, i})
                        exact[i] += weight * (with_i - _expected(forest, t, x, set(subset)))
            exact[m] += _expected(forest, t, x, set())
        exact[m] += float(forest.base)
        np.testing.assert_allclose(phi, exact, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_a_booster_as_the_trainer_makes_it_compiles(seed: int) -> None:
    """xgboost's own base score (the labels' average, weighted by scale_pos_weight) goes through a float32
    logarithm of the C library: the base margin is found among the float32 values nearest to numpy's logit."""
    booster = _booster(seed, 4, 20, scale_pos_weight=2.0 + seed / 7, base_score=None)
    forest = compile_forest(booster, TYPES)
    assert forest is not None
    table = check_rows(forest, TYPES, n=100, seed=seed)
    margin, _ = _xgboost(booster, table)
    assert np.array_equal(forest.margin(table).astype(np.float32), margin.astype(np.float32))


def test_a_negative_category_code_goes_left_as_in_xgboost() -> None:
    booster = _booster(2, 4, 15)
    forest = compile_forest(booster, TYPES)
    assert forest is not None
    table = check_rows(forest, TYPES, n=60, seed=3)
    table[:, 2] = np.where(np.isnan(table[:, 2]), -0.5, -table[:, 2] - 0.5)  # -0.5, -1.5, …
    margin, contrib = _xgboost(booster, table)
    assert np.array_equal(forest.margin(table).astype(np.float32), margin.astype(np.float32))
    np.testing.assert_allclose(forest.contributions(table), contrib, rtol=0, atol=2e-5)


def test_rows_of_another_width_are_refused() -> None:
    from pymescore.errors import PymescoreError

    forest = compile_forest(_booster(1, 3, 5), TYPES)
    assert forest is not None
    with pytest.raises(PymescoreError, match="expected rows of 5 model columns"):
        forest.margin(np.zeros((2, 4)))


def test_one_row_equals_its_batch_row() -> None:
    booster = _booster(3, 5, 25)
    forest = compile_forest(booster, TYPES)
    assert forest is not None
    table = check_rows(forest, TYPES, n=50, seed=9)
    batch, shap = forest.margin(table), forest.contributions(table)
    for k in (0, 17, 49):
        assert forest.margin(table[k : k + 1])[0] == batch[k]
        assert np.array_equal(forest.contributions(table[k : k + 1])[0], shap[k])


def test_an_unsupported_booster_is_left_to_xgboost(caplog: pytest.LogCaptureFixture) -> None:
    booster = _booster(1, 3, 5, objective="reg:squarederror")
    with caplog.at_level("INFO", logger="pymescore.model._trees"):
        assert compile_forest(booster, TYPES) is None
    assert "objective reg:squarederror" in caplog.text
