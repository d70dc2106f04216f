"""Tree ensembles (an XGBoost booster, a LightGBM text model) as padded arrays: what the SavedModel export
evaluates with a fixed-depth gather loop (``_tf_export``), every tree at once.

One rule for both libraries: at an internal node a row goes left when ``x < threshold`` (LightGBM's ``x <=
t`` is ``x < nextafter(t, +inf)`` in doubles; XGBoost compares float32 values, which doubles hold exactly), a
missing value (NaN) goes where ``nan_left`` says, and a LightGBM node whose missing type is *zero* sends a zero
(|x| ≤ 1e-35) its default way too. A categorical node sends a category code ``c`` left when ``cat_left[slot, c]``
(codes beyond the table: ``cat_other_left``). Read from the libraries' own formats:

- XGBoost's JSON model: ``fvalue < split_condition`` goes left, NaN to the default child; a category in the
  node's set goes right, any other (or an invalid one) left; a leaf's value is its ``split_condition``; the
  margin starts from ``-log(1/base_score - 1)`` and adds the trees' leaves one after the other, all in float32.
- LightGBM's text model: decision type bit 0 categorical, bit 1 default left, bits 2-3 the missing type (none:
  NaN compares as 0; zero; NaN); children below 0 are leaves ``~child``; a category in the node's bitset goes
  left, any other (NaN, a negative code) right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

#: LightGBM's kZeroThreshold
ZERO = 1e-35


@dataclass
class Forest:
    """Every tree padded to ``nodes`` nodes; the margin is ``base`` + Σ trees' leaf values, summed tree after
    tree in ``dtype`` as the library does (XGBoost in float32 from its float32 base margin, LightGBM in float64)."""

    feature: np.ndarray  # int32 [trees, nodes]
    threshold: np.ndarray  # float64
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    leaf: np.ndarray  # bool
    value: np.ndarray  # float64 (leaves)
    nan_left: np.ndarray  # bool
    zero_default: np.ndarray  # bool: a zero takes the default way (LightGBM, missing type zero)
    default_left: np.ndarray  # bool
    cat_slot: np.ndarray  # int32, -1: a numeric node
    cat_left: np.ndarray  # bool [slots, categories]
    cat_other_left: np.ndarray  # bool [slots]
    depth: int
    base: float
    dtype: str = "float64"


class _Builder:
    def __init__(self) -> None:
        self.trees: list[dict[str, list[Any]]] = []
        self.cat_sets: list[tuple[set[int], bool, bool]] = []  # (categories, in-set goes left, other goes left)

    def tree(self) -> dict[str, list[Any]]:
        keys = ("feature", "threshold", "left", "right", "leaf", "value", "nan_left", "zero_default",
                "default_left", "cat_slot")  # fmt: skip
        t: dict[str, list[Any]] = {k: [] for k in keys}
        self.trees.append(t)
        return t

    def forest(self, base: float, dtype: str = "float64") -> Forest:
        nodes = max((len(t["leaf"]) for t in self.trees), default=1)
        fills = {"feature": 0, "threshold": 0.0, "left": 0, "right": 0, "leaf": True, "value": 0.0, "nan_left": True,
                 "zero_default": False, "default_left": True, "cat_slot": -1}  # fmt: skip
        dtypes = {"feature": np.int32, "threshold": np.float64, "left": np.int32, "right": np.int32, "leaf": bool,
                  "value": np.float64, "nan_left": bool, "zero_default": bool, "default_left": bool,
                  "cat_slot": np.int32}  # fmt: skip
        arrays = {}
        for key, fill in fills.items():
            out = np.full((max(len(self.trees), 1), nodes), fill, dtype=dtypes[key])
            for i, t in enumerate(self.trees):
                out[i, : len(t[key])] = t[key]
            arrays[key] = out
        width = max((max(s) + 1 for s, _, _ in self.cat_sets if s), default=1)
        cat_left = np.zeros((max(len(self.cat_sets), 1), width), dtype=bool)
        other = np.zeros(max(len(self.cat_sets), 1), dtype=bool)
        for k, (cats, in_left, other_left) in enumerate(self.cat_sets):
            cat_left[k, :] = not in_left
            cat_left[k, sorted(cats)] = in_left
            other[k] = other_left
        depth = max((_depth(t["left"], t["right"], t["leaf"]) for t in self.trees), default=0)
        return Forest(**arrays, cat_left=cat_left, cat_other_left=other, depth=depth, base=base, dtype=dtype)


def _depth(left: list[int], right: list[int], leaf: list[bool]) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if not leaf[node]:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return deepest


def from_xgboost(raw_json: bytes) -> Forest:
    """An XGBoost booster's trees from its JSON model (``booster.save_raw("json")``)."""
    model = json.loads(raw_json)
    learner = model["learner"]
    # written as the shortest text of a float32; the margin's base is XGBoost's own float32 arithmetic
    base_score = np.float32(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    one = np.float32(1.0)
    base = -np.log(one / base_score - one) if learner["objective"]["name"] == "binary:logistic" else base_score
    b = _Builder()
    for tree in learner["gradient_booster"]["model"]["trees"]:
        t = b.tree()
        left, right = tree["left_children"], tree["right_children"]
        cats = {
            node: set(tree["categories"][s : s + size])
            for node, s, size in zip(
                tree["categories_nodes"], tree["categories_segments"], tree["categories_sizes"], strict=True
            )
        }
        for nid in range(len(left)):  # fmt: skip
            is_leaf = left[nid] == -1
            condition = float(np.float32(tree["split_conditions"][nid]))
            t["feature"].append(int(tree["split_indices"][nid]))
            t["threshold"].append(condition)
            t["left"].append(max(left[nid], 0))
            t["right"].append(max(right[nid], 0))
            t["leaf"].append(is_leaf)
            t["value"].append(condition if is_leaf else 0.0)
            t["nan_left"].append(bool(tree["default_left"][nid]))
            t["zero_default"].append(False)
            t["default_left"].append(bool(tree["default_left"][nid]))
            if not is_leaf and tree["split_type"][nid] == 1:  # categories in the set go right, the rest left
                t["cat_slot"].append(len(b.cat_sets))
                b.cat_sets.append(({int(c) for c in cats.get(nid, set())}, False, True))
            else:
                t["cat_slot"].append(-1)
    return b.forest(float(base), "float32")


def from_lightgbm(text: str) -> Forest:
    """A LightGBM booster's trees from its text model (``model_to_string``; thresholds and leaves exact)."""
    b = _Builder()
    for block in text.split("\nTree=")[1:]:
        fields = dict(line.split("=", 1) for line in block.split("\n\n")[0].splitlines()[1:] if "=" in line)
        leaves = [float(v) for v in fields["leaf_value"].split()]
        t = b.tree()
        n_internal = int(fields["num_leaves"]) - 1
        if n_internal == 0:  # a single leaf
            for key, value in (("feature", 0), ("threshold", 0.0), ("left", 0), ("right", 0), ("leaf", True),
                               ("value", leaves[0]), ("nan_left", True), ("zero_default", False),
                               ("default_left", True), ("cat_slot", -1)):  # fmt: skip
                t[key].append(value)
            continue
        split = [int(v) for v in fields["split_feature"].split()]
        threshold = [float(v) for v in fields["threshold"].split()]
        decision = [int(v) for v in fields["decision_type"].split()]
        lefts = [int(v) for v in fields["left_child"].split()]
        rights = [int(v) for v in fields["right_child"].split()]
        boundaries = [int(v) for v in fields.get("cat_boundaries", "").split()]
        bitsets = [int(v) for v in fields.get("cat_threshold", "").split()]

        def node(child: int, n_internal: int = n_internal) -> int:  # internal nodes first, then the leaves
            return child if child >= 0 else n_internal + ~child

        for i in range(n_internal):
            categorical, default_left, missing = decision[i] & 1, bool(decision[i] & 2), (decision[i] >> 2) & 3
            t["feature"].append(split[i])
            t["left"].append(node(lefts[i]))
            t["right"].append(node(rights[i]))
            t["leaf"].append(False)
            t["value"].append(0.0)
            t["default_left"].append(default_left)
            if categorical:
                k = int(threshold[i])
                words = bitsets[boundaries[k] : boundaries[k + 1]]
                members = {32 * w + bit for w, word in enumerate(words) for bit in range(32) if word >> bit & 1}
                t["threshold"].append(0.0)
                t["nan_left"].append(False)
                t["zero_default"].append(False)
                t["cat_slot"].append(len(b.cat_sets))
                b.cat_sets.append((members, True, False))
                continue
            t["threshold"].append(float(np.nextafter(threshold[i], np.inf)))
            # missing type none: NaN is read as 0.0; zero: NaN and zero take the default way; NaN: NaN does
            t["nan_left"].append(threshold[i] >= 0.0 if missing == 0 else default_left)
            t["zero_default"].append(missing == 1)
            t["cat_slot"].append(-1)
        for value in leaves:
            for key, v in (("feature", 0), ("threshold", 0.0), ("left", 0), ("right", 0), ("leaf", True),
                           ("value", value), ("nan_left", True), ("zero_default", False), ("default_left", True),
                           ("cat_slot", -1)):  # fmt: skip
                t[key].append(v)
    return b.forest(0.0)
