"""The public benchmark datasets (shared/datasets) load as documented, and the peers' preprocessing types honestly."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench._datasets import (
    DEFAULT_DATASETS_DIR,
    TOML_NAME,
    BenchmarkSpec,
    LoadedDataset,
    load_benchmarks,
    load_dataset,
    read_dataset,
    stratified_sample,
)

# From each SOURCE.md: labelled rows (empty targets excluded), feature columns left after removing the target and
# `drop`, the documented positive rate (%), and the rows excluded for an empty target.
EXPECTED: dict[str, tuple[int, int, float, int]] = {
    "polish_bankruptcy_1year": (7027, 64, 3.857, 0),
    "polish_bankruptcy_5year": (5910, 64, 6.937, 0),
    "sba_national": (899_164 - 1997, 21, 17.56, 1997),
    "sba_case": (2101, 25, 32.65, 0),
    "german_credit": (1000, 20, 30.0, 0),
    "australian_credit": (690, 14, 44.49, 0),
    "taiwan_credit_default": (30000, 23, 22.12, 0),
    "home_credit_sample": (5000, 120, 7.72, 0),
    "lending_club": (9857, 22, 5.245, 0),
}


def _specs() -> list[BenchmarkSpec]:
    toml = DEFAULT_DATASETS_DIR / TOML_NAME
    if not toml.is_file():
        pytest.skip(f"shared datasets not found at {DEFAULT_DATASETS_DIR} (no {TOML_NAME})")
    return load_benchmarks(toml)


@pytest.fixture(scope="module")
def specs() -> dict[str, BenchmarkSpec]:
    return {s.name: s for s in _specs()}


@functools.cache
def _read(spec: BenchmarkSpec) -> LoadedDataset:
    """Each file is read once per session (SBA national takes a few seconds); callers must not mutate it."""
    return read_dataset(spec)


def test_every_dataset_has_expectations(specs: dict[str, BenchmarkSpec]) -> None:
    assert set(specs) == set(EXPECTED), "a dataset was added to or removed from benchmarks.toml: update EXPECTED"
    for spec in specs.values():
        assert spec.path.is_file(), spec.path
        assert Path(spec.path).is_relative_to(DEFAULT_DATASETS_DIR.resolve())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_as_documented(specs: dict[str, BenchmarkSpec], name: str) -> None:
    spec = specs[name]
    rows, columns, rate, excluded = EXPECTED[name]
    data = _read(spec)
    assert data.X.shape == (rows, columns)
    assert data.y.shape == (rows,)
    assert set(np.unique(data.y)) == {0, 1}
    assert abs(100 * data.y.mean() - rate) <= 0.5
    assert data.excluded_empty_target == excluded
    assert spec.target not in data.X.columns
    assert not set(spec.drop) & set(data.X.columns)
    if spec.split_column is not None:
        assert data.train_mask is not None
        assert 0 < data.train_mask.sum() < rows


def test_load_dataset_returns_features_and_target(specs: dict[str, BenchmarkSpec]) -> None:
    x, y = load_dataset(specs["german_credit"])
    assert x.shape == (1000, 20)
    assert y.dtype.kind == "i"
    assert int(y.sum()) == 300


def test_arff_question_marks_are_missing(specs: dict[str, BenchmarkSpec]) -> None:
    x, _ = load_dataset(specs["polish_bankruptcy_1year"])
    assert x.isna().sum().sum() == 5835  # the '?' cells counted in SOURCE.md
    assert all(pd.api.types.is_float_dtype(x[c]) for c in x.columns)


def test_sba_case_own_split(specs: dict[str, BenchmarkSpec]) -> None:
    data = _read(specs["sba_case"])
    assert data.train_mask is not None
    assert int(data.train_mask.sum()) == 1051
    assert int((~data.train_mask).sum()) == 1050


def test_stratified_sample_of_sba_national(specs: dict[str, BenchmarkSpec]) -> None:
    full = _read(specs["sba_national"])
    assert pd.api.types.is_string_dtype(full.X["DisbursementGross"])  # '$60,000.00 ' stays text
    sample = stratified_sample(full, 100_000)
    assert sample.X.shape == (100_000, full.X.shape[1])
    assert abs(sample.y.mean() - full.y.mean()) < 1e-4
    again = stratified_sample(full, 100_000)
    assert again.X.equals(sample.X)  # the same seed gives the same sample
    assert stratified_sample(full, 0) is full


def test_target_comparison_accepts_bytes_ints_and_text(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("a,t\n1,1\n2, 1\n3,0\n4,\n5,1.0\n")
    toml = tmp_path / "b.toml"
    toml.write_text('[d]\npath = "d.csv"\nformat = "csv"\ntarget = "t"\npositive = "1"\ndrop = []\n')
    (spec,) = load_benchmarks(toml)
    data = read_dataset(spec)
    assert data.excluded_empty_target == 1
    assert data.y.tolist() == [1, 1, 0, 0]  # '1.0' is not the string '1'
    assert data.X.columns.tolist() == ["a"]


def test_peer_preprocessing_types_raw_columns() -> None:
    from bench.accuracy import PeerPreprocessor

    train = pd.DataFrame(
        {
            "money": ["$60,000.00 ", "$1,000.00 ", None, "$5.00"],
            "date": ["28-Feb-97", "1-Jan-62", "3-Mar-05", None],
            "cat": ["a", "b", "a", None],
            "num": [1.0, 2.0, np.nan, 4.0],
            "empty": [np.nan] * 4,
        }
    )
    test = pd.DataFrame(
        {"money": ["$2.50"], "date": ["1-Jan-14"], "cat": ["zz"], "num": [3.0], "empty": [1.0]},
    )
    prep = PeerPreprocessor(max_categories=1).fit(train)
    assert prep.kinds() == {"money": "text_number", "date": "date", "cat": "frequency", "num": "numeric"}
    out = prep.transform(test)
    assert out["money"].tolist() == [2.5]
    assert out["cat"].tolist() == [0.0]  # unseen value: frequency 0
    assert out["date"].iloc[0] == (pd.Timestamp("2014-01-01") - pd.Timestamp("1970-01-01")).days
    assert prep.transform(train)["date"].iloc[1] < 0  # 1962, not 2062

    cats = PeerPreprocessor().fit(train)
    assert cats.categorical_columns == ["cat"]
    assert cats.transform(test)["cat"].isna().all()  # unseen category: missing
