"""The binned logistic scorecard (optbinning binning + logistic regression on WoE), exported to JSON.

Fitting uses optbinning; scoring uses only the exported bins, WoE values and coefficients, so a bundle
never needs optbinning or pickle. Contributions are exact: coefficient × WoE per variable, the intercept as
bias. A variable with a monotone direction is binned with that trend, and dropped if the regression gives
it the opposite sign (the model stays monotone as declared).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pymescore.errors import PymescoreError
from pymescore.model._additive import Additive, Columns

# optbinning: event rate "ascending" in x = risk rises with x = monotone +1
_TREND = {1: "ascending", -1: "descending"}


class Scorecard(Additive):
    # -- fitting ---------------------------------------------------------------------------------
    def fit(
        self, X: pd.DataFrame, y: np.ndarray, monotone: dict[str, int], seed: int = 0, weight: np.ndarray | None = None
    ) -> Scorecard:
        """Bin, then fit the logistic regression on WoE; ``weight``: row weights of both (None: every row 1)."""
        try:
            from optbinning import BinningProcess
        except ImportError as exc:  # pragma: no cover - the train extra brings it
            raise PymescoreError("the scorecard needs optbinning: pip install 'pymescore[train]'") from exc
        from sklearn.linear_model import LogisticRegression

        # optbinning needs at least two distinct observed values in a column
        X = X[[c for c in X.columns if X[c].nunique(dropna=True) >= 2]]
        categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        data = X.copy()
        for c in categorical:
            data[c] = data[c].astype(object)
        params = {c: {"monotonic_trend": _TREND[d]} for c, d in monotone.items() if d in _TREND and c in X.columns}
        process = BinningProcess(
            list(X.columns),
            categorical_variables=categorical,
            binning_fit_params=params,
            selection_criteria={"iv": {"min": 0.005}},
            max_n_prebins=20,
            min_prebin_size=0.02,
        )
        with warnings.catch_warnings():
            # optbinning's own pandas usage and solver notes: not ours to fix, and not errors
            warnings.simplefilter("ignore")
            process.fit(data, np.asarray(y), sample_weight=weight)
            selected = set(process.get_support(names=True))
            self.variables_ = [_export(c, process.get_binned_variable(c)) for c in X.columns if c in selected]
        kept = list(self.variables_)
        while kept:
            woe = self._woe(X, kept)
            model = LogisticRegression(C=1.0, max_iter=2000)
            model.fit(woe, y, sample_weight=weight)
            coef = model.coef_[0]
            # WoE = ln(goods/bads) falls as risk rises: a coefficient must be <= 0 for the declared trend to hold
            wrong = [v["name"] for v, b in zip(kept, coef, strict=True) if monotone.get(v["name"], 0) != 0 and b > 0]
            if not wrong:
                for v, b in zip(kept, coef, strict=True):
                    v["coef"] = float(b)
                self.intercept_ = float(model.intercept_[0])
                break
            kept = [v for v in kept if v["name"] not in wrong]
        else:
            rate = float(np.average(y, weights=weight))
            self.intercept_ = float(np.log(rate / (1 - rate)))
        self.variables_ = [v for v in kept if v.get("coef", 0.0) != 0.0]
        return self

    # -- scoring ---------------------------------------------------------------------------------
    def _woe(self, X: pd.DataFrame, variables: list[dict[str, Any]]) -> np.ndarray:
        return np.column_stack([_woe_of(X[v["name"]], v) for v in variables]) if variables else np.zeros((len(X), 0))

    def contributions(self, X: Columns) -> tuple[dict[str, np.ndarray], float]:
        """Per-variable log-odds contributions and the bias (intercept)."""
        return {v["name"]: v["coef"] * _woe_of(X[v["name"]], v) for v in self.variables_}, self.intercept_


def _export(name: str, binning: Any) -> dict[str, Any]:
    table = binning.binning_table.build()
    woe = [float(w) for w in table["WoE"].iloc[:-1]]  # drop the totals row
    missing_woe = woe[-1]  # the rows end with the bins, then Special, then Missing
    regular = woe[:-2]
    if binning.dtype == "categorical":
        groups = [[str(c) for c in group] for group in binning.splits]
        return {"name": name, "type": "categorical", "groups": groups, "woe": regular, "missing_woe": missing_woe}
    return {"name": name, "type": "numerical", "splits": [float(s) for s in binning.splits], "woe": regular,
            "missing_woe": missing_woe}  # fmt: skip


def _woe_of(values: pd.Series, var: dict[str, Any]) -> np.ndarray:
    woe = np.asarray(var["woe"], dtype=np.float64)
    if var["type"] == "numerical":
        x = np.asarray(values, dtype=np.float64)
        idx = np.searchsorted(np.asarray(var["splits"], dtype=np.float64), x, side="right")
        out = woe[np.minimum(idx, len(woe) - 1)]
        out[np.isnan(x)] = var["missing_woe"]
        return out
    lookup = {c: i for i, group in enumerate(var["groups"]) for c in group}
    text = pd.Series(values, dtype=object)
    idx = np.array([lookup.get(str(v), -1) if v is not None and not pd.isna(v) else -2 for v in text], dtype=np.int64)
    out = np.where(idx >= 0, woe[np.maximum(idx, 0)], 0.0)
    out[idx == -2] = var["missing_woe"]
    return out
