"""Point in time: no raw record dated on or after as_of may change any feature for that as_of."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.features import FeatureConfig, build_features
from pymescore.features._build import build_sequences
from pymescore.features._reads import AMOUNT_TABLES, amounts_read
from pymescore.features._sequences import SEQUENCE_MONTHS

CONFIG = FeatureConfig()
AS_OF_DATES = ("2024-03-31", "2024-06-30", "2024-10-15", "2025-02-01")
TABLES = ("monthly_cashflows", "bureau_ratings", "payments", "financial_statements", "firms")


@pytest.fixture(scope="module")
def small_tables(sim_lake: dict[str, object]) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = sim_lake["tables"]  # type: ignore[assignment]
    rucs = tables["firms"]["ruc"].iloc[:80].to_numpy()
    return {name: t[t["ruc"].isin(rucs)].reset_index(drop=True) for name, t in tables.items()}


def dated_on_or_after(table: str, frame: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Rows whose date (the date the record became known) is on or after as_of."""
    if table in ("monthly_cashflows", "bureau_ratings"):
        return (frame["month"] >= as_of).to_numpy()
    if table == "payments":
        return (frame["due_date"] >= as_of).to_numpy()
    if table == "financial_statements":
        filed = frame["period_end"] + pd.DateOffset(months=CONFIG.statement_lag_months)
        return (filed >= as_of).to_numpy()
    return (frame["start_date"] >= as_of).fillna(False).to_numpy()


_NUMERIC = {
    "monthly_cashflows": ("income_pen", "expenses_pen"),
    "bureau_ratings": ("sbs_rating", "debt_total", "n_lenders"),
    "payments": ("amount_due_pen", "amount_paid_pen"),
    "financial_statements": (
        "total_assets_pen",
        "total_liabilities_pen",
        "equity_pen",
        "revenue_pen",
        "cost_of_sales_pen",
        "net_income_pen",
    ),
    "firms": (),
}
_DATE = {"monthly_cashflows": "month", "bureau_ratings": "month", "payments": "due_date",
         "financial_statements": "period_end", "firms": "start_date"}  # fmt: skip


def _draw(rng: np.random.Generator, column: str, size: int) -> np.ndarray:
    if column in ("sbs_rating", "n_lenders"):
        return rng.integers(0, 5, size)
    return rng.uniform(-1e6, 1e6, size)


def _mutated(
    small_tables: dict[str, pd.DataFrame], data: st.DataObject
) -> tuple[pd.Timestamp, dict[str, pd.DataFrame]]:
    """An as_of, and the tables with records dated on or after it changed, added or deleted (or payments of
    instalments open at as_of moved later)."""
    as_of = pd.Timestamp(data.draw(st.sampled_from(AS_OF_DATES), label="as_of"))
    table = data.draw(st.sampled_from(TABLES), label="table")
    op = data.draw(st.sampled_from(("change", "add", "delete", "pay_later")), label="op")
    frame = small_tables[table].copy()
    future = np.flatnonzero(dated_on_or_after(table, frame, as_of))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    if op == "pay_later" and table == "payments":
        # instalments due before as_of whose payment is dated on or after it: move that payment
        open_ = np.flatnonzero((frame["due_date"] < as_of).to_numpy() & ~(frame["paid_date"] < as_of).to_numpy())
        if len(open_):
            days = rng.integers(0, 400, len(open_))
            frame.loc[open_, "paid_date"] = as_of + pd.to_timedelta(days, unit="D")
            frame.loc[open_, "amount_paid_pen"] = rng.uniform(0, 1e5, len(open_))
    elif op == "delete" and len(future):
        frame = frame.drop(index=rng.choice(future, size=rng.integers(1, len(future) + 1), replace=False))
    elif op == "change" and len(future):
        rows = rng.choice(future, size=min(len(future), 20), replace=False)
        for col in _NUMERIC[table]:
            frame.loc[rows, col] = _draw(rng, col, len(rows))
        if table == "firms":
            frame.loc[rows, ["taxpayer_state", "ciiu"]] = ["BAJA DE OFICIO", "0111"]
    elif op == "add" and len(frame):
        new = frame.iloc[rng.integers(0, len(frame), 5)].copy()
        shift = pd.DateOffset(months=int(rng.integers(0, 24)))
        date_col = _DATE[table]
        new[date_col] = pd.Timestamp(as_of.year, as_of.month, 1) + pd.DateOffset(months=1) + shift
        if table == "financial_statements":
            new[date_col] = as_of + shift  # filed well after as_of
        if table == "firms":
            new["ruc"] = [f"2099999999{i}" for i in range(5)]
        for col in _NUMERIC[table]:
            new[col] = _draw(rng, col, 5)
        frame = pd.concat([frame, new], ignore_index=True)
    return as_of, {**small_tables, table: frame}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_future_records_never_change_features(small_tables: dict[str, pd.DataFrame], data: st.DataObject) -> None:
    as_of, mutated = _mutated(small_tables, data)
    before = build_features(small_tables, as_of, CONFIG)
    after = build_features(mutated, as_of, CONFIG)
    pd.testing.assert_frame_equal(after, before)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_future_records_never_change_the_monthly_histories(
    small_tables: dict[str, pd.DataFrame], data: st.DataObject
) -> None:
    """The sequence model's input (36 months of income, expenses, days past due, rating, debt and their masks)
    holds to the same rule as the features."""
    as_of, mutated = _mutated(small_tables, data)
    np.testing.assert_array_equal(build_sequences(mutated, as_of), build_sequences(small_tables, as_of))


