"""Bureau (SBS RCC) features on a firms × months panel of ratings, debt and lenders."""

from __future__ import annotations

import numpy as np

from pymescore.features._arrays import F64, Arrays, last_valid, month_number, monthly_panel, ratio, row_count, row_max


class BureauPanel:
    def __init__(self, bureau: Arrays, n: int, last_month: int, window: int) -> None:
        codes = np.asarray(bureau["entity"], dtype=np.int64)
        months = month_number(bureau["month"])
        first = last_month - window + 1

        def panel(col: str) -> F64:
            return monthly_panel(codes, months, np.asarray(bureau[col], dtype=np.float64), n, first, window)

        self.rating = panel("sbs_rating")
        self.debt = panel("debt_total")
        self.lenders = panel("n_lenders")


def bureau_features(panel: BureauPanel) -> dict[str, F64]:
    out: dict[str, F64] = {}
    out["sbs_rating_current"] = last_valid(panel.rating)
    out["sbs_rating_worst_12m"] = row_max(panel.rating[:, -12:])
    out["debt_system_pen"] = last_valid(panel.debt)
    out["debt_system_growth_12m"] = ratio(panel.debt[:, -1], panel.debt[:, -13]) - 1.0
    out["n_lenders"] = last_valid(panel.lenders)
    out["has_bureau"] = (row_count(panel.rating[:, -12:]) > 0).astype(np.float64)
    return out


def delinquent_12m(panel: BureauPanel) -> F64:
    """1 when the firm was rated Deficiente or worse in the last 12 months (NaN without reports)."""
    worst = row_max(panel.rating[:, -12:])
    return np.where(np.isnan(worst), np.nan, (worst >= 2).astype(np.float64))
