"""An XGBoost booster's trees as flat arrays, for the compiled margin and TreeSHAP loops of
:mod:`pymescore.model._tree_kernel`, read from the booster's own JSON model (nothing pickled).

A forest is only used once it reproduces its booster. When it is compiled, check rows are scored both ways:
256 drawn column by column (split values and their neighbours, missing values, every category code and a negative
one) and one row per leaf (up to 4,096), following the leaf's path. The margins must be equal bit for bit (the
base margin is looked for among the float32 values nearest to its logit: xgboost takes that logarithm in the C
library's float32), and TreeSHAP to 1e-5 on 128 of the rows. A booster the loops cannot reproduce (another
objective, several outputs, vector leaves, dart) is scored by xgboost itself: ``compile_forest`` gives None and
says why in the log.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import xgboost as xgb

from pymescore.errors import PymescoreError

log = logging.getLogger(__name__)

#: objectives whose margin starts at logit(base_score), and those whose base_score is the margin itself
_LOGIT = {"binary:logistic", "reg:logistic"}
_RAW = {"binary:logitraw"}


@dataclass(frozen=True)
class Forest:
    """Every tree's nodes in one set of arrays (a node's children are global indices, -1 at a leaf)."""

    roots: np.ndarray
    depths: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray  # float32 split values
    default_left: np.ndarray
    cat_start: np.ndarray  # a categorical node's codes going right: cats[cat_start:cat_end] (a bitmap by code);
    cat_end: np.ndarray  # -1 for a numeric split
    cats: np.ndarray
    value: np.ndarray  # float32 leaf values (0 at inner nodes)
    cover: np.ndarray  # each node's sum of hessians (float64)
    expected: np.ndarray  # each tree's expected value, by cover
    base: np.float32
    n_features: int  # the columns the booster reads

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Each row's margin, as the booster computes it (float32), as float64."""
        from pymescore.model._tree_kernel import forest_margin

        X = self._checked(X)
        out = forest_margin(X, self.roots, self.left, self.right, self.feature, self.threshold, self.default_left,
                            self.cat_start, self.cat_end, self.cats, self.value, self.base)  # fmt: skip
        return np.asarray(out, dtype=np.float64)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Rows × (features + 1): TreeSHAP contributions to the margin, the bias last."""
        from pymescore.model._tree_kernel import forest_contributions

        X = self._checked(X)
        out = forest_contributions(X, self.roots, self.depths, self.left, self.right, self.feature, self.threshold,
                                   self.default_left, self.cat_start, self.cat_end, self.cats, self._values,
                                   self.cover, self.expected, float(self.base))  # fmt: skip
        return np.asarray(out)

    @cached_property
    def _values(self) -> np.ndarray:  # the leaf values as the TreeSHAP loop reads them
        return self.value.astype(np.float64)

    def _checked(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise PymescoreError(f"expected rows of {self.n_features} model columns, got shape {X.shape}")
        return np.ascontiguousarray(X, dtype=np.float64)


def compile_forest(booster: xgb.Booster, types: list[str]) -> Forest | None:
    """The booster's trees as a :class:`Forest` checked against the booster, or None (with a log line) when
    the loops cannot reproduce it. ``types``: each column's XGBoost type (``q`` or ``c``)."""
    try:
        forest = _read(booster)
        if forest.n_features != len(types):
            raise _UnsupportedError(f"the booster reads {forest.n_features} columns, the model {len(types)}")
    except _UnsupportedError as why:
        log.info("trees scored by xgboost itself: %s", why)
        return None
    X = check_rows(forest, types)
    # TreeSHAP (exact by construction: tests/test_trees.py) is held to xgboost's on 64 drawn and 64 leaf rows
    some = np.r_[0:64, 256 : len(X) : max(1, (len(X) - 256) // 64)]
    margin = np.asarray(booster.inplace_predict(X, predict_type="margin", missing=np.nan, validate_features=False),
                        dtype=np.float32)  # fmt: skip
    # the base margin as xgboost rounds it: its logit comes from the C library's float32 logarithm, which can end
    # an ulp or a few away from numpy's; the nearest float32 values are tried, the booster's margins decide
    for base in _nearest(forest.base, 8):
        candidate = replace(forest, base=base)
        if np.array_equal(candidate.margin(X).astype(np.float32), margin):
            dm = xgb.DMatrix(X[some], feature_types=types, enable_categorical=True, missing=np.nan)
            contrib = booster.predict(dm, pred_contribs=True, validate_features=False)
            if np.allclose(candidate.contributions(X[some]), contrib, rtol=0, atol=1e-5):
                return candidate
            break
    log.warning("trees scored by xgboost itself: the compiled trees do not reproduce the booster")
    return None


def _nearest(value: np.float32, steps: int) -> list[np.float32]:
    """``value``, then the float32 values 1, 2, … ``steps`` ulps away on either side, nearest first."""
    out, up, down = [np.float32(value)], np.float32(value), np.float32(value)
    for _ in range(steps):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        out += [up, down]
    return out


class _UnsupportedError(PymescoreError):
    """A booster the compiled loops do not reproduce (internal: compile_forest returns None)."""


def _read(booster: xgb.Booster) -> Forest:
    config = json.loads(booster.save_config())
    learner = config["learner"]
    objective = learner["objective"]["name"]
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1 or int(params.get("num_class", "0")) > 1:
        raise _UnsupportedError("more than one output")
    base_score = np.float32(str(params["base_score"]).strip("[]"))  # xgboost writes the float32 exactly
    if objective in _LOGIT:  # xgboost's logit, step by step in float32 (the logarithm's last ulp: see compile_forest)
        odds = np.float32(np.float32(1.0) / base_score) - np.float32(1.0)
        base = np.float32(-math.log(float(odds)))
    elif objective in _RAW:
        base = base_score
    else:
        raise _UnsupportedError(f"objective {objective}")
    model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
    if model.get("name") != "gbtree":
        raise _UnsupportedError(f"booster {model.get('name')}")
    trees = model["model"]["trees"]
    n_features = int(params.get("num_feature", "0"))
    roots, depths = [], []
    columns: dict[str, list[Any]] = {k: [] for k in ("left", "right", "feature", "threshold", "default_left",
                                                      "cat_start", "cat_end", "value", "cover")}  # fmt: skip
    cats: list[bool] = []
    expected = []
    offset = 0
    for tree in trees:
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise _UnsupportedError("vector leaves")
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        n = len(left)
        leaf = left < 0
        start, end = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        kinds = np.asarray(tree["split_type"], dtype=np.int64)
        for k, node in enumerate(tree["categories_nodes"]):
            a = tree["categories_segments"][k]
            codes = [int(c) for c in tree["categories"][a : a + tree["categories_sizes"][k]]]
            bitmap = [False] * (max(codes, default=-1) + 1)
            for c in codes:
                bitmap[c] = True
            start[node], end[node] = len(cats), len(cats) + len(bitmap)
            cats.extend(bitmap)
        if ((kinds == 1) & ~leaf & (start < 0)).any():
            raise _UnsupportedError("a categorical split without its categories")
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32)
        cover = np.asarray(tree["sum_hessian"], dtype=np.float32).astype(np.float64)
        columns["left"].append(np.where(leaf, -1, left + offset))
        columns["right"].append(np.where(leaf, -1, right + offset))
        columns["feature"].append(np.asarray(tree["split_indices"], dtype=np.int64))
        columns["threshold"].append(np.where(leaf | (kinds == 1), np.float32(0), conditions))
        columns["default_left"].append(np.asarray(tree["default_left"], dtype=bool))
        columns["cat_start"].append(np.where(start >= 0, start, -1))
        columns["cat_end"].append(end)
        columns["value"].append(np.where(leaf, conditions, np.float32(0)))
        columns["cover"].append(cover)
        mean, depth = _expected(left, right, conditions, cover, 0)
        expected.append(mean)
        roots.append(offset)
        depths.append(depth)
        offset += n
    if not trees:
        raise _UnsupportedError("no tree")
    glued = {k: np.concatenate(v) for k, v in columns.items()}
    if int(glued["feature"][glued["left"] >= 0].max(initial=-1)) >= n_features:
        raise _UnsupportedError("a split on a column beyond the booster's")
    return Forest(
        np.asarray(roots, dtype=np.int64), np.asarray(depths, dtype=np.int64), glued["left"], glued["right"],
        glued["feature"], glued["threshold"].astype(np.float32), glued["default_left"], glued["cat_start"],
        glued["cat_end"], np.asarray(cats, dtype=bool), glued["value"].astype(np.float32), glued["cover"],
        np.asarray(expected, dtype=np.float64), base, n_features,
    )  # fmt: skip


def _expected(
    left: np.ndarray, right: np.ndarray, value: np.ndarray, cover: np.ndarray, node: int
) -> tuple[float, int]:
    """A subtree's expected value (its leaves' values weighted by cover) and its depth."""
    if left[node] < 0:
        return float(value[node]), 0
    a, da = _expected(left, right, value, cover, int(left[node]))
    b, db = _expected(left, right, value, cover, int(right[node]))
    return (a * cover[left[node]] + b * cover[right[node]]) / cover[node], 1 + max(da, db)


def check_rows(forest: Forest, types: list[str], n: int = 256, seed: int = 0, leaves: int = 4096) -> np.ndarray:
    """Rows to hold the walks against the booster with: ``n`` drawn column by column (split values, just below and
    above them, missing, every category code up to past the largest, a negative one), then one row per leaf
    (``leaves`` at most, drawn evenly), each following its leaf's path by values (and, from each root, its default
    way with that column missing)."""
    rng = np.random.default_rng(seed)
    inner = forest.left >= 0
    width = int((forest.cat_end - forest.cat_start).max(initial=0))
    X = np.full((n, forest.n_features), np.nan)
    for j in range(forest.n_features):
        if types[j] == "c":
            pool = np.arange(-1, width + 3, dtype=np.float64)
        else:
            t = forest.threshold[inner & (forest.feature == j) & (forest.cat_start < 0)].astype(np.float64)
            pool = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), [0.0]])
        X[:, j] = np.where(rng.random(n) < 0.15, np.nan, rng.choice(pool, n))
    paths = [row for root in forest.roots for row in _leaf_rows(forest, int(root), width)]
    if len(paths) > leaves:
        paths = [paths[k] for k in np.linspace(0, len(paths) - 1, leaves).astype(int)]
    return np.vstack([X, np.asarray(paths, dtype=np.float64).reshape(-1, forest.n_features)])


