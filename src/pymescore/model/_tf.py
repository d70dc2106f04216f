"""TensorFlow for the network families: imported lazily (the ``tf`` extra; a missing one is refused naming it),
configured once per process for determinism (op determinism, 1-2 threads, oneDNN's reordered sums off), and
Integrated Gradients by Gauss-Legendre quadrature.

TensorFlow's thread pools can be sized only before its first operation: :func:`tensorflow` sizes them on the
first call and later calls keep them (a service's threads, a second training in one process).

OR-Tools (the scorecard's binning solver, through optbinning) crashes the process (SIGSEGV) when its solver runs
after TensorFlow was loaded (both bundle abseil and protobuf); loaded first, both work. :func:`tensorflow`
therefore loads OR-Tools' solvers, when installed, before TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from functools import cache
from typing import Any

import numpy as np

from pymescore.model._families import require

_LOCK = threading.Lock()
_CONFIGURED: dict[str, int] = {}


def tensorflow(where: str = "", threads: int = 1) -> Any:
    """The ``tensorflow`` module, configured (the tf extra refused naming it when missing)."""
    require("tf_mlp", where, scoring=True)
    with _LOCK:
        if not _CONFIGURED:
            # quiet C++ logs, and oneDNN off: its kernels may sum in another order from run to run
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
            _ortools_first()
            import tensorflow as tf

            try:
                tf.config.threading.set_intra_op_parallelism_threads(max(1, min(2, threads)))
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # TensorFlow already ran an operation in this process: its pools stay
                pass
            tf.config.experimental.enable_op_determinism()
            _CONFIGURED["threads"] = threads
        import tensorflow as tf

        return tf


def _ortools_first() -> None:
    """Load OR-Tools' native solvers (when installed) before TensorFlow: see the module's docstring."""
    if importlib.util.find_spec("ortools") is None:
        return
    importlib.import_module("ortools.sat.python.cp_model")
    importlib.import_module("ortools.linear_solver.pywraplp")


def keras(where: str = "") -> Any:
    tensorflow(where)
    import keras

    return keras


@cache
def gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``steps``-point Gauss-Legendre quadrature on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


class Integrator:
    """Integrated Gradients of a Keras model with inputs (monotone block, free block) and one output (a margin):
    for each row, (x - reference) × the mean gradient along the straight path from the reference, by
    ``steps``-point Gauss-Legendre quadrature. The attributions add up to f(x) - f(reference) up to the
    quadrature's error (measured at training: the completeness error). Rows are done ``chunk`` at a time."""

    def __init__(self, model: Any, reference: tuple[np.ndarray, np.ndarray], steps: int, chunk: int = 512) -> None:
        tf = tensorflow()
        self.model, self.steps, self.chunk = model, steps, chunk
        self.reference = (np.asarray(reference[0], np.float32), np.asarray(reference[1], np.float32))
        nodes, weights = gauss_legendre(steps)
        alphas = tf.constant(nodes.astype(np.float32).reshape(-1, 1, 1))
        w = tf.constant(weights.astype(np.float32).reshape(-1, 1, 1))
        ref_m, ref_f = (tf.constant(r.reshape(1, 1, -1)) for r in self.reference)
        widths = (len(self.reference[0]), len(self.reference[1]))

        spec = [tf.TensorSpec([None, w], tf.float32) for w in widths]

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def integrate(xm: Any, xf: Any) -> Any:
            n = tf.shape(xm)[0]
            dm, df = xm[None] - ref_m, xf[None] - ref_f  # 1 × n × width
            pm = tf.reshape(ref_m + alphas * dm, (-1, widths[0]))
            pf = tf.reshape(ref_f + alphas * df, (-1, widths[1]))
            with tf.GradientTape() as tape:
                tape.watch([pm, pf])
                out = tf.reduce_sum(model([pm, pf], training=False))
            gm, gf = tape.gradient(out, [pm, pf])
            gm = tf.reduce_sum(w * tf.reshape(gm, (steps, n, widths[0])), axis=0)
            gf = tf.reduce_sum(w * tf.reshape(gf, (steps, n, widths[1])), axis=0)
            return dm[0] * gm, df[0] * gf

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def forward(xm: Any, xf: Any) -> Any:
            return model([xm, xf], training=False)[:, 0]

        self._integrate, self._forward = integrate, forward
        self.bias = float(self.margin(self.reference[0][None], self.reference[1][None])[0])

    def margin(self, xm: np.ndarray, xf: np.ndarray) -> np.ndarray:
        """The network's output for each row, float64."""
        out = [self._forward(xm[i : i + 8192], xf[i : i + 8192]).numpy() for i in range(0, len(xm), 8192)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def attributions(self, xm: np.ndarray, xf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per input (monotone block, free block), float64; they add up to margin - bias."""
        parts_m, parts_f = [], []
        for i in range(0, len(xm), self.chunk):
            am, af = self._integrate(xm[i : i + self.chunk], xf[i : i + self.chunk])
            parts_m.append(am.numpy())
            parts_f.append(af.numpy())
        if not parts_m:
            return np.zeros((0, len(self.reference[0]))), np.zeros((0, len(self.reference[1])))
        return np.concatenate(parts_m).astype(np.float64), np.concatenate(parts_f).astype(np.float64)
