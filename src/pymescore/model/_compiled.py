"""A fitted model compiled once, at bundle load, into arrays: what scoring runs on one row or a million.

Compiling turns the JSON families into vectors and lookup tables: the preprocessor into an index map
(source column → model columns, category label → code, target encodings as tables), each scorecard
variable into its bin edges and WoE points (a category's WoE by code), each logistic variable into its
winsorising bounds, fill value, centre, scale and coefficient (a category's coefficient by code). The XGBoost
trees become flat node arrays walked by compiled loops (:mod:`pymescore.model._trees`), checked against the
booster when compiled. Scoring is then one float matrix, **one margin walk** over the rows and any probe rows
appended to them (the improvement hints), **one contributions walk** (TreeSHAP) over the rows, and a few
vector operations (LightGBM, when in the blend, adds its own margin and TreeSHAP calls on the same matrix).
The results equal :class:`~pymescore.model.FittedModel`'s (the same sums in the same order; the trees' margin
bit for bit, their contributions to float rounding); the bundle format does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from pymescore.errors import PymescoreError
from pymescore.model import _lgbm
from pymescore.model._fitted import FittedModel, points_slope
from pymescore.model._linear import MISSING
from pymescore.model._scale import score_from_pd
from pymescore.model._trees import compile_forest
from pymescore.model._typing import apply_type, code_label
from pymescore.model._xgb import safe_names

F64 = np.ndarray


@dataclass
class Explained:
    """Per row: PD, score (integer points), the score of the bias alone, and the points of each source column
    (``columns``); ``probe_scores`` are the unrounded scores of the probe rows, in order."""

    pd: F64
    score: np.ndarray
    base_score: F64
    points: F64
    columns: list[str]
    probe_scores: F64


@dataclass
class Contributions:
    """The rows' model matrix, log-odds contributions per source column, bias, and the additive and network
    families' margins (what :meth:`CompiledModel.explain` completes with the trees' margin call)."""

    X: F64
    parts: F64
    bias: F64
    additive: F64
    network: list[F64] = field(default_factory=list)  # each network's weighted margin, added in this order
    sequences: np.ndarray | None = None


class _Family:
    """One additive family compiled into three vectorised groups of variables: binned numbers (a scorecard's
    edges and WoE points, padded into matrices), linear numbers (bounds, fill, centre, scale, coefficient as
    vectors) and categories (a value per category code, padded; index 0 is missing)."""

    def __init__(self, weight: float, intercept: float) -> None:
        self.weight, self.intercept = weight, intercept
        self.bins: list[tuple[int, np.ndarray, np.ndarray, float, float]] = []
        self.lines: list[tuple[int, float, float, float, float, float, float]] = []
        self.codes: list[tuple[int, np.ndarray]] = []
        self.order: list[int] = []  # model column of each variable, in the family's order

    def freeze(self, source_index: np.ndarray) -> None:
        def pad(rows: list[np.ndarray], fill: float) -> np.ndarray:
            width = max((len(r) for r in rows), default=0)
            out = np.full((len(rows), width), fill)
            for k, r in enumerate(rows):
                out[k, : len(r)] = r
            return out

        self.bin_cols = np.array([b[0] for b in self.bins], dtype=np.int64)
        self.bin_splits = pad([b[1] for b in self.bins], np.inf)
        self.bin_woe = pad([b[2] for b in self.bins], 0.0)
        self.bin_last = np.array([len(b[2]) - 1 for b in self.bins], dtype=np.int64)
        # flat tables (a value's index: its variable's offset + its bin or code), as the TF graph export reads them
        self.bin_woe_flat = self.bin_woe.ravel()
        self.bin_offset = np.arange(len(self.bins), dtype=np.int64) * self.bin_woe.shape[1]
        self.bin_missing = np.array([b[3] for b in self.bins], dtype=np.float64)
        self.bin_coef = np.array([b[4] for b in self.bins], dtype=np.float64)
        lines = np.array([line[1:] for line in self.lines], dtype=np.float64).reshape(len(self.lines), 6)
        self.line_cols = np.array([line[0] for line in self.lines], dtype=np.int64)
        self.low, self.high, self.median, self.mean, self.scale, self.coef = map(np.ascontiguousarray, lines.T)
        self.code_cols = np.array([c[0] for c in self.codes], dtype=np.int64)
        self.code_table = pad([c[1] for c in self.codes], 0.0)
        self.code_flat = self.code_table.ravel()
        self.code_offset = np.arange(len(self.codes), dtype=np.int64) * self.code_table.shape[1]
        cols = np.concatenate([self.bin_cols, self.line_cols, self.code_cols])
        self.sources = source_index[cols]
        self.unique_sources = len(set(self.sources.tolist())) == len(self.sources)
        # the variables back in the family's order (the sum of the margin runs in that order)
        self.reorder = np.argsort(np.array([self.order.index(c) for c in cols.tolist()], dtype=np.int64))

    def values(self, X: F64) -> F64:
        """Each variable's log-odds contribution (rows × variables, grouped: bins, lines, codes): one compiled
        loop (``_family_kernel``)."""
        from pymescore.model._family_kernel import family_values

        return family_values(
            np.ascontiguousarray(X, dtype=np.float64), self.bin_cols, self.bin_splits, self.bin_last, self.bin_woe,
            self.bin_missing, self.bin_coef, self.line_cols, self.low, self.high, self.median, self.mean,
            self.scale, self.coef, self.code_cols, self.code_table,
        )  # fmt: skip


class CompiledModel:
    """:class:`FittedModel` as arrays; read-only after construction (thread-safe)."""

    def __init__(self, model: FittedModel, nthread: int = 1) -> None:
        self.model = model
        pre = model.preprocessor
        self.types = pre.types
        self.columns = pre.columns  # model columns
        source = pre.source_of()
        self.sources = model.sources()  # the points' columns: the features' sources, then the histories' channels
        self._source_index = np.array([self.sources.index(source[c]) for c in self.columns], dtype=np.int64)
        self._unique_sources = len(set(self._source_index.tolist())) == len(self._source_index)  # no date parts
        self._categories = {ct.column: tuple(ct.categories) for ct in self.types if ct.kind == "category"}
        self._position = {name: {c: i for i, c in enumerate(cats)} for name, cats in self._categories.items()}
        self._encodings = pre.encodings_
        self._prior = pre.prior_
        self.booster = model.booster if model.booster is not None and model.weight > 0 else None
        if self.booster is not None:
            self.booster.set_param({"nthread": nthread})
        self.nthread = nthread
        self.lightgbm = model.lightgbm if model.lightgbm is not None and model.lightgbm_weight > 0 else None
        self.networks = model._networks()
        self._channel_index = {c: self.sources.index(c) for c in model.channels}
        self._types = ["c" if ct.kind == "category" else "q" for ct in self.types for _ in ct.outputs()]
        # the matrix is built in the booster's own column order (checked once, here), so the per-call name checks
        # of xgboost are skipped: they read the booster's names back from C on every call
        names = None if self.booster is None else self.booster.feature_names
        if names is not None and list(names) != safe_names(self.columns):
            raise PymescoreError("the bundle's booster does not read the preprocessor's columns in their order")
        # the trees as arrays for the compiled walks; None: a booster they cannot reproduce, scored by xgboost
        self.forest = None if self.booster is None else compile_forest(self.booster, self._types)
        self._families = [self._compile(weight, family) for weight, family in model._additive()]

    # -- compiling ---------------------------------------------------------------------------------
    def _compile(self, weight: float, family: Any) -> _Family:
        where = {c: j for j, c in enumerate(self.columns)}
        out = _Family(weight, float(family.intercept_))
        for v in family.variables_:
            j = where[v["name"]]
            out.order.append(j)
            labels = self._categories.get(v["name"], ())
            if "splits" in v or "groups" in v:  # a scorecard variable: coefficient × WoE
                woe, coef = np.asarray(v["woe"], dtype=np.float64), float(v["coef"])
                if v["type"] == "numerical":
                    out.bins.append((j, np.asarray(v["splits"], dtype=np.float64), woe, float(v["missing_woe"]), coef))
                    continue
                lookup = {c: i for i, group in enumerate(v["groups"]) for c in group}
                table = [float(v["missing_woe"])] + [woe[lookup[c]] if c in lookup else 0.0 for c in labels]
                out.codes.append((j, coef * np.asarray(table)))
                continue
            coefs = [float(b) for b in v["coef"]]  # a logistic variable
            if v["type"] == "numerical":
                bounds = (float(v["low"]), float(v["high"]), float(v["median"]), float(v["mean"]), float(v["scale"]))
                out.lines.append((j, *bounds, coefs[0]))
                continue
            level = {lv: k for k, lv in enumerate(v["levels"])}
            missing = coefs[level[MISSING]] if MISSING in level else 0.0
            out.codes.append((j, np.asarray([missing] + [coefs[level[c]] if c in level else 0.0 for c in labels])))
        out.freeze(self._source_index)
        return out

    # -- the matrix --------------------------------------------------------------------------------
    def matrix(self, source: Mapping[str, Any], n: int) -> F64:
        """The model matrix (``n`` × model columns, categories as codes, NaN missing) of source columns:
        numbers as float arrays, categories and target-encoded columns as labels (None missing); a
        column absent from ``source`` is missing."""
        X = np.full((n, len(self.columns)), np.nan)
        j = 0
        for ct in self.types:
            width = len(ct.outputs())
            values = source.get(ct.column)
            if values is None:
                j += width
                continue
            if ct.kind == "numeric" and isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
                X[:, j] = values
            elif ct.kind == "category":
                X[:, j] = self._codes(ct.column, values)
            elif ct.kind == "target_encoded":
                table = self._encodings.get(ct.column, {})
                keys = ["__missing__" if _missing(v) or not str(v).strip() else str(v).strip() for v in values]
                X[:, j] = [table.get(k, self._prior) for k in keys]
            else:  # text numbers, dates: read as training read them
                parts = apply_type(pd.Series(values, dtype=object), ct)
                for k, out in enumerate(ct.outputs()):
                    X[:, j + k] = np.asarray(parts[out], dtype=np.float64)
            j += width
        return X

    def _codes(self, name: str, values: Any) -> F64:
        position, categories = self._position[name], self._categories[name]
        out = np.empty(len(values))
        for k, v in enumerate(values):
            if _missing(v):
                out[k] = np.nan
                continue
            label = code_label(float(v), categories) if isinstance(v, float | int) else str(v).strip()
            code = position.get(label, -1) if label is not None else -1
            out[k] = np.nan if code < 0 else code
        return out

    # -- scoring -----------------------------------------------------------------------------------
    def _dmatrix(self, X: F64) -> xgb.DMatrix:
        return xgb.DMatrix(X, feature_types=self._types, enable_categorical=True,
                           missing=np.nan, nthread=self.nthread)  # fmt: skip

    def _margin(self, X: F64) -> F64:
        """The trees' margin of every row (the compiled walk, else the booster's own call)."""
        if self.forest is not None:
            return self.forest.margin(X)
        assert self.booster is not None
        margin = self.booster.inplace_predict(X, predict_type="margin", missing=np.nan, validate_features=False)
        return np.asarray(margin, dtype=np.float64)

    def _additive(self, X: F64, parts: F64 | None) -> tuple[F64, float]:
        """The families' blended margin over every row of ``X`` (their bias included), adding each variable's
        weighted contribution to ``parts`` (rows × sources) for the first ``len(parts)`` rows."""
        z = np.zeros(len(X))
        bias = 0.0
        for f in self._families:
            values = f.values(X)
            if parts is not None and values.shape[1]:
                _add_to_sources(parts, f.sources, f.unique_sources, f.weight * values[: len(parts)])
            total = values[:, f.reorder].sum(axis=1) if values.shape[1] else np.zeros(len(X))
            z += f.weight * (f.intercept + total)
            bias += f.weight * f.intercept
        return z, bias

    def contributions(self, X: F64, sequences: np.ndarray | None = None) -> Contributions:
        """Each row's log-odds contributions per source column (the one TreeSHAP call, over the rows only);
        ``sequences``: the rows' monthly histories, for a sequence model (None: the rows have none)."""
        n = len(X)
        parts = np.zeros((n, len(self.sources)))
        bias = np.zeros(n)
        m = self.model
        if self.booster is not None:
            if self.forest is not None:
                contrib = self.forest.contributions(X)
            else:
                contrib = self.booster.predict(self._dmatrix(X), pred_contribs=True, validate_features=False)
                contrib = np.asarray(contrib, dtype=np.float64)
            _add_to_sources(parts, self._source_index, self._unique_sources, m.weight * contrib[:, :-1])
            bias += m.weight * contrib[:, -1]
        if self.lightgbm is not None:
            values, b = _lgbm.contributions(self.lightgbm, X, self.nthread)
            _add_to_sources(parts, self._source_index, self._unique_sources, m.lightgbm_weight * values)
            bias += m.lightgbm_weight * b
        additive, family_bias = self._additive(X, parts)
        network = []
        for w, net in self.networks:  # their margins come with their attributions (Integrated Gradients)
            values, channels, b, margin = net.contributions(X, sequences)
            _add_to_sources(parts, self._source_index, self._unique_sources, w * values)
            for k, channel in enumerate(net.channels):
                parts[:, self._channel_index[channel]] += w * channels[:, k]
            bias += w * b
            network.append(w * margin)
        return Contributions(X, parts, bias + family_bias, additive, network, sequences)

    def explain(self, c: Contributions, probes: F64 | None = None, probe_rows: np.ndarray | None = None) -> Explained:
        """PD, score and exact points of the rows; the scores of ``probes`` (rows scored alike, not explained)
        come from the same margin call as the rows'. ``probe_rows``: the row each probe was made from (its
        history is the row's, for a sequence model)."""
        n = len(c.X)
        every = c.X if probes is None or len(probes) == 0 else np.vstack([c.X, probes])
        m = self.model
        z = np.zeros(len(every))
        if self.booster is not None:
            z += m.weight * self._margin(every)
        if self.lightgbm is not None:
            z += m.lightgbm_weight * _lgbm.margin(self.lightgbm, every, self.nthread)
        z[:n] += c.additive
        for margin in c.network:
            z[:n] += margin
        if len(every) > n:
            z[n:] += self._additive(every[n:], None)[0]
            probe_sequences = None if c.sequences is None or probe_rows is None else c.sequences[probe_rows]
            for w, net in self.networks:
                z[n:] += w * net.margin(every[n:], probe_sequences)
        p_all = m.calibrator.predict(z)
        s_all = score_from_pd(p_all, m.scale)
        p, s = p_all[:n], s_all[:n]
        s0, slope = points_slope(m.calibrator, m.scale, s, c.bias, c.parts.sum(axis=1))
        return Explained(p, np.rint(s).astype(int), s0, c.parts * slope[:, None], self.sources, s_all[n:])

    def predict(self, X: F64, sequences: np.ndarray | None = None) -> tuple[F64, np.ndarray]:
        """PD and integer score of each row (one margin call, no contributions)."""
        z = np.zeros(len(X))
        m = self.model
        if self.booster is not None:
            z += m.weight * self._margin(X)
        if self.lightgbm is not None:
            z += m.lightgbm_weight * _lgbm.margin(self.lightgbm, X, self.nthread)
        z += self._additive(X, None)[0]
        for w, net in self.networks:
            z += w * net.margin(X, sequences)
        p = m.calibrator.predict(z)
        return p, np.rint(score_from_pd(p, m.scale)).astype(int)


def _add_to_sources(parts: F64, sources: np.ndarray, unique: bool, values: F64) -> None:
    """Add each column of ``values`` to its source's column of ``parts`` (several columns may share a source:
    a date's parts)."""
    if unique:
        parts[:, sources] += values
    else:
        for k, source in enumerate(sources):
            parts[:, source] += values[:, k]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
