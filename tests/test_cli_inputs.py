"""What the model commands do with a table they cannot score as it is: a named error (exit 2), nothing written
half-way, never a silent score; and the flags that would otherwise be ignored or misread."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.model import TrainConfig
from pymescore.model._typing import ColumnType, apply_type, unreadable
from pymescore.runs import run_training
from tests.test_model import FAST, generic_table


@pytest.fixture(scope="module")
def scored_setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-inputs")
    frame = generic_table(600, seed=5)
    table = root / "loans.csv"
    frame.to_csv(table, index=False)
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, **FAST)  # type: ignore[arg-type]
    run_training(frame, config, root / "bundle", dataset="synthetic")
    return {"root": root, "table": table, "bundle": root / "bundle"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymescore", *args], capture_output=True, text=True, cwd=cwd)


def refused(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-1500:])
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr[-1500:])
    return done.stderr


def variant(setup: dict[str, Path], name: str, change: dict[str, object] | None = None, drop: str = "") -> Path:
    frame = pd.read_csv(setup["table"])
    for column, value in (change or {}).items():
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
    if drop:
        frame = frame.drop(columns=[drop])
    path = setup["root"] / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("change", "drop", "needles"),
    [
        (None, "late_payments", ["late_payments", "expected the 5 column(s) the model reads"]),
        ({"late_payments": "mucho"}, "", ["late_payments", "data row 4: 'mucho'", "not a finite number"]),
        ({"income": "abc"}, "", ["income", "data row 4: 'abc'"]),
        ({"late_payments": np.inf}, "", ["late_payments", "data row 4"]),
        ({"opened": "31-Foo-19"}, "", ["opened", "not a date"]),
    ],
)
def test_a_table_the_model_cannot_read_is_refused_with_its_column_and_row(
    scored_setup: dict[str, Path], change: dict[str, object] | None, drop: str, needles: list[str]
) -> None:
    table = variant(scored_setup, f"bad-{drop or next(iter(change or {}))}-{len(needles)}.csv", change, drop)
    out = scored_setup["root"] / "never.parquet"
    refused(run("score", "--bundle", str(scored_setup["bundle"]), "--table", str(table), "--out", str(out)),
            str(table), *needles)  # fmt: skip
    assert not out.exists()
    refused(run("evaluate", "--bundle", str(scored_setup["bundle"]), "--table", str(table), "--target", "status",
                "--positive", "CHGOFF"), *needles)  # fmt: skip


def test_an_empty_cell_is_a_missing_value_not_an_error(scored_setup: dict[str, Path]) -> None:
    table = variant(scored_setup, "empty-cell.csv", {"late_payments": None, "income": None})
    out = scored_setup["root"] / "empty-cell-scores.parquet"
    done = run("score", "--bundle", str(scored_setup["bundle"]), "--table", str(table), "--out", str(out))
    assert done.returncode == 0, done.stderr[-1500:]
    scores = pd.read_parquet(out)
    assert len(scores) == len(pd.read_csv(table))
    emptied = [scores.loc[3, f"reason_{k}"] for k in range(1, 5)]
    assert "income" not in emptied  # an empty cell is not reported as a low value of its column
    assert "late_payments" not in emptied
    assert any(str(r).startswith("Sin dato: ") for r in emptied), emptied


def test_score_writes_the_format_its_name_says_and_never_over_its_input(scored_setup: dict[str, Path]) -> None:
    bundle, table, root = str(scored_setup["bundle"]), scored_setup["table"], scored_setup["root"]
    before = table.read_bytes()
    refused(run("score", "--bundle", bundle, "--table", str(table), "--out", str(table)), "the input --table itself")
    assert table.read_bytes() == before
    refused(run("score", "--bundle", bundle, "--table", str(table), "--out", str(root / "s.txt")), "'.txt'")
    nested = root / "new" / "folder" / "s.csv.gz"
    assert run("score", "--bundle", bundle, "--table", str(table), "--out", str(nested)).returncode == 0
    with gzip.open(nested, "rt") as fh:
        header = fh.readline().strip().split(",")
    assert header[:3] == ["pd", "score", "band"]
    assert run("score", "--bundle", bundle, "--table", str(table), "--out", str(root / "s.tsv")).returncode == 0
    assert "\t" in (root / "s.tsv").read_text().splitlines()[0]
    assert not list(root.glob(".*.tmp")), "a temporary file was left behind"
    done = run("score", "--bundle", bundle, "--table", str(table), "--out", str(root / "s.csv"), "--lang", "fr")
    assert done.returncode == 2
    assert not (root / "s.csv").exists()


def test_a_path_that_cannot_be_written_is_an_io_error_not_a_traceback(scored_setup: dict[str, Path]) -> None:
    bundle, table = str(scored_setup["bundle"]), str(scored_setup["table"])
    refused(run("score", "--bundle", bundle, "--table", table, "--out", "/proc/pymescore/s.csv"), "IO_ERROR")
    refused(run("evaluate", "--bundle", bundle, "--table", table, "--target", "status", "--positive", "CHGOFF",
                "--json", "/proc/pymescore/m.json"), "IO_ERROR")  # fmt: skip


def test_evaluate_says_how_many_rows_had_no_target(scored_setup: dict[str, Path]) -> None:
    done = run("evaluate", "--bundle", str(scored_setup["bundle"]), "--table", str(scored_setup["table"]),
               "--target", "status", "--positive", "CHGOFF", "--rows", "all")  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["excluded_rows"] == 10  # generic_table leaves the first ten targets empty
    assert metrics["n"] == 590
    assert "10 row(s) with an empty target" in done.stderr


def test_an_empty_table_is_refused(scored_setup: dict[str, Path]) -> None:
    header = scored_setup["root"] / "header.csv"
    header.write_text(scored_setup["table"].read_text().splitlines()[0] + "\n")
    refused(run("score", "--bundle", str(scored_setup["bundle"]), "--table", str(header), "--out",
                str(scored_setup["root"] / "h.parquet")), "expected at least one row")  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--monotone", "nosuch=+1"], ["--monotone", "'nosuch'"]),
        (["--monotone", "sector=+1"], ["--monotone", "sector"]),
        (["--drop", "status"], ["--drop", "the target"]),
        (["--time-col", "late_payments"], ["--time-col late_payments", "got numbers"]),
        (["--time-col", "sector"], ["--time-col sector", "expected dates"]),
        (["--target", "nosuch"], ["nosuch (--target)"]),
    ],
)
def test_train_refuses_flags_it_would_ignore_or_misread(
    scored_setup: dict[str, Path], extra: list[str], needles: list[str]
) -> None:
    out = scored_setup["root"] / "never-bundle"
    args = ["train", "--table", str(scored_setup["table"]), "--target", "status", "--positive", "CHGOFF",
            "--trials", "1", "--time-budget", "1", "--out", str(out)]  # fmt: skip
    if extra[0] == "--target":
        args[args.index("--target") + 1] = extra[1]
        extra = []
    refused(run(*args, *extra), *needles)
    assert not out.exists()


def test_train_checks_its_destination_before_training(scored_setup: dict[str, Path]) -> None:
    args = ["train", "--table", str(scored_setup["table"]), "--target", "status", "--positive", "CHGOFF"]
    stderr = refused(run(*args, "--out", str(scored_setup["table"])), "expected a folder for the bundle")
    assert "Training" not in stderr  # refused before the first step, not after minutes of tuning
    refused(run(*args, "--out", "/proc/pymescore-bundle"), "expected a place to write the bundle")


DEPARTMENTS = ColumnType("department", "category", "registry: categorical",
                         categories=tuple(f"{k:02d}" for k in range(1, 26)))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(codes=st.lists(st.one_of(st.none(), st.integers(1, 25)), min_size=1, max_size=30), as_float=st.booleans())
def test_a_code_read_as_a_number_is_the_same_category(codes: list[int | None], as_float: bool) -> None:
    """A CSV reader turns department "08" into 8 (8.0 once a cell is empty): the model reads the same code."""
    text = pd.Series([None if c is None else f"{c:02d}" for c in codes], dtype=object)
    numbers = pd.Series([np.nan if c is None else c for c in codes], dtype="float64" if as_float else "Int64")
    from_text = apply_type(text, DEPARTMENTS)["department"]
    from_numbers = apply_type(numbers, DEPARTMENTS)["department"]
    assert list(from_numbers.codes) == list(from_text.codes)  # type: ignore[attr-defined]


_READABLE = st.one_of(
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.floats(0, 1e9, allow_nan=False).map(lambda v: f"${v:,.2f} "),
    st.floats(0, 100, allow_nan=False).map(lambda v: f"{v:.1f}%"),
    st.integers(-(10**6), 10**6).map(str),
)
_UNREADABLE = st.one_of(st.sampled_from(["abc", "mucho", "inf", "-inf", "12,5,3", "N°7", "uno"]),
                        st.text(alphabet="xyzñ", min_size=1, max_size=5))  # fmt: skip
_EMPTY = st.sampled_from([None, "", "  "])


@settings(max_examples=80, deadline=None)
@given(cells=st.lists(st.one_of(_READABLE.map(lambda v: ("ok", v)), _UNREADABLE.map(lambda v: ("bad", v)),
                                _EMPTY.map(lambda v: ("empty", v))), max_size=20))  # fmt: skip
def test_unreadable_marks_text_that_is_not_a_number_and_nothing_else(cells: list[tuple[str, object]]) -> None:
    """Numbers written as a person writes them are read; words and infinities are not; empty is missing."""
    column = pd.Series([v for _, v in cells], dtype=object)
    kind = ColumnType("x", "money_text", "test")
    assert list(unreadable(column, kind)) == [k == "bad" for k, _ in cells]
    read = np.asarray(apply_type(column, kind)["x"], dtype=np.float64)
    assert all(np.isfinite(read[i]) for i, (k, _) in enumerate(cells) if k == "ok")


def test_a_date_column_where_training_read_date_text_is_read_as_dates() -> None:
    kind = ColumnType("opened", "date_text", "test", fmt="%d-%b-%y")
    dates = pd.Series(pd.to_datetime(["2019-03-31", None, "2021-12-01"]))
    parts = apply_type(dates, kind)
    assert list(parts["opened__year"][[0, 2]]) == [2019.0, 2021.0]
    assert not unreadable(dates, kind).any()
    assert list(unreadable(pd.Series(["31-Mar-19", "no date", None]), kind)) == [False, True, False]


def test_monotone_accepts_numbers_written_as_text_and_refuses_keys(tmp_path: Path) -> None:
    from pymescore.errors import ConfigError
    from pymescore.model._data import prepare

    frame = generic_table(300, seed=2)  # income is text like "$1,234.00 ": read as a number
    prepared = prepare(frame, TrainConfig(target="status", positive="CHGOFF", monotone={"income": -1}))
    assert prepared.config.monotone == {"income": -1}
    with pytest.raises(ConfigError, match="--monotone: expected number columns"):
        prepare(frame, TrainConfig(target="status", positive="CHGOFF", monotone={"sector": 1}))
    with pytest.raises(ConfigError, match="--monotone: expected feature columns"):
        prepare(frame, TrainConfig(target="status", positive="CHGOFF", monotone={"status": 1}))


def test_a_time_column_of_csv_text_takes_each_dates_own_format() -> None:
    from pymescore.model._data import _times

    text = pd.Series(["2024-06-30", "2024-07-31 10:00", None, "2024-08-31T00:00:00+05:00"], dtype="str")
    parsed = _times(text, "seen")
    assert pd.Timestamp(parsed[0]) == pd.Timestamp("2024-06-30")
    assert pd.Timestamp(parsed[1]) == pd.Timestamp("2024-07-31 10:00")
    assert pd.isna(parsed[2])
    assert pd.Timestamp(parsed[3]) == pd.Timestamp("2024-08-30 19:00")  # offsets to UTC, then naive


def test_training_counts_the_cells_its_typing_could_not_read(tmp_path: Path) -> None:
    frame = generic_table(600, seed=9)
    frame["income"] = frame["income"].astype(object)
    frame.loc[[20, 21, 22], "income"] = "unknown"  # under 5%: the column stays a number column
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, **FAST)  # type: ignore[arg-type]
    _, metrics = run_training(frame, config, tmp_path / "b", dataset="synthetic")
    assert metrics["unreadable_cells"] == {"income": 3}
    assert "income 3" in (tmp_path / "b" / "model_card.md").read_text()


def test_training_on_a_time_column_of_mixed_formats_writes_its_bundle(tmp_path: Path) -> None:
    """The trainer reads each date in its own format; the bundle's records read them the same way."""
    frame = generic_table(600, seed=4)
    frame["seen"] = np.where(np.arange(600) < 400, "2023-12-31", "31/12/2024")
    config = TrainConfig(target="status", positive="CHGOFF", time_col="seen", **FAST)  # type: ignore[arg-type]
    _, metrics = run_training(frame, config, tmp_path / "b", dataset="synthetic")
    assert metrics["test_dates"] == ["2024-12-31"]
    assert metrics["observation_dates"] == {"development": ["2023-12-31"], "test": ["2024-12-31"]}
