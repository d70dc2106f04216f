"""The out-of-time embargo: no development row's outcome window reaches past the first test date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.errors import PymescoreError
from pymescore.features._adapter import sme_snapshot, snapshot_domain
from pymescore.model import TrainConfig, train
from pymescore.model._data import Prepared
from pymescore.model._split import choose_test, embargoed

FAST = {"trials": 1, "time_budget": 5.0, "folds": 3}


@settings(max_examples=60, deadline=None)
@given(
    months=st.lists(st.integers(0, 36), min_size=2, max_size=8, unique=True),
    horizon=st.integers(1, 18),
    embargo=st.booleans(),
)
def test_embargo_leaves_out_exactly_the_rows_whose_window_passes_the_test_date(
    months: list[int], horizon: int, embargo: bool
) -> None:
    dates = np.array([np.datetime64("2022-01", "M") + m for m in months]).astype("datetime64[ns]")
    times = np.repeat(dates, 3)
    ends = (times.astype("datetime64[M]") + horizon).astype("datetime64[ns]")
    n = len(times)
    prep = Prepared(
        X=pd.DataFrame({"x": np.arange(n, dtype=float)}),
        y=np.arange(n) % 2,
        groups=np.arange(n).astype(str),
        times=times,
        excluded_rows=0,
        domain=sme_snapshot(),
        config=TrainConfig(target="y", time_col="as_of", embargo=embargo),
        label_ends=ends,
    )
    test, kind, _ = choose_test(prep)
    assert kind == "out_of_time"
    out = embargoed(prep, test, kind)
    first_test = times[test].min()
    assert not (out & test).any()
    if embargo:
        assert np.array_equal(out, ~test & (ends > first_test))
        assert (ends[~test & ~out] <= first_test).all()  # what development keeps had its outcome by then
    else:
        assert not out.any()


def test_training_reports_the_embargoed_rows(sim_lake: dict[str, object]) -> None:
    from pymescore.features._snapshot import build_snapshot

    snapshot, _ = build_snapshot(sim_lake["lake"], ["2023-12-31", "2024-06-30", "2024-12-31"])  # type: ignore[arg-type]
    labelled = snapshot.dropna(subset=["default_12m"])
    result = train(snapshot, TrainConfig(target="default_12m", **FAST), domain=snapshot_domain(snapshot))  # type: ignore[arg-type]
    rows = result.report["rows"]
    assert result.report["embargo"] is True
    assert rows["embargoed"] == int((labelled["as_of"] == "2024-06-30").sum()) > 0
    assert rows["development"] == int((labelled["as_of"] == "2023-12-31").sum())
    assert rows["test"] == int((labelled["as_of"] == "2024-12-31").sum())
    assert result.oof is not None
    assert set(result.oof["as_of"].astype("datetime64[ns]")) == {pd.Timestamp("2023-12-31")}


def test_an_embargo_that_leaves_nothing_says_how_to_fix_it(sim_lake: dict[str, object]) -> None:
    from pymescore.features._snapshot import build_snapshot

    snapshot, _ = build_snapshot(sim_lake["lake"], ["2024-06-30", "2024-12-31"])  # type: ignore[arg-type]
    with pytest.raises(
        PymescoreError, match=r"embargo left out \d+ rows .* after the test date 2024-12-31.*--no-embargo"
    ):
        train(snapshot, TrainConfig(target="default_12m", **FAST), domain=snapshot_domain(snapshot))  # type: ignore[arg-type]
    config = TrainConfig(target="default_12m", embargo=False, **FAST)  # type: ignore[arg-type]
    kept = train(snapshot, config, domain=snapshot_domain(snapshot))
    assert kept.report["rows"]["embargoed"] == 0
    assert kept.report["embargo"] is False
