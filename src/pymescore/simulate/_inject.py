"""Data-entry errors (rows that break the contract) and outliers (valid but extreme values).

Each error kind changes one row so that ``validate_table`` rejects it; each outlier kind keeps the row
valid. Both are recorded with the 1-based row position in the table as written.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

I64 = npt.NDArray[np.int64]
Edit = Callable[[pd.DataFrame, I64, np.random.Generator], None]


def _set(df: pd.DataFrame, rows: I64, col: str, values: object) -> None:
    df.iloc[rows, df.columns.get_loc(col)] = values  # type: ignore[call-overload]


def _bad_ruc(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    ruc = df["ruc"].iloc[rows]
    last = (ruc.str[-1].astype(np.int64).to_numpy() + rng.integers(1, 10, rows.size)) % 10
    _set(df, rows, "ruc", (ruc.str[:-1] + pd.Series(last.astype(str), index=ruc.index)).to_numpy())


def _negative(*cols: str) -> Edit:
    def edit(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
        which = rng.integers(0, len(cols), rows.size)
        for k, col in enumerate(cols):
            r = rows[which == k]
            _set(df, r, col, -(df[col].iloc[r].abs().to_numpy() + 1.0))

    return edit


def _unknown_currency(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    _set(df, rows, "currency", np.asarray(["EUR", "S/", "US$", "SOL"], dtype=object)[rng.integers(0, 4, rows.size)])


def _mid_month(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    days = rng.integers(1, 28, rows.size).astype("timedelta64[D]")
    _set(df, rows, "month", df["month"].iloc[rows].to_numpy() + days)


def _constant(col: str, value: object) -> Edit:
    def edit(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
        _set(df, rows, col, value)

    return edit


def _ubigeo_99(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    _set(df, rows, "ubigeo", ("99" + df["ubigeo"].iloc[rows].str[2:]).to_numpy())


def _equity_mismatch(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    scale = df[["total_assets", "total_liabilities"]].iloc[rows].abs().max(axis=1).to_numpy()
    gap = (0.05 + 0.5 * rng.random(rows.size)) * scale + 100.0
    _set(df, rows, "equity", df["equity"].iloc[rows].to_numpy() + gap * rng.choice([-1.0, 1.0], rows.size))


def _before_disbursement(col: str, low: int, high: int) -> Edit:
    def edit(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
        days = rng.integers(low, high, rows.size).astype("timedelta64[D]")
        _set(df, rows, col, df["disbursement_date"].iloc[rows].to_numpy() - days)

    return edit


def _paid_without_date(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    _set(df, rows, "amount_paid", df["amount_due"].iloc[rows].to_numpy() + 1.0)
    _set(df, rows, "paid_date", np.datetime64("NaT", "us"))


def _lenders_out_of_range(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
    _set(df, rows, "n_lenders", np.where(rng.random(rows.size) < 0.5, -1, 101))


#: error kinds per table: each breaks the table's contract
ERRORS: dict[str, dict[str, Edit]] = {
    "firms": {
        "ruc_check_digit": _bad_ruc,
        "ubigeo_department_99": _ubigeo_99,
        "ciiu_unknown": _constant("ciiu", "9999"),
        "name_missing": _constant("name", np.nan),
        "start_date_before_1950": _constant("start_date", np.datetime64("1900-01-01", "us")),
        "taxpayer_state_unknown": _constant("taxpayer_state", "CERRADO"),
    },
    "monthly_cashflows": {
        "ruc_check_digit": _bad_ruc,
        "negative_amount": _negative("income", "expenses"),
        "currency_unknown": _unknown_currency,
        "month_not_first_day": _mid_month,
    },
    "financial_statements": {
        "ruc_check_digit": _bad_ruc,
        "equity_mismatch": _equity_mismatch,
        "negative_amount": _negative("revenue", "cost_of_sales"),
        "currency_unknown": _unknown_currency,
    },
    "payments": {
        "ruc_check_digit": _bad_ruc,
        "negative_amount": _negative("amount_due"),
        "currency_unknown": _unknown_currency,
        "paid_before_disbursement": _before_disbursement("paid_date", 1, 61),
        "due_before_disbursement": _before_disbursement("due_date", 0, 31),
        "paid_without_date": _paid_without_date,
    },
    "bureau_ratings": {
        "ruc_check_digit": _bad_ruc,
        "sbs_rating_5": _constant("sbs_rating", 5),
        "negative_amount": _negative("debt_total"),
        "n_lenders_out_of_range": _lenders_out_of_range,
        "month_not_first_day": _mid_month,
    },
}


def _scale(*cols: str, factor: float) -> Edit:
    def edit(df: pd.DataFrame, rows: I64, rng: np.random.Generator) -> None:
        for col in cols:
            _set(df, rows, col, np.round(df[col].iloc[rows].to_numpy() * factor, 2))
        if "equity" in df.columns:
            _set(df, rows, "equity", (df["total_assets"] - df["total_liabilities"]).iloc[rows].to_numpy())

    return edit


#: outlier kinds per table: (kind, edit, rows it may touch)
OUTLIERS: dict[str, tuple[tuple[str, Edit, Callable[[pd.DataFrame], pd.Series] | None], ...]] = {
    "monthly_cashflows": (
        ("income_spike_x20", _scale("income", factor=20.0), None),
        ("expenses_spike_x15", _scale("expenses", factor=15.0), None),
    ),
    "financial_statements": (
        (
            "statement_units_x1000",
            _scale("total_assets", "total_liabilities", "revenue", "cost_of_sales", "net_income", factor=1000.0),
            None,
        ),
    ),
    "payments": (("amount_paid_x10", _scale("amount_paid", factor=10.0), lambda d: d["amount_paid"] > 0),),
    "bureau_ratings": (("debt_spike_x20", _scale("debt_total", factor=20.0), None),),
}


def inject(
    tables: dict[str, pd.DataFrame], rng: np.random.Generator, error_rate: float, outlier_rate: float
) -> pd.DataFrame:
    """Edit ``tables`` in place; return the record (table, row, kind, contract_violation)."""
    records: list[pd.DataFrame] = []
    for name, df in tables.items():
        n = len(df)
        taken = np.zeros(n, dtype=bool)
        kinds = ERRORS.get(name, {})
        n_err = round(error_rate * n) if kinds else 0
        if n_err:
            rows = np.sort(rng.choice(n, n_err, replace=False))
            which = rng.integers(0, len(kinds), n_err)
            for k, (kind, edit) in enumerate(kinds.items()):
                r = rows[which == k]
                edit(df, r, rng)
                records.append(_record(name, r, kind, True))
            taken[rows] = True
        for kind, edit, allowed in OUTLIERS.get(name, ()):
            ok = ~taken & (np.ones(n, dtype=bool) if allowed is None else allowed(df).to_numpy())
            k = min(round(outlier_rate * n / len(OUTLIERS[name])), int(ok.sum()))
            if k:
                r = np.sort(rng.choice(np.flatnonzero(ok), k, replace=False))
                edit(df, r, rng)
                taken[r] = True
                records.append(_record(name, r, kind, False))
    if not records:
        return pd.DataFrame(
            {
                "table": pd.Series([], dtype="str"),
                "row": pd.Series([], dtype=np.int64),
                "kind": pd.Series([], dtype="str"),
                "contract_violation": pd.Series([], dtype=bool),
            }
        )
    out = pd.concat(records, ignore_index=True)
    order = {name: k for k, name in enumerate(tables)}
    out = out.sort_values(["table", "row"], key=lambda s: s.map(order) if s.name == "table" else s)
    return out.reset_index(drop=True)


def _record(table: str, rows: I64, kind: str, violation: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series(np.full(rows.size, table, dtype=object), dtype="str"),
            "row": (rows + 1).astype(np.int64),
            "kind": pd.Series(np.full(rows.size, kind, dtype=object), dtype="str"),
            "contract_violation": np.full(rows.size, violation),
        }
    )
