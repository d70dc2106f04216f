"""A fitted model's arithmetic as TensorFlow operations, on a float64 batch of model rows (categories as codes,
NaN missing): the tree families by a fixed-depth gather loop over padded arrays (``_forest``), the scorecard and
the logistic regression as the compiled model's vectors (``_compiled``), the network's encoding (``_tf_encode``)
and the network itself, the calibration and the score scale. Each function mirrors its numpy twin operation for
operation, in float64 (the network in float32, as it runs in the service), so that the export gives the bundle's
figures. Used by the SavedModel export (``_tf_export``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pymescore.model._calibration import _EPS
from pymescore.model._config import ScoreScale
from pymescore.model._forest import ZERO, Forest
from pymescore.model._tf import tensorflow
from pymescore.model._tf_encode import Encoder, SequenceEncoder

Tensor = Any


def interp(x: Tensor, xp: np.ndarray, fp: np.ndarray) -> Tensor:
    """``np.interp(x, xp, fp)`` (``xp`` increasing) in the same arithmetic: the ends beyond the range, else
    ``slope * (x - xp[j]) + fp[j]`` with ``xp[j] <= x < xp[j + 1]``."""
    tf = tensorflow()
    if len(xp) == 1:
        return tf.fill(tf.shape(x), tf.constant(float(fp[0]), tf.float64))
    xp_t, fp_t = tf.constant(np.asarray(xp, np.float64)), tf.constant(np.asarray(fp, np.float64))
    slopes = tf.constant(np.diff(np.asarray(fp, np.float64)) / np.diff(np.asarray(xp, np.float64)))
    j = tf.clip_by_value(tf.searchsorted(xp_t, tf.reshape(x, [-1]), side="right") - 1, 0, len(xp) - 2)
    j = tf.reshape(j, tf.shape(x))
    inside = tf.gather(slopes, j) * (x - tf.gather(xp_t, j)) + tf.gather(fp_t, j)
    return tf.where(x < xp[0], fp_t[0], tf.where(x >= xp[-1], fp_t[-1], inside))


def trees(forest: Forest, x: Tensor) -> Tensor:
    """The forest's margin of each row: every tree walked ``depth`` steps at once, then the leaf values added
    tree after tree in the library's precision (XGBoost: float32; the same bits as its own margin)."""
    tf = tensorflow()
    n_trees, n_nodes = forest.feature.shape
    flat = {k: tf.constant(np.ascontiguousarray(getattr(forest, k)).ravel()) for k in
            ("feature", "threshold", "left", "right", "leaf", "value", "nan_left", "zero_default", "default_left",
             "cat_slot")}  # fmt: skip
    cat_left, cat_other = tf.constant(forest.cat_left), tf.constant(forest.cat_other_left)
    width = forest.cat_left.shape[1]
    has_categories = bool((forest.cat_slot >= 0).any())
    offset = tf.constant((np.arange(n_trees, dtype=np.int32) * n_nodes)[None, :])
    node = tf.zeros([tf.shape(x)[0], n_trees], tf.int32)
    for _ in range(forest.depth):
        at = offset + node
        value = tf.gather(x, tf.gather(flat["feature"], at), batch_dims=1)
        missing = tf.math.is_nan(value)
        left = value < tf.gather(flat["threshold"], at)
        zero = tf.gather(flat["zero_default"], at) & (tf.abs(value) <= ZERO)
        left = tf.where(zero, tf.gather(flat["default_left"], at), left)
        if has_categories:
            slot = tf.gather(flat["cat_slot"], at)
            present = tf.where(missing, tf.zeros_like(value), value)
            code = tf.cast(tf.clip_by_value(present, -1.0, float(width)), tf.int32)
            known = (code >= 0) & (code < width)
            safe_slot = tf.maximum(slot, 0)
            by_code = tf.gather_nd(cat_left, tf.stack([safe_slot, tf.clip_by_value(code, 0, width - 1)], axis=-1))
            by_code = tf.where(known, by_code, tf.gather(cat_other, safe_slot))
            left = tf.where(slot >= 0, by_code, left)
        left = tf.where(missing, tf.gather(flat["nan_left"], at), left)
        step = tf.where(left, tf.gather(flat["left"], at), tf.gather(flat["right"], at))
        node = tf.where(tf.gather(flat["leaf"], at), node, step)
    leaves = tf.cast(tf.gather(flat["value"], offset + node), forest.dtype)
    start = tf.fill([tf.shape(x)[0]], tf.constant(forest.base, forest.dtype))
    total = tf.foldl(lambda acc, v: acc + v, tf.transpose(leaves), initializer=start, parallel_iterations=1)
    return tf.cast(total, tf.float64)


