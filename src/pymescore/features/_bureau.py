"""Bureau (SBS RCC) features on a firms × months panel of ratings, debt and lenders."""

from __future__ import annotations

import numpy as np

from pymescore.features._arrays import F64, Arrays, month_number


class BureauPanel:
    """Monthly SBS rating, system debt and lenders of each firm over the ``window`` months before as_of."""

    def __init__(self, bureau: Arrays, n: int, last_month: int, window: int) -> None:
        from pymescore.features._fused import monthly_panels

        values = np.column_stack([np.asarray(bureau[c], dtype=np.float64) for c in ("sbs_rating", "debt_total",
                                                                                     "n_lenders")])  # fmt: skip
        codes = np.asarray(bureau["entity"], dtype=np.int64)
        first = last_month - window + 1
        self.rating, self.debt, self.lenders = monthly_panels(codes, month_number(bureau["month"]), values, n, first,
                                                              window)  # fmt: skip
        self._block: F64 | None = None

    def block(self) -> F64:
        """The bureau kernel's columns (``_fused.BUREAU_COLUMNS``), computed once per panel."""
        if self._block is None:
            from pymescore.features._fused import bureau_block

            self._block = bureau_block(self.rating, self.debt, self.lenders)
        return self._block


def bureau_features(panel: BureauPanel) -> dict[str, F64]:
    """Latest rating, debt and lenders, the worst rating of 12 months, debt growth: one compiled loop per firm."""
    from pymescore.features._fused import BUREAU_COLUMNS

    out = dict(zip(BUREAU_COLUMNS, panel.block().T, strict=True))
    del out["delinquent_12m"]
    return out


def delinquent_12m(panel: BureauPanel) -> F64:
    """1 when the firm was rated Deficiente or worse in the last 12 months (NaN without reports)."""
    return panel.block()[:, -1]
