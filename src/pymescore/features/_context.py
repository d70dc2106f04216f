"""Regional and sector context: figures of the firm's department and CIIU section, from data before as_of.

Computed over a batch (every firm the lake knows at as_of) and stored, so that a single scoring request
gets the same context its firm would get in the batch. No label-window data is read: the delinquency
rate uses ratings *before* as_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64


@dataclass(frozen=True)
class Context:
    """Per-department and per-section figures: ``income_growth_12m`` (median), ``delinquency_rate_12m``."""

    by_department: pd.DataFrame
    by_section: pd.DataFrame

    @cached_property
    def _maps(self) -> dict[tuple[str, str], dict[object, float]]:
        maps: dict[tuple[str, str], dict[object, float]] = {}
        for level, table in (("department", self.by_department), ("section", self.by_section)):
            for column in ("income_growth_12m", "delinquency_rate_12m"):
                maps[(level, column)] = table[column].to_dict() if column in table.columns else {}
        return maps

    def lookup(self, level: str, column: str, keys: np.ndarray) -> F64:
        """The figure of each key (NaN for an unknown or missing key)."""
        table = self._maps[(level, column)]
        return np.array([table.get(k, np.nan) for k in keys], dtype=np.float64)

    def to_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        """JSON-ready (a model bundle stores it; no pickle)."""

        def plain(table: pd.DataFrame) -> dict[str, dict[str, float]]:
            return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in table.iterrows()}

        return {"by_department": plain(self.by_department), "by_section": plain(self.by_section)}

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
    return {
        "region_income_growth_12m": context.lookup("department", "income_growth_12m", department),
        "sector_income_growth_12m": context.lookup("section", "income_growth_12m", section),
        "region_delinquency_rate_12m": context.lookup("department", "delinquency_rate_12m", department),
        "sector_delinquency_rate_12m": context.lookup("section", "delinquency_rate_12m", section),
    }
