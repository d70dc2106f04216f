"""Regional and sector context: figures of the firm's department and CIIU section, from data before as_of.

Computed over a batch (every firm the lake knows at as_of) and stored, so that a single scoring request
gets the same context its firm would get in the batch. No label-window data is read: the delinquency
rate uses ratings *before* as_of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64


@dataclass(frozen=True)
class Context:
    """Per-department and per-section figures: ``income_growth_12m`` (median), ``delinquency_rate_12m``."""

    by_department: pd.DataFrame
    by_section: pd.DataFrame

    def to_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        return {
            "by_department": self.by_department.to_dict(orient="index"),
            "by_section": self.by_section.to_dict(orient="index"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, dict[str, float]]]) -> Context:
        return cls(
            pd.DataFrame.from_dict(data["by_department"], orient="index"),
            pd.DataFrame.from_dict(data["by_section"], orient="index"),
        )


def compute_context(department: np.ndarray, section: np.ndarray, growth: F64, delinquent: F64) -> Context:
    frame = pd.DataFrame(
        {"department": department, "section": section, "income_growth_12m": growth, "delinquency_rate_12m": delinquent}
    )
    agg = {"income_growth_12m": "median", "delinquency_rate_12m": "mean"}
    by_dep = frame.dropna(subset=["department"]).groupby("department")[list(agg)].agg(agg)
    by_sec = frame.dropna(subset=["section"]).groupby("section")[list(agg)].agg(agg)
    return Context(by_dep.astype(np.float64), by_sec.astype(np.float64))


def context_features(context: Context, department: np.ndarray, section: np.ndarray) -> dict[str, F64]:
    def lookup(table: pd.DataFrame, keys: np.ndarray, column: str) -> F64:
        if column not in table.columns:
            return np.full(len(keys), np.nan)
        return np.asarray(table[column].reindex(pd.Index(keys, dtype=object)).to_numpy(dtype=np.float64))

    return {
        "region_income_growth_12m": lookup(context.by_department, department, "income_growth_12m"),
        "sector_income_growth_12m": lookup(context.by_section, section, "income_growth_12m"),
        "region_delinquency_rate_12m": lookup(context.by_department, department, "delinquency_rate_12m"),
        "sector_delinquency_rate_12m": lookup(context.by_section, section, "delinquency_rate_12m"),
    }
