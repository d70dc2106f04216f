"""An XGBoost booster's trees as flat arrays, for the compiled margin and TreeSHAP loops of
:mod:`pymescore.model._tree_kernel`, read from the booster's own JSON model (nothing pickled).

A forest is only used once it reproduces its booster: at compile time a fixed set of check rows (every split
value, just below and above it, missing values, every category code) is scored both ways; the margins must be
equal bit for bit and the contributions to 1e-5. A booster the loops cannot reproduce (another objective,
vector leaves, a kind of split they do not know) is scored by the library itself (``compile_forest`` gives
None and says why in the log).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
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

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Each row's margin, as the booster computes it (float32), as float64."""
        from pymescore.model._tree_kernel import forest_margin

        X = np.ascontiguousarray(X, dtype=np.float64)
        out = forest_margin(X, self.roots, self.left, self.right, self.feature, self.threshold, self.default_left,
                            self.cat_start, self.cat_end, self.cats, self.value, self.base)  # fmt: skip
        return np.asarray(out, dtype=np.float64)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Rows × (features + 1): TreeSHAP contributions to the margin, the bias last."""
        from pymescore.model._tree_kernel import forest_contributions

        X = np.ascontiguousarray(X, dtype=np.float64)
        out = forest_contributions(X, self.roots, self.depths, self.left, self.right, self.feature, self.threshold,
                                   self.default_left, self.cat_start, self.cat_end, self.cats, self._values,
                                   self.cover, self.expected, float(self.base))  # fmt: skip
        return np.asarray(out)

    @cached_property
    def _values(self) -> np.ndarray:  # the leaf values as the TreeSHAP loop reads them
        return self.value.astype(np.float64)


def compile_forest(booster: xgb.Booster, types: list[str]) -> Forest | None:
    """The booster's trees as a :class:`Forest` checked against the booster, or None (with a log line) when
    the loops cannot reproduce it. ``types``: each column's XGBoost type (``q`` or ``c``)."""
    try:
        forest = _read(booster)
    except _UnsupportedError as why:
        log.info("trees scored by xgboost itself: %s", why)
        return None
    X = check_rows(forest, len(types), types)
    if not _agrees(forest, booster, X, types):
        log.warning("trees scored by xgboost itself: the compiled trees do not reproduce the booster")
        return None
    return forest


class _UnsupportedError(PymescoreError):
    """A booster the compiled loops do not reproduce (internal: compile_forest returns None)."""


def _read(booster: xgb.Booster) -> Forest:
    config = json.loads(booster.save_config())
    learner = config["learner"]
    objective = learner["objective"]["name"]
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1 or int(params.get("num_class", "0")) > 1:
        raise _UnsupportedError("more than one output")
    base_score = float(str(params["base_score"]).strip("[]"))
    if objective in _LOGIT:
        base = np.float32(-math.log(1.0 / base_score - 1.0))
    elif objective in _RAW:
        base = np.float32(base_score)
    else:
        raise _UnsupportedError(f"objective {objective}")
    model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
    if model.get("name") != "gbtree":
        raise _UnsupportedError(f"booster {model.get('name')}")
    trees = model["model"]["trees"]
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
    return Forest(
        np.asarray(roots, dtype=np.int64), np.asarray(depths, dtype=np.int64), glued["left"], glued["right"],
        glued["feature"], glued["threshold"].astype(np.float32), glued["default_left"], glued["cat_start"],
        glued["cat_end"], np.asarray(cats, dtype=bool), glued["value"].astype(np.float32), glued["cover"],
        np.asarray(expected, dtype=np.float64), base,
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


def check_rows(forest: Forest, n_features: int, types: list[str], n: int = 256, seed: int = 0) -> np.ndarray:
    """Rows that reach every side of every split: for each column, values drawn from its split values, just
    below and just above them, missing ones and, for a category, every code up to past the largest seen."""
    rng = np.random.default_rng(seed)
    inner = forest.left >= 0
    X = np.full((n, n_features), np.nan)
    for j in range(n_features):
        at = inner & (forest.feature == j)
        if types[j] == "c":
            largest = int((forest.cat_end - forest.cat_start).max(initial=0))
            pool = np.arange(largest + 3, dtype=np.float64)
        else:
            t = forest.threshold[at & (forest.cat_start < 0)]
            pool = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), [0.0]]).astype(np.float64)
        values = rng.choice(pool, n)
        X[:, j] = np.where(rng.random(n) < 0.15, np.nan, values)
    return X


def _agrees(forest: Forest, booster: xgb.Booster, X: np.ndarray, types: list[str]) -> bool:
    margin = booster.inplace_predict(X, predict_type="margin", missing=np.nan, validate_features=False)
    dm = xgb.DMatrix(X, feature_types=types, enable_categorical=True, missing=np.nan)
    contrib = booster.predict(dm, pred_contribs=True, validate_features=False)
    same = np.array_equal(forest.margin(X).astype(np.float32), np.asarray(margin, dtype=np.float32))
    close = np.allclose(forest.contributions(X), contrib, rtol=0, atol=1e-5)
    return bool(same and close)
