"""The ``tf_mlp`` family: a small Keras network on the preprocessed model matrix (``_tf_encode``: quantile-mapped
numbers, missing flags, one-hot categories), its output a margin (log-odds) like every family's.

Two paths add up to the margin: a *monotone* path that reads the numbers with a registry direction (multiplied
by it) through non-negative weights and increasing activations (tanh) after a first layer that also reads the
free inputs, so the margin can never fall as such a number rises (more days past due never raise the score),
and a *free* path (SiLU) over the other inputs. Fitted with Adam on batches in a seeded order, stopping on a
held-out 10% of the training rows (whole firms when grouped), the best epoch's weights kept; deterministic
under a seed (``_tf``: op determinism, fixed threads).

Reasons are Integrated Gradients against the training reference (the mean encoded training row), summed per
model column; the reference's margin is the bias. Stored as a ``.keras`` file (architecture JSON + weights,
loaded with ``safe_mode=True``: no code runs) beside the encoder's JSON; never pickled.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pymescore.errors import PymescoreError
from pymescore.model._tf import Integrator, keras, tensorflow
from pymescore.model._tf_encode import Encoder
from pymescore.model._xgb import stopping_split

log = logging.getLogger(__name__)

#: the network's size and its training: small enough for 2 CPU cores (10-15 s on 28,000 rows); an L2 penalty of 1e-3
#: (1e-5: test AUC 0.779, 1e-3: 0.795 on a 12k-firm simulated population, docs/model-families.md)
HIDDEN = (32, 16)
EPOCHS = 40
PATIENCE = 6
BATCH = 256
LEARNING_RATE = 2e-3
L2 = 1e-3
#: Integrated Gradients' quadrature points: the first that keeps the completeness error small (see ``fit``)
IG_STEPS = (16, 32, 64, 128)
#: the completeness error (log-odds) the steps are chosen for: a tenth of a point at 28.9 points per unit
IG_TOLERANCE = 0.0035


def build(widths: tuple[int, int], prior: float, seed: int) -> Any:
    """The network (Keras functional): inputs ``mono`` and ``free``, output the margin."""
    k = keras()
    k.utils.set_random_seed(seed)
    layers, nonneg = k.layers, k.constraints.NonNeg

    def l2() -> Any:  # one per layer: a shared one is written with its object id (the file would change per run)
        return k.regularizers.L2(L2)

    mono = k.Input((widths[0],), name="mono")
    free = k.Input((widths[1],), name="free")
    first = layers.Add(name="mono_in")([
        layers.Dense(HIDDEN[0], use_bias=False, kernel_constraint=nonneg(), kernel_regularizer=l2(),
                     name="mono_dense_0")(mono),
        layers.Dense(HIDDEN[0], kernel_regularizer=l2(), name="mono_free_0")(free),
    ])  # fmt: skip
    h = layers.Activation("tanh", name="mono_act_0")(first)
    for i, width in enumerate(HIDDEN[1:], start=1):
        h = layers.Dense(width, activation="tanh", kernel_constraint=nonneg(), kernel_regularizer=l2(),
                         name=f"mono_dense_{i}")(h)  # fmt: skip
    mono_out = layers.Dense(1, kernel_constraint=nonneg(), name="mono_out")(h)
    g = free
    for i, width in enumerate(HIDDEN):
        g = layers.Dense(width, activation="silu", kernel_regularizer=l2(), name=f"free_dense_{i}")(g)
    free_out = layers.Dense(1, name="free_out", bias_initializer=k.initializers.Constant(prior))(g)
    margin = layers.Add(name="margin")([mono_out, free_out])
    return k.Model(inputs=[mono, free], outputs=margin, name="tf_mlp")


@dataclass
class TfMlp:
    """A fitted network: its encoder, the Keras model, the reference row and the quadrature it explains with."""

    encoder: Encoder
    model: Any
    reference: tuple[np.ndarray, np.ndarray]
    ig_steps: int = IG_STEPS[0]
    info: dict[str, Any] = field(default_factory=dict)
    _integrator: Integrator | None = field(default=None, repr=False)

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        n_categories: list[int | None],
        monotone: list[int],
        seed: int,
        groups: np.ndarray | None = None,
        threads: int = 1,
        explain: bool = True,
    ) -> TfMlp:
        """Fit on the model matrix ``X`` (categories as codes, NaN missing); with ``explain``, choose the
        quadrature that explains it (an out-of-fold network only gives margins)."""
        tf = tensorflow(threads=threads)
        t0 = time.perf_counter()
        encoder = Encoder.fit(X, n_categories, monotone)
        xm, xf = encoder.transform(X)
        y = np.asarray(y, dtype=np.int64)
        fit_idx, stop_idx = stopping_split(y, groups, seed)
        p = float(np.clip(y[fit_idx].mean(), 1e-4, 1 - 1e-4))
        model = build(encoder.widths(), float(np.log(p / (1 - p))), seed)
        k = keras()
        tf.get_logger().setLevel("ERROR")  # a traced function per fit: TensorFlow's retracing notes are expected
        optimizer = k.optimizers.Adam(LEARNING_RATE)
        loss_fn = k.losses.BinaryCrossentropy(from_logits=True)
        variables = model.trainable_variables
        optimizer.build(variables)  # its slots made now: the step is traced once
        spec = [tf.TensorSpec([None, w], tf.float32) for w in (*encoder.widths(), 1)]

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def step(bm: Any, bf: Any, by: Any) -> Any:
            with tf.GradientTape() as tape:
                out = model([bm, bf], training=True)
                loss = loss_fn(by, out) + tf.add_n(model.losses)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def held_out_loss(bm: Any, bf: Any, by: Any) -> Any:
            return loss_fn(by, model([bm, bf], training=False))

        yf = y.astype(np.float32).reshape(-1, 1)
        sm, sf, sy = xm[stop_idx], xf[stop_idx], yf[stop_idx]
        rng = np.random.default_rng(seed)
        best, best_weights, since, epochs = np.inf, model.get_weights(), 0, 0
        for epoch in range(EPOCHS):
            order = fit_idx[rng.permutation(len(fit_idx))]
            for i in range(0, len(order), BATCH):
                batch = order[i : i + BATCH]
                step(xm[batch], xf[batch], yf[batch])
            epochs = epoch + 1
            current = float(held_out_loss(sm, sf, sy)) if len(stop_idx) else -float(epoch)
            if current < best - 1e-5:
                best, best_weights, since = current, model.get_weights(), 0
            else:
                since += 1
                if since >= PATIENCE:
                    break
        model.set_weights(best_weights)
        reference = (xm.mean(axis=0), xf.mean(axis=0))
        net = cls(encoder, model, reference)
        net.info = {"epochs": epochs, "held_out_logloss": None if not np.isfinite(best) else round(best, 5),
                    "rows": len(y), "seconds": round(time.perf_counter() - t0, 2)}  # fmt: skip
        if explain:
            net.choose_steps(X[np.random.default_rng(seed + 1).permutation(len(X))[:1000]])
        return net

    def choose_steps(self, X: np.ndarray) -> None:
        """The fewest quadrature points in :data:`IG_STEPS` whose completeness error on the rows ``X`` stays
        under :data:`IG_TOLERANCE` in log-odds (the last when none does); recorded in ``info``."""
        xm, xf = self.encoder.transform(X)
        target = self._ig().margin(xm, xf) - self._ig().bias
        for steps in IG_STEPS:
            self.ig_steps, self._integrator = steps, None
            am, af = self._ig().attributions(xm, xf)
            error = np.abs(am.sum(axis=1) + af.sum(axis=1) - target)
            self.info["completeness_logodds"] = {"steps": steps, "max": float(error.max(initial=0.0)),
                                                 "mean": float(error.mean()) if len(error) else 0.0,
                                                 "rows": len(error)}  # fmt: skip
            if error.max(initial=0.0) < IG_TOLERANCE:
                break

    # -- scoring ---------------------------------------------------------------------------------
    def _ig(self) -> Integrator:
        if self._integrator is None:
            self._integrator = Integrator(self.model, self.reference, self.ig_steps)
        return self._integrator

    def margin(self, X: np.ndarray) -> np.ndarray:
        xm, xf = self.encoder.transform(X)
        return self._ig().margin(xm, xf)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n × model columns attributions, bias per row, margin per row): the attributions add up to
        margin - bias, up to the quadrature's completeness error."""
        xm, xf = self.encoder.transform(X)
        ig = self._ig()
        am, af = ig.attributions(xm, xf)
        parts = np.zeros((len(X), self.encoder.n_columns))
        owners_m, owners_f = self.encoder.owners()
        for values, owners in ((am, owners_m), (af, owners_f)):
            keep = owners >= 0
            np.add.at(parts.T, owners[keep], values[:, keep].T)
        return parts, np.full(len(X), ig.bias), ig.margin(xm, xf)

    # -- storing ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.to_dict(), "reference": [r.tolist() for r in self.reference],
                "ig_steps": self.ig_steps, "info": self.info}  # fmt: skip

    def to_bytes(self) -> bytes:
        """The ``.keras`` file (a zip of the architecture's JSON and the weights), with fixed timestamps."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tf_mlp.keras")
            self.model.save(path)
            return _normalised_zip(path)

    @classmethod
    def from_parts(cls, data: dict[str, Any], keras_file: bytes, where: str = "") -> TfMlp:
        """A network from its JSON and its ``.keras`` bytes (the verified ones: written to a private temporary
        file only to hand Keras a path), loaded with ``safe_mode=True``."""
        k = keras(where)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tf_mlp.keras")
            with open(path, "wb") as handle:
                handle.write(keras_file)
            try:
                model = k.saving.load_model(path, safe_mode=True, compile=False)
            except Exception as exc:  # Keras' own errors (a Lambda layer refused in safe mode, a broken zip)
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                raise PymescoreError(f"{where}tf_mlp.keras: expected a Keras network that loads in safe mode, got "
                                     f"{reason}; retrain the bundle", code="BUNDLE_INVALID") from exc  # fmt: skip
        if [t.name for t in model.inputs] != ["mono", "free"] or len(model.outputs) != 1:
            raise PymescoreError(
                f"{where}tf_mlp.keras: expected the inputs mono and free and one output, got "
                f"{[t.name for t in model.inputs]}; retrain the bundle",
                code="BUNDLE_INVALID",
            )
        reference = (np.asarray(data["reference"][0], np.float32), np.asarray(data["reference"][1], np.float32))
        return cls(Encoder.from_dict(data["encoder"]), model, reference, int(data["ig_steps"]), dict(data["info"]))


def _normalised_zip(path: str) -> bytes:
    """The zip's entries rewritten with a fixed date, so that the same network gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            data = src.read(name)
            if name == "metadata.json":  # Keras writes the save time there
                data = json.dumps({"keras_version": json.loads(data).get("keras_version")}).encode()
            dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()