def additive(family: Any, x: Tensor) -> Tensor:
    """A compiled scorecard or logistic family's margin (``_compiled._Family``): weight excluded."""
    tf = tensorflow()
    parts = []
    if len(family.bin_cols):
        v = tf.gather(x, family.bin_cols, axis=1)
        idx = tf.reduce_sum(tf.cast(tf.constant(family.bin_splits)[None] <= v[:, :, None], tf.int64), axis=2)
        idx = tf.minimum(idx, family.bin_last[None, :])
        woe = tf.gather(tf.constant(family.bin_woe_flat), idx + family.bin_offset[None, :])
        woe = tf.where(tf.math.is_nan(v), tf.constant(family.bin_missing)[None, :], woe)
        parts.append(tf.constant(family.bin_coef)[None, :] * woe)
    if len(family.line_cols):
        v = tf.gather(x, family.line_cols, axis=1)
        filled = tf.where(tf.math.is_nan(v), tf.constant(family.median)[None, :], v)
        filled = tf.clip_by_value(filled, family.low[None, :], family.high[None, :])
        parts.append((filled - family.mean[None, :]) / family.scale[None, :] * family.coef[None, :])
    if len(family.code_cols):
        v = tf.gather(x, family.code_cols, axis=1)
        sizes = np.array([len(c[1]) - 1 for c in family.codes], dtype=np.float64)[None, :]  # slot 0: missing
        unknown = tf.math.is_nan(v) | (v < 0) | (v >= sizes)
        code = tf.cast(tf.where(unknown, -tf.ones_like(v), v), tf.int64) + 1
        parts.append(tf.gather(tf.constant(family.code_flat), code + family.code_offset[None, :]))
    if not parts:
        return tf.fill([tf.shape(x)[0]], tf.constant(float(family.intercept), tf.float64))
    values = tf.concat(parts, axis=1)
    return family.intercept + tf.reduce_sum(tf.gather(values, family.reorder, axis=1), axis=1)


def encode(encoder: Encoder, x: Tensor) -> tuple[Tensor, Tensor]:
    """The network's (monotone, free) float32 inputs of the rows: ``Encoder.transform`` as operations."""
    tf = tensorflow()
    n = tf.shape(x)[0]

    def mapped(v: dict[str, Any]) -> Tensor:
        column = x[:, v["column"]]
        fill = tf.fill(tf.shape(column), tf.constant(v["fill"], tf.float64))
        return interp(tf.where(tf.math.is_nan(column), fill, column), np.array(v["knots"]),
                      np.array(v["values"]))  # fmt: skip

    mono = [v["direction"] * mapped(v) for v in encoder.mono]
    free = [mapped(v) for v in encoder.free_numbers]
    free += [tf.cast(tf.math.is_nan(x[:, v["column"]]), tf.float64) for v in encoder.numbers if v["flag"]]
    blocks = [tf.stack(free, axis=1)] if free else []
    for c in encoder.categories:
        code = x[:, c["column"]]
        unknown = tf.math.is_nan(code) | (code < 0) | (code >= c["size"])
        slot = tf.cast(tf.where(unknown, tf.zeros_like(code), code + 1.0), tf.int32)
        blocks.append(tf.one_hot(slot, c["size"] + 1, dtype=tf.float64))
    zero = tf.zeros([n, 1], tf.float64)
    mono_t = tf.stack(mono, axis=1) if mono else zero
    free_t = tf.concat(blocks, axis=1) if blocks else zero
    return tf.cast(mono_t, tf.float32), tf.cast(free_t, tf.float32)


def encode_sequences(encoder: SequenceEncoder, seq: Tensor) -> Tensor:
    """``SequenceEncoder.transform`` as operations: rows × months × channels, float32."""
    tf = tensorflow()
    signed = tf.sign(seq) * tf.math.log1p(tf.abs(seq))
    scaled = (signed - np.asarray(encoder.mean)) / np.asarray(encoder.scale)
    out = tf.where(tf.constant(np.asarray(encoder.binary))[None, None, :], seq, scaled)
    return tf.cast(tf.where(tf.math.is_nan(out), tf.zeros_like(out), out), tf.float32)


def calibrate(method: str, a: float, b: float, xs: list[float], ys: list[float], z: Tensor) -> Tensor:
    """``Calibrator.predict``: Platt's logistic, or the isotonic steps clipped to [1e-6, 1 - 1e-6]."""
    tf = tensorflow()
    if method == "platt":
        return 1.0 / (1.0 + tf.exp(-(a * z + b)))
    return tf.clip_by_value(interp(z, np.array(xs), np.array(ys)), _EPS, 1 - _EPS)


def score(p: Tensor, scale: ScoreScale) -> Tensor:
    """``score_from_pd`` then ``np.rint`` (half to even): the integer score."""
    tf = tensorflow()
    q = tf.clip_by_value(p, 1e-12, 1 - 1e-12)
    raw = tf.clip_by_value(scale.offset - scale.factor * tf.math.log(q / (1.0 - q)), scale.low, scale.high)
    return tf.cast(tf.round(raw), tf.int32)