def _leaf_rows(forest: Forest, root: int, width: int) -> list[np.ndarray]:
    """One row per leaf of the tree at ``root`` that a row can reach by values (and the root's default way): the
    path's numeric bounds and category sets met at once; a column the path does not read stays missing."""
    out: list[np.ndarray] = []
    # a path's state: per column, ("q", low, high) as float32 bounds [low, high), ("c", allowed codes) or ("nan",)
    stack: list[tuple[int, dict[int, tuple[Any, ...]]]] = [(root, {})]
    while stack:
        node, state = stack.pop()
        if forest.left[node] < 0:
            row = np.full(forest.n_features, np.nan)
            for j, kind in state.items():
                if kind[0] == "q":  # [low, high) with one bound at least finite: low, else just below high
                    row[j] = kind[1] if np.isfinite(kind[1]) else np.nextafter(kind[2], np.float32(-np.inf))
                elif kind[0] == "c":
                    row[j] = min(kind[1])
            out.append(row)
            continue
        j = int(forest.feature[node])
        seen = state.get(j)
        left, right = int(forest.left[node]), int(forest.right[node])
        if seen is not None and seen[0] == "nan":  # the column is missing on this path: the default way
            stack.append((left if forest.default_left[node] else right, state))
            continue
        if seen is None and not state:  # a root's default way (the drawn rows cover missing values further down)
            stack.append((left if forest.default_left[node] else right, {j: ("nan",)}))
        categorical = forest.cat_start[node] >= 0
        if seen is not None and seen[0] != ("c" if categorical else "q"):
            continue  # a column split both ways (not made by xgboost): no row for this path
        if categorical:
            start, end = int(forest.cat_start[node]), int(forest.cat_end[node])
            codes = set(seen[1]) if seen is not None else set(range(width + 1))
            inside = {c for c in codes if c < end - start and forest.cats[start + c]}
            for child, allowed in ((right, inside), (left, codes - inside)):
                if allowed:
                    stack.append((child, {**state, j: ("c", frozenset(allowed))}))
            continue
        t = np.float32(forest.threshold[node])
        low, high = (seen[1], seen[2]) if seen is not None else (np.float32(-np.inf), np.float32(np.inf))
        if low < min(high, t):  # left: value < t
            stack.append((left, {**state, j: ("q", low, min(high, t))}))
        if max(low, t) < high:  # right: value >= t
            stack.append((right, {**state, j: ("q", max(low, t), high)}))
    return out
