"""The monthly histories of the sequence model: the same panels as the features (income, expenses, rating, debt),
a days-past-due panel that agrees with the payment features, masks for short or missing history, and their
place in a snapshot (``pymescore features --sequences``) where the trainer never reads them as features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pymescore.features import build_features
from pymescore.features._build import build_sequences
from pymescore.features._sequences import CHANNELS, SEQUENCE_COLUMNS, SEQUENCE_MONTHS, monthly_dpd, sequences_of
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig
from pymescore.model._data import prepare

AS_OF = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def tables(sim_lake: dict[str, object]) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = sim_lake["tables"]  # type: ignore[assignment]
    rucs = frames["firms"]["ruc"].iloc[:300].to_numpy()
    return {name: t[t["ruc"].isin(rucs)].reset_index(drop=True) for name, t in frames.items()}


def test_the_histories_are_the_features_panels(tables: dict[str, pd.DataFrame]) -> None:
    features = build_features(tables, AS_OF)
    seq = build_sequences(tables, AS_OF)
    assert seq.shape == (len(features), SEQUENCE_MONTHS, len(CHANNELS))
    assert seq.dtype == np.float32
    c = {name: k for k, name in enumerate(CHANNELS)}
    income = seq[:, :, c["income_pen"]].astype(np.float64)
    seen3 = (~np.isnan(income[:, -3:])).sum(axis=1)
    mean3 = np.where(seen3 > 0, np.nansum(income[:, -3:], axis=1) / np.maximum(seen3, 1), np.nan)  # none: NaN
    np.testing.assert_allclose(mean3, features["income_mean_3m"], rtol=1e-6)  # float32 histories
    rating = seq[:, :, c["sbs_rating"]]
    seen = ~np.isnan(rating)
    assert np.array_equal(seen | ~np.isnan(seq[:, :, c["debt_total"]]), seq[:, :, c["has_bureau"]] == 1)
    last = np.where(
        seen.any(axis=1), rating[np.arange(len(rating)), SEQUENCE_MONTHS - 1 - np.argmax(seen[:, ::-1], axis=1)], np.nan
    )
    np.testing.assert_array_equal(last, features["sbs_rating_current"].to_numpy(dtype=np.float32))
    # months before a firm's first record are masked, not zero: short histories are visible as such
    young = features["months_of_history"].to_numpy() < 24
    assert young.any()
    assert (seq[young][:, :12, c["has_cashflow"]] == 0).any()
    assert set(np.unique(seq[:, :, len(CHANNELS) - 3 :])) <= {0.0, 1.0}


def test_days_past_due_by_month() -> None:
    """One firm, three instalments: paid 10 days late, paid ahead, and still open at as_of (its days counted up to
    each month's end, and up to as_of in the last month)."""
    day = lambda s: np.datetime64(s, "ns")  # noqa: E731
    payments = {
        "entity": np.array([0, 0, 0]),
        "due_date": np.array([day("2024-03-15"), day("2024-04-15"), day("2024-05-10")]),
        "paid_date": np.array([day("2024-03-25"), day("2024-04-01"), np.datetime64("NaT", "ns")]),
    }
    as_of = pd.Timestamp("2024-06-20")
    last = int(np.datetime64("2024-06", "M").astype(np.int64))
    dpd = monthly_dpd(payments, 1, as_of, last, 6)[0]  # January to June 2024
    assert np.isnan(dpd[:2]).all()  # nothing due yet
    assert dpd[2:].tolist() == [10.0, 0.0, 22.0, 41.0]  # March; April (paid ahead); May 10→Jun 1; →Jun 20


def test_a_snapshot_with_histories_trains_without_reading_them(sim_lake: dict[str, object]) -> None:
    snapshot, lineage = build_snapshot(sim_lake["lake"], ["2024-06-30"], sequences=True)  # type: ignore[arg-type]
    assert set(SEQUENCE_COLUMNS) <= set(snapshot.columns)
    assert lineage["sequence_months"] == SEQUENCE_MONTHS
    seq = sequences_of(snapshot)
    assert seq is not None
    assert seq.shape == (len(snapshot), SEQUENCE_MONTHS, len(CHANNELS))
    plain, _ = build_snapshot(sim_lake["lake"], ["2024-06-30"])  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(snapshot.drop(columns=list(SEQUENCE_COLUMNS)), plain)
    from pymescore.features._adapter import snapshot_domain

    prep = prepare(snapshot, TrainConfig(target="default_12m"), snapshot_domain(snapshot))
    assert not set(SEQUENCE_COLUMNS) & set(prep.X.columns)
