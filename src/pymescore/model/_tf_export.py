"""``pymescore export --format savedmodel``: a bundle as a TensorFlow SavedModel that TensorFlow Serving serves.

The contract (what checks outside the project call)::

    OUT/saved_model.pb, OUT/variables/   signature ``serving_default``: one float32 tensor ``inputs`` of shape
                                         [None, n_features] → ``pd`` (float64) and ``score`` (int32)
    OUT/features.json                    {"features": [{"name": …, "categories": [...] or null}, …]} in input order

An input row is the model's row (``CompiledModel.matrix``): one value per model column in that order, NaN for a
missing value, a category as its index in ``categories`` (another index, or NaN, is a missing category); with the
sequence model, then its monthly histories month by month (``FittedModel.inputs``). The graph holds every family
of the bundle's blend — XGBoost and LightGBM trees as padded arrays walked by a fixed-depth gather loop, the
scorecard and the logistic regression as their compiled vectors, the TensorFlow networks after their input
encodings — then the blend, the calibration and the score scale (``_tf_graph``). Inputs
are float32 by contract: the export gives the bundle's PD (to 1e-6) on the same float32 values; a number that
float32 cannot hold exactly is rounded to float32 first (as the XGBoost family does in the bundle anyway).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from pymescore.errors import PymescoreError
from pymescore.model._compiled import CompiledModel
from pymescore.model._fitted import FittedModel
from pymescore.model._forest import Forest, from_lightgbm, from_xgboost
from pymescore.model._lgbm import to_text
from pymescore.model._tf import tensorflow
from pymescore.model._tf_graph import additive, calibrate, encode, encode_sequences, score, trees

SIGNATURE = "serving_default"
FEATURES_FILE = "features.json"


class ExportDestinationError(PymescoreError):
    code = "EXPORT_DESTINATION"


def _module(model: FittedModel) -> Any:
    """A ``tf.Module`` whose ``serve`` computes ``pd`` and ``score`` from the model rows."""
    tf = tensorflow()
    compiled = CompiledModel(model)
    n = len(model.inputs())
    forests: list[tuple[float, Forest]] = []
    if compiled.booster is not None:
        forests.append((model.weight, from_xgboost(bytes(compiled.booster.save_raw("json")))))
    if compiled.lightgbm is not None:
        forests.append((model.lightgbm_weight, from_lightgbm(to_text(compiled.lightgbm))))
    families = [(f.weight, f) for f in compiled._families]
    networks = model._networks()
    cal = model.calibrator
    columns, months, channels = len(model.preprocessor.columns), model.months, len(model.channels)

    class Export(tf.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__(name="pymescore")
            self.networks: Any = [net.model for _, net in networks]  # their variables saved with the module

        @tf.function(input_signature=[tf.TensorSpec([None, n], tf.float32, name="inputs")], autograph=False)  # type: ignore[untyped-decorator]
        def serve(self, inputs: Any) -> dict[str, Any]:
            rows = tf.cast(inputs, tf.float64)
            x = rows[:, :columns]
            z = tf.zeros([tf.shape(x)[0]], tf.float64)
            for weight, forest in forests:  # the order of CompiledModel.predict: trees, additive, network
                z += weight * trees(forest, x)
            for weight, family in families:
                z += weight * additive(family, x)
            for (weight, net), keras_model in zip(networks, self.networks, strict=True):
                parts = list(encode(net.encoder, x))
                if net.sequence is not None:  # the histories, month by month after the model's columns
                    history = tf.reshape(rows[:, columns:], [-1, months, channels])
                    parts.append(encode_sequences(net.sequence, history))
                margin = keras_model(parts, training=False)[:, 0]
                z += weight * tf.cast(margin, tf.float64)
            p = calibrate(cal.method, cal.a_, cal.b_, cal.x_, cal.y_, z)
            return {"pd": p, "score": score(p, model.scale)}

    return Export()


def export_savedmodel(model: FittedModel, out: Path) -> dict[str, Any]:
    """Write the SavedModel and ``features.json`` to ``out`` (absent, empty, or an earlier export: replaced),
    atomically; returns what was written."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / FEATURES_FILE).exists())):
        raise ExportDestinationError(f"{out}: expected an absent or empty folder, or an earlier export to replace; "
                                     "got other files: choose another --out")  # fmt: skip
    tf = tensorflow()
    module = _module(model)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}")
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        listed = model.inputs()
        (tmp / FEATURES_FILE).write_text(json.dumps({"features": listed}, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")  # fmt: skip
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    families = [name for name, w in model.weights.items() if w > 0]
    return {"out": str(out), "signature": SIGNATURE, "n_features": len(listed), "families": families}
