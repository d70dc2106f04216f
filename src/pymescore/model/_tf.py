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
from collections.abc import Sequence
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
    """Integrated Gradients of a Keras model with one or more inputs (a network family's: monotone block, free
    block and, for the sequence model, the histories) and one output (a margin): for each row, (x - reference) ×
    the mean gradient along the straight path from the reference, by ``steps``-point Gauss-Legendre quadrature.
    The attributions add up to f(x) - f(reference) up to the quadrature's error (measured at training: the
    completeness error). Rows are done ``chunk`` at a time (``steps`` × ``chunk`` rows per gradient call)."""

    def __init__(self, model: Any, reference: Sequence[np.ndarray], steps: int, chunk: int = 512) -> None:
        tf = tensorflow()
        self.model, self.steps, self.chunk = model, steps, chunk
        self.reference = [np.asarray(r, np.float32) for r in reference]
        shapes = [r.shape for r in self.reference]
        nodes, weights = gauss_legendre(steps)
        refs = [tf.constant(r[None, None]) for r in self.reference]  # 1 × 1 × shape

        def along(x: Any) -> tuple[Any, Any]:  # the quadrature's nodes and weights, shaped for x (steps × 1 × …)
            ones = [1] * len(x.shape)
            return (tf.constant(nodes.astype(np.float32).reshape(-1, *ones)),
                    tf.constant(weights.astype(np.float32).reshape(-1, *ones)))  # fmt: skip

        spec = [tf.TensorSpec([None, *shape], tf.float32) for shape in shapes]

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def integrate(*xs: Any) -> Any:
            n = tf.shape(xs[0])[0]
            deltas = [x[None] - ref for x, ref in zip(xs, refs, strict=True)]  # 1 × n × shape
            paths = [tf.reshape(ref + along(x)[0] * d, (-1, *shape))
                     for x, ref, d, shape in zip(xs, refs, deltas, shapes, strict=True)]  # fmt: skip
            with tf.GradientTape() as tape:
                tape.watch(paths)
                out = tf.reduce_sum(model(paths, training=False))
            grads = tape.gradient(out, paths)
            return [d[0] * tf.reduce_sum(along(x)[1] * tf.reshape(g, (steps, n, *shape)), axis=0)
                    for x, d, g, shape in zip(xs, deltas, grads, shapes, strict=True)]  # fmt: skip

        @tf.function(input_signature=spec, autograph=False)  # type: ignore[untyped-decorator]
        def forward(*xs: Any) -> Any:
            return model(list(xs), training=False)[:, 0]

        self._integrate, self._forward = integrate, forward
        self.bias = float(self.margin(*(r[None] for r in self.reference))[0])

    def margin(self, *xs: np.ndarray) -> np.ndarray:
        """The network's output for each row, float64."""
        step = 8192
        out = [self._forward(*(x[i : i + step] for x in xs)).numpy() for i in range(0, len(xs[0]), step)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def attributions(self, *xs: np.ndarray) -> list[np.ndarray]:
        """Per input, float64, shaped as the input; together they add up to margin - bias."""
        parts: list[list[np.ndarray]] = [[] for _ in xs]
        for i in range(0, len(xs[0]), self.chunk):
            for k, a in enumerate(self._integrate(*(x[i : i + self.chunk] for x in xs))):
                parts[k].append(a.numpy())
        return [np.concatenate(p).astype(np.float64) if p else np.zeros((0, *r.shape))
                for p, r in zip(parts, self.reference, strict=True)]  # fmt: skip
