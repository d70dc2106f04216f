"""Reject inference's methods and bookkeeping: weights and labels (properties), the folds that keep inferred labels
away from validation, which rejects may join development, and how a table's rejected rows are read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pymescore.errors import ConfigError
from pymescore.model import TrainConfig
from pymescore.model._augment import relabelled, reweighted
from pymescore.model._data import prepare, rejected_mask
from pymescore.model._reject import ACCEPT_FLOOR, augmentation, fuzzy, hard_cutoff, parcel, reject_record
from pymescore.model._split import choose_test, development_rejects, extra_folds, folds

probabilities = arrays(np.float64, st.integers(0, 60), elements=st.floats(0.0, 1.0))


@settings(max_examples=60, deadline=None)
@given(p=probabilities)
def test_fuzzy_enters_each_reject_twice_with_weights_adding_to_one(p: np.ndarray) -> None:
    out = fuzzy(p)
    n = len(p)
    assert len(out.reject_rows) == len(out.y) == len(out.weight) == 2 * n
    assert out.known_weight is None
    assert np.array_equal(np.sort(out.reject_rows), np.repeat(np.arange(n), 2))
    per_reject = np.bincount(out.reject_rows, weights=out.weight, minlength=n)
    np.testing.assert_allclose(per_reject, np.ones(n))
    bad = out.y == 1
    assert np.array_equal(np.sort(out.reject_rows[bad]), np.arange(n))  # each reject once as bad, once as good
    np.testing.assert_allclose(out.weight[bad][np.argsort(out.reject_rows[bad])], p)
    assert out.record["rejects_used"] == n


@settings(max_examples=60, deadline=None)
@given(
    known=arrays(np.float64, st.integers(20, 200), elements=st.floats(0.0, 1.0)),
    outcomes=st.integers(0, 2**32 - 1),
    rejects=probabilities,
    factor=st.floats(0.5, 4.0),
    seed=st.integers(0, 1000),
)
def test_parcelling_gives_each_band_its_bad_rate_times_the_factor(
    known: np.ndarray, outcomes: int, rejects: np.ndarray, factor: float, seed: int
) -> None:
    y_known = (np.random.default_rng(outcomes).random(len(known)) < known).astype(np.int64)
    out = parcel(known, y_known, rejects, factor, seed, bands=5)
    assert len(out.y) == len(rejects)
    assert np.array_equal(out.reject_rows, np.arange(len(rejects)))
    assert np.all(out.weight == 1.0)
    assert set(np.unique(out.y)) <= {0, 1}
    assert sum(b["rejects"] for b in out.record["bands"]) == len(rejects)
    last = len(out.record["bands"]) - 1
    for band in out.record["bands"]:
        low = band["pd_from"] if band["band"] > 0 else -np.inf
        high = band["pd_to"] if band["band"] < last else np.inf
        inside = (rejects >= low) & (rejects < high)
        in_known = (known >= low) & (known < high)
        assert band["approved"] == int(in_known.sum())
        if in_known.any():
            assert band["approved_bad_rate"] == pytest.approx(y_known[in_known].mean())
        assert band["assigned_bad_rate"] == pytest.approx(min(1.0, factor * band["approved_bad_rate"]))
        assert band["rejects"] == int(inside.sum())
        assert int(out.y[inside].sum()) == band["rejects_bad"] == round(band["assigned_bad_rate"] * inside.sum())


@settings(max_examples=60, deadline=None)
@given(p=probabilities, factor=st.floats(0.1, 5.0))
def test_hard_cutoff_labels_the_riskiest_rejects_bad(p: np.ndarray, factor: float) -> None:
    out = hard_cutoff(p, factor)
    assert int(out.y.sum()) == min(len(p), round(factor * p.sum()))
    if out.y.any() and (out.y == 0).any():
        assert p[out.y == 1].min() >= p[out.y == 0].max()


@settings(max_examples=60, deadline=None)
@given(p=arrays(np.float64, st.integers(1, 80), elements=st.floats(0.0, 1.0)), n_rejects=st.integers(0, 80))
def test_augmentation_weights_add_up_to_the_applications(p: np.ndarray, n_rejects: int) -> None:
    out = augmentation(p, n_rejects)
    assert out.known_weight is not None
    assert len(out.reject_rows) == 0
    assert out.known_weight.sum() == pytest.approx(len(p) + n_rejects)
    assert np.all(out.known_weight > 0)
    # inversely proportional to the (floored) probability of approval
    ratio = out.known_weight * np.maximum(p, ACCEPT_FLOOR)
    np.testing.assert_allclose(ratio, ratio[0])


def _splits(groups: np.ndarray, k: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    y = np.arange(len(groups)) % 2
    return folds(y, groups, k, 0, True)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000), n_new=st.integers(0, 20))
def test_a_reject_goes_to_the_fold_its_firm_validates_in(seed: int, n_new: int) -> None:
    known = np.array([f"g{i // 2}" for i in range(30)])  # 15 firms, two known rows each
    splits = _splits(known)
    extra = np.array([f"g{i}" for i in range(0, 15, 3)] + [f"new{i // 2}" for i in range(n_new)])
    fold_of = extra_folds(splits, known, extra, seed)
    assert len(fold_of) == len(extra)
    assert np.all((fold_of >= 0) & (fold_of < len(splits)))
    for g, k in zip(extra, fold_of, strict=True):
        if g.startswith("g"):
            assert g in set(known[splits[k][1]])
    for g in set(extra):  # every row of a group in the same fold
        assert len(set(fold_of[extra == g])) == 1
    np.testing.assert_array_equal(fold_of, extra_folds(splits, known, extra, seed))


@pytest.mark.parametrize("method", ["fuzzy", "parcelling", "hardcutoff"])
def test_each_fold_fits_only_rejects_of_other_folds_labelled_by_its_own_model(method: str) -> None:
    rng = np.random.default_rng(0)
    known = np.array([f"k{i}" for i in range(40)])
    y = (rng.random(40) < 0.3).astype(np.int64)
    splits = folds(y, known, 4, 0, True)
    n_rej = 12
    fold_of = np.arange(n_rej) % 4
    # fold k's approved-only model gives every reject the PD k/10 + its own small share: the labels show the fold
    pd_fold = np.array([[k / 10 + r / 1000 for r in range(n_rej)] for k in range(4)])
    aug = relabelled(method, 1.0, 0, splits, y, fold_of, rng.random(40), pd_fold, np.full(n_rej, 0.5))
    n = aug.n_known
    assert n == 40
    for k, (train, valid) in enumerate(aug.splits):
        original_train, original_valid = splits[k]
        assert np.array_equal(train[train < n], original_train)
        assert np.array_equal(valid[valid < n], original_valid)
        fitted = aug.reject_rows[train[train >= n] - n]
        scored = aug.reject_rows[valid[valid >= n] - n]
        assert set(fitted) == set(np.flatnonzero(fold_of != k))
        assert set(scored) == set(np.flatnonzero(fold_of == k))
        assert not set(train) & set(valid)
        if method == "fuzzy":  # weights: fold k's PDs
            bad = train[(train >= n) & (aug.y[train] == 1)]
            np.testing.assert_allclose(aug.weight[bad], pd_fold[k, aug.reject_rows[bad - n]])
    # the calibrator: the known rows and every reject's out-of-fold copy; the final fit: known + each reject's final
    copies = 2 if method == "fuzzy" else 1
    assert len(aug.calibration) == n + copies * n_rej
    assert np.array_equal(np.sort(aug.reject_rows[aug.final[aug.final >= n] - n]), np.repeat(np.arange(n_rej), copies))
    assert len(aug.y) == len(aug.weight) == n + len(aug.reject_rows)


def test_reweighted_adds_no_row_and_keeps_the_folds() -> None:
    y = np.array([0, 1, 0, 0, 1, 0])
    splits = [(np.array([0, 1, 2]), np.array([3, 4, 5])), (np.array([3, 4, 5]), np.array([0, 1, 2]))]
    aug = reweighted(splits, y, np.array([0.9, 0.5, 0.2, 1.0, 0.01, 0.6]), 4)
    assert aug.splits == splits
    assert len(aug.reject_rows) == 0
    assert aug.weight.sum() == pytest.approx(10)
    assert np.array_equal(aug.final, np.arange(6))


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "firm": [f"f{i}" for i in range(n)],
        "as_of": pd.to_datetime(np.repeat(["2023-03-31", "2023-06-30", "2023-09-30"], n // 3)),
        "x": rng.normal(size=n),
        "target": (rng.random(n) < 0.3).astype(float),
        "rejected": 0,
    })  # fmt: skip
    frame.loc[::5, "target"] = np.nan
    frame.loc[::5, "rejected"] = 1
    frame.loc[1, "target"] = np.nan  # no outcome, not rejected: an unobserved window
    return frame


def test_rejected_rows_are_read_apart_and_the_column_is_never_a_feature() -> None:
    frame = _table()
    prep = prepare(frame, TrainConfig(target="target", group_col="firm", time_col="as_of"))
    assert "rejected" not in prep.X.columns
    assert prep.rejects is not None
    assert len(prep.rejects.X) == 12
    assert list(prep.rejects.X.columns) == list(prep.X.columns)
    assert prep.excluded_rows == 13  # rejects and the unobserved row, as before
    assert list(prep.rejects.groups) == list(frame.loc[::5, "firm"])
    assert rejected_mask(pd.DataFrame({"r": ["1", "si", "no", None, "True"]}), "r").tolist() == [
        True, True, False, False, True]  # fmt: skip
    assert not rejected_mask(frame, "absent").any()


def test_rejects_of_the_test_period_never_join_development() -> None:
    frame = _table()
    prep = prepare(frame, TrainConfig(target="target", group_col="firm", time_col="as_of", oot_fraction=0.34))
    test_mask, kind, dates = choose_test(prep)
    assert kind == "out_of_time"
    assert dates == ["2023-09-30"]
    use, why = development_rejects(prep, test_mask, kind)
    assert prep.rejects is not None
    assert prep.rejects.times is not None
    assert np.array_equal(use, prep.rejects.times < np.datetime64("2023-09-30"))
    assert why["test_period"] == int((~use).sum()) > 0


def test_the_record_says_what_was_asked_and_done() -> None:
    none = reject_record("none", 12, np.ones(12, dtype=bool), {"test_period": 3}, None)
    assert none["method"] == "none"
    assert none["rejects_used"] == 0
    assert none["rejects_in_table"] == 12
    asked = reject_record("fuzzy", 0, np.zeros(0, dtype=bool), {}, None)
    assert asked["method"] == "none"
    assert asked["asked"] == "fuzzy"
    assert "no rejected" in asked["why"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("reject_inference", "magic", "one of none, augmentation"), ("reject_factor", 0.0, "[0.1, 10]"),
     ("imbalance", "smote", "scale_pos_weight or none with --reject-inference")],
)  # fmt: skip
def test_bad_settings_are_refused(field: str, value: object, expected: str) -> None:
    settings_ = {"target": "y", "reject_inference": "fuzzy", field: value}
    with pytest.raises(ConfigError) as info:
        TrainConfig(**settings_)  # type: ignore[arg-type]
    assert expected in info.value.message


def test_features_as_of_applications_needs_an_applications_table(tmp_path: Path) -> None:
    from pymescore.cli._features import _application_dates
    from pymescore.lake import Lake

    with pytest.raises(ConfigError, match="expected an applications table"):
        _application_dates(Lake(tmp_path / "lake"))
