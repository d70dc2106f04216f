"""The network families: ``tf_mlp``, a small Keras network on the preprocessed model matrix (``_tf_encode``:
quantile-mapped numbers, missing flags, one-hot categories), and ``tf_sequence``, the same network plus a path over
each row's monthly histories (36 months of income, expenses, days past due, rating and debt with their masks:
two 1-D convolutions, average- and max-pooled); their output a margin (log-odds) like every family's.

Two paths add up to the margin: a *monotone* path that reads the numbers with a registry direction (multiplied
by it) through non-negative weights and increasing activations (tanh) after a first layer that also reads the
free inputs, so the margin can never fall as such a number rises (more days past due never raise the score),
and a *free* path (SiLU) over the other inputs. Fitted with Adam on batches in a seeded order, stopping on a
held-out 10% of the training rows (whole firms when grouped), the best epoch's weights kept; deterministic
under a seed (``_tf``: op determinism, fixed threads).

Reasons are Integrated Gradients against the training reference (the mean encoded training row, and the mean
encoded history), summed per model column and per history channel; the reference's margin is the bias. Stored
as a ``.keras`` file (architecture JSON + weights, loaded with ``safe_mode=True``: no code runs) beside the
encoders' JSON; never pickled.
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
from pymescore.model._tf_encode import Encoder, SequenceEncoder
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
#: the sequence model's convolution filters
CONV = 16
#: Integrated Gradients' quadrature points: the first that keeps the completeness error small (see ``fit``)
IG_STEPS = (16, 32, 64, 128)
#: the completeness error (log-odds) the steps are chosen for: a tenth of a point at 28.9 points per unit
IG_TOLERANCE = 0.0035


def build(widths: tuple[int, int], prior: float, seed: int, sequence: tuple[int, int] | None = None) -> Any:
    """The network (Keras functional): inputs ``mono`` and ``free`` (and ``seq``, months × channels, for the
    sequence model), output the margin."""
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
    outputs = [layers.Dense(1, kernel_constraint=nonneg(), name="mono_out")(h)]
    g = free
    for i, width in enumerate(HIDDEN):
        g = layers.Dense(width, activation="silu", kernel_regularizer=l2(), name=f"free_dense_{i}")(g)
    outputs.append(layers.Dense(1, name="free_out", bias_initializer=k.initializers.Constant(prior))(g))
    inputs = [mono, free]
    if sequence is not None:  # the histories: two 1-D convolutions, pooled, their own term of the margin
        seq = k.Input(sequence, name="seq")
        c = layers.Conv1D(CONV, 3, activation="silu", kernel_regularizer=l2(), name="seq_conv_0")(seq)
        c = layers.Conv1D(CONV, 3, dilation_rate=2, activation="silu", kernel_regularizer=l2(), name="seq_conv_1")(c)
        c = layers.Concatenate(name="seq_pool")([layers.GlobalAveragePooling1D(name="seq_mean")(c),
                                                 layers.GlobalMaxPooling1D(name="seq_max")(c)])  # fmt: skip
        c = layers.Dense(HIDDEN[1], activation="silu", kernel_regularizer=l2(), name="seq_dense")(c)
        outputs.append(layers.Dense(1, name="seq_out")(c))
        inputs.append(seq)
    margin = layers.Add(name="margin")(outputs)
    return k.Model(inputs=inputs, outputs=margin, name="tf_sequence" if sequence is not None else "tf_mlp")


@dataclass
class TfNetwork:
    """A fitted network family: its encoders, the Keras model, the reference inputs and the quadrature it explains
    with; ``sequence`` (the sequence model) encodes the monthly histories it also reads."""

    encoder: Encoder
    model: Any
    reference: list[np.ndarray]
    ig_steps: int = IG_STEPS[0]
    info: dict[str, Any] = field(default_factory=dict)
    sequence: SequenceEncoder | None = None
    months: int = 0
    _integrator: Integrator | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "tf_sequence" if self.sequence is not None else "tf_mlp"

    @property
    def channels(self) -> list[str]:
        """The histories' channels (the sources of their attributions); none for tf_mlp."""
        return [] if self.sequence is None else list(self.sequence.channels)

    def inputs(self, X: np.ndarray, sequences: np.ndarray | None = None) -> list[np.ndarray]:
        """The network's inputs of model rows ``X`` (and, for the sequence model, their histories: None for rows
        without any, every month missing)."""
        out = list(self.encoder.transform(X))
        if self.sequence is not None:
            out.append(self.sequence.transform(sequences, len(X), self.months))
        return out

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
        sequences: np.ndarray | None = None,
        channels: list[str] | None = None,
    ) -> TfNetwork:
        """Fit on the model matrix ``X`` (categories as codes, NaN missing) — and, for the sequence model, the
        rows' histories ``sequences`` (rows × months × ``channels``); with ``explain``, choose the quadrature
        that explains it (an out-of-fold network only gives margins)."""
        tf = tensorflow(threads=threads)
        t0 = time.perf_counter()
        net = cls(Encoder.fit(X, n_categories, monotone), None, [])
        if sequences is not None:
            net.sequence = SequenceEncoder.fit(sequences, list(channels or []))
            net.months = sequences.shape[1]
        inputs = net.inputs(X, sequences)
        y = np.asarray(y, dtype=np.int64)
        fit_idx, stop_idx = stopping_split(y, groups, seed)
        p = float(np.clip(y[fit_idx].mean(), 1e-4, 1 - 1e-4))
        shape = None if sequences is None else (net.months, len(net.channels))
        model = net.model = build(net.encoder.widths(), float(np.log(p / (1 - p))), seed, shape)
        k = keras()
        tf.get_logger().setLevel("ERROR")  # a traced function per fit: TensorFlow's retracing notes are expected
        optimizer = k.optimizers.Adam(LEARNING_RATE)
        loss_fn = k.losses.BinaryCrossentropy(from_logits=True)
        variables = model.trainable_variables
        optimizer.build(variables)  # its slots made now: the step is traced once
        spec = [tf.TensorSpec([None, *x.shape[1:]], tf.float32) for x in inputs] + [tf.TensorSpec([None, 1])]

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def step(*batch: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = loss_fn(batch[-1], model(list(batch[:-1]), training=True)) + tf.add_n(model.losses)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def held_out_loss(*batch: Any) -> Any:
            return loss_fn(batch[-1], model(list(batch[:-1]), training=False))

        yf = y.astype(np.float32).reshape(-1, 1)
        held = [x[stop_idx] for x in inputs] + [yf[stop_idx]]
        rng = np.random.default_rng(seed)
        best, best_weights, since, epochs = np.inf, model.get_weights(), 0, 0
        for epoch in range(EPOCHS):
            order = fit_idx[rng.permutation(len(fit_idx))]
            for i in range(0, len(order), BATCH):
                batch = order[i : i + BATCH]
                step(*[x[batch] for x in inputs], yf[batch])
            epochs = epoch + 1
            current = float(held_out_loss(*held)) if len(stop_idx) else -float(epoch)
            if current < best - 1e-5:
                best, best_weights, since = current, model.get_weights(), 0
            else:
                since += 1
                if since >= PATIENCE:
                    break
        model.set_weights(best_weights)
        net.reference = [x.mean(axis=0) for x in inputs]
        net.info = {"epochs": epochs, "held_out_logloss": None if not np.isfinite(best) else round(best, 5),
                    "rows": len(y), "seconds": round(time.perf_counter() - t0, 2)}  # fmt: skip
        if explain:
            sample = np.random.default_rng(seed + 1).permutation(len(X))[:1000]
            net.choose_steps(X[sample], None if sequences is None else sequences[sample])
        return net

    def choose_steps(self, X: np.ndarray, sequences: np.ndarray | None = None) -> None:
        """The fewest quadrature points in :data:`IG_STEPS` whose completeness error on the rows ``X`` stays
        under :data:`IG_TOLERANCE` in log-odds (the last when none does); recorded in ``info``."""
        inputs = self.inputs(X, sequences)
        target = self._ig().margin(*inputs) - self._ig().bias
        for steps in IG_STEPS:
            self.ig_steps, self._integrator = steps, None
            total = sum(a.reshape(len(X), -1).sum(axis=1) for a in self._ig().attributions(*inputs))
            error = np.abs(total - target)
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

    def margin(self, X: np.ndarray, sequences: np.ndarray | None = None) -> np.ndarray:
        return self._ig().margin(*self.inputs(X, sequences))

    def contributions(
        self, X: np.ndarray, sequences: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n × model columns attributions, n × channels attributions of the histories (none for tf_mlp), bias
        per row, margin per row): the attributions add up to margin - bias, up to the quadrature's completeness
        error."""
        inputs = self.inputs(X, sequences)
        ig = self._ig()
        parts_in = ig.attributions(*inputs)
        parts = np.zeros((len(X), self.encoder.n_columns))
        for values, owners in zip(parts_in[:2], self.encoder.owners(), strict=True):
            keep = owners >= 0
            np.add.at(parts.T, owners[keep], values[:, keep].T)
        channels = parts_in[2].sum(axis=1) if self.sequence is not None else np.zeros((len(X), 0))
        return parts, channels, np.full(len(X), ig.bias), ig.margin(*inputs)

    # -- storing ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.to_dict(), "reference": [r.tolist() for r in self.reference],
                "ig_steps": self.ig_steps, "info": self.info, "months": self.months,
                "sequence": None if self.sequence is None else self.sequence.to_dict()}  # fmt: skip

    def to_bytes(self) -> bytes:
        """The ``.keras`` file (a zip of the architecture's JSON and the weights), with fixed timestamps."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"{self.name}.keras")
            self.model.save(path)
            return _normalised_zip(path)

    @classmethod
    def from_parts(cls, data: dict[str, Any], keras_file: bytes, where: str = "") -> TfNetwork:
        """A network from its JSON and its ``.keras`` bytes (the verified ones: written to a private temporary
        file only to hand Keras a path), loaded with ``safe_mode=True``."""
        k = keras(where)
        sequence = None if data.get("sequence") is None else SequenceEncoder.from_dict(data["sequence"])
        file = "tf_sequence.keras" if sequence is not None else "tf_mlp.keras"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, file)
            with open(path, "wb") as handle:
                handle.write(keras_file)
            try:
                model = k.saving.load_model(path, safe_mode=True, compile=False)
            except Exception as exc:  # Keras' own errors (a Lambda layer refused in safe mode, a broken zip)
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                raise PymescoreError(f"{where}{file}: expected a Keras network that loads in safe mode, got "
                                     f"{reason}; retrain the bundle", code="BUNDLE_INVALID") from exc  # fmt: skip
        names = ["mono", "free"] + (["seq"] if sequence is not None else [])
        if [t.name for t in model.inputs] != names or len(model.outputs) != 1:
            raise PymescoreError(
                f"{where}{file}: expected the inputs {', '.join(names)} and one output, got "
                f"{[t.name for t in model.inputs]}; retrain the bundle",
                code="BUNDLE_INVALID",
            )
        reference = [np.asarray(r, np.float32) for r in data["reference"]]
        return cls(Encoder.from_dict(data["encoder"]), model, reference, int(data["ig_steps"]), dict(data["info"]),
                   sequence, int(data.get("months", 0)))  # fmt: skip


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