_AMOUNT_COLUMNS = {name: _NUMERIC[name] for name in AMOUNT_TABLES}


def _entity(frame: pd.DataFrame) -> np.ndarray:
    return pd.factorize(frame["ruc"])[0].astype(np.int64)


def _read_mask(table: str, frame: pd.DataFrame, as_of: pd.Timestamp, history_months: int = 0) -> np.ndarray:
    arrays = {c: frame[c].to_numpy() for c in frame.columns if c != "ruc"}
    days = np.full(len(frame), as_of.to_datetime64())
    return amounts_read(table, {**arrays, "entity": _entity(frame)}, days, CONFIG, history_months)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_amounts_outside_the_read_windows_never_change_features(
    small_tables: dict[str, pd.DataFrame], data: st.DataObject
) -> None:
    """What lets the service accept a USD amount without a rate: ``amounts_read`` is False only where the
    builders never read the amount (any value, or none, gives the same features)."""
    as_of = pd.Timestamp(data.draw(st.sampled_from(AS_OF_DATES), label="as_of"))
    table = data.draw(st.sampled_from(AMOUNT_TABLES), label="table")
    frame = small_tables[table].copy()
    unread = np.flatnonzero(~_read_mask(table, frame, as_of))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    missing = data.draw(st.booleans(), label="missing")
    for col in _AMOUNT_COLUMNS[table]:
        frame.loc[unread, col] = np.nan if missing else _draw(rng, col, len(unread))
    before = build_features(small_tables, as_of, CONFIG)
    after = build_features({**small_tables, table: frame}, as_of, CONFIG)
    pd.testing.assert_frame_equal(after, before)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_amounts_outside_the_history_window_never_change_the_histories(
    small_tables: dict[str, pd.DataFrame], data: st.DataObject
) -> None:
    """The service converts the USD amounts a sequence model reads too (``history_months``): the others never
    change its histories (late dates: the simulated lake starts in 2023, 36 months before them)."""
    as_of = pd.Timestamp(data.draw(st.sampled_from(("2025-02-01", "2025-06-30", "2025-12-31")), label="as_of"))
    table = data.draw(st.sampled_from(AMOUNT_TABLES), label="table")
    frame = small_tables[table].copy()
    unread = np.flatnonzero(~_read_mask(table, frame, as_of, SEQUENCE_MONTHS))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    for col in _AMOUNT_COLUMNS[table]:
        frame.loc[unread, col] = np.nan if data.draw(st.booleans(), label="missing") else _draw(rng, col, len(unread))
    changed = {**small_tables, table: frame}
    np.testing.assert_array_equal(build_sequences(changed, as_of), build_sequences(small_tables, as_of))


@pytest.mark.parametrize("table", AMOUNT_TABLES)
def test_the_read_windows_are_not_empty_nor_everything(small_tables: dict[str, pd.DataFrame], table: str) -> None:
    """The other half: some amounts lie outside the window, and those inside it are read (changing them changes
    features; one record alone may not, when a ratio is clipped to its range)."""
    as_of = pd.Timestamp("2024-10-15")
    frame = small_tables[table]
    read = _read_mask(table, frame, as_of)
    assert 0 < read.sum() < len(frame)
    changed = frame.copy()
    for col in _AMOUNT_COLUMNS[table]:
        changed.loc[read, col] = changed.loc[read, col] * 0.5 + 1e5 * np.arange(read.sum())
    before = build_features(small_tables, as_of, CONFIG)
    after = build_features({**small_tables, table: changed}, as_of, CONFIG)
    assert not after.equals(before)
