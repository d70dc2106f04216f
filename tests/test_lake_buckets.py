"""A lake bucketed by RUC: every firm's rows in exactly one bucket file, the same rows read whole or bucket by
bucket, an unbucketed lake read the same way, and a migration that changes the files, never the rows."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.lake import Lake, bucket_of
from tests.helpers import make_ruc

_rucs = st.lists(st.integers(0, 60).map(make_ruc), max_size=80)


@given(_rucs, st.integers(1, 16))
def test_each_ruc_has_one_stable_bucket(rucs: list[str], n: int) -> None:
    buckets = bucket_of(rucs, n)
    assert ((buckets >= 0) & (buckets < n)).all()
    again = bucket_of(list(reversed(rucs)), n)[::-1]  # another order, another batch: the same buckets
    assert np.array_equal(buckets, again)
    by_ruc: dict[str, set[int]] = {}
    for ruc, b in zip(rucs, buckets, strict=True):
        by_ruc.setdefault(ruc, set()).add(int(b))
    assert all(len(b) == 1 for b in by_ruc.values())


def _write(lake: Lake, table: str, data: pd.DataFrame, buckets: int | None = None) -> None:
    with lake.locked():
        lake.write(table, data, pd.DataFrame({"reason": pd.Series([], dtype=object)}), [{"n": len(data)}],
                   buckets=buckets)  # fmt: skip


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["ruc", "month"]).reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(_rucs, st.integers(1, 6), st.integers(1, 6))
def test_bucketed_and_plain_lakes_give_the_same_rows_whole_and_by_bucket(rucs: list[str], n: int, of: int) -> None:
    data = pd.DataFrame({"ruc": rucs, "month": pd.date_range("2024-01-01", periods=len(rucs), freq="D"),
                         "income_pen": np.arange(len(rucs), dtype=float)})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        plain, bucketed = Lake(Path(tmp) / "plain"), Lake(Path(tmp) / "bucketed", buckets=n)
        _write(plain, "monthly_cashflows", data)
        _write(bucketed, "monthly_cashflows", data)
        pd.testing.assert_frame_equal(_sorted(bucketed.read("monthly_cashflows")), _sorted(data))
        for b in range(of):
            want = data[bucket_of(data["ruc"], of) == b]
            for lake in (plain, bucketed):  # of == n reads one file; otherwise the table, filtered
                part = lake.read_bucket("monthly_cashflows", b, of, ["ruc", "month", "income_pen"])
                pd.testing.assert_frame_equal(_sorted(part), _sorted(want))


def test_a_plain_lakes_manifest_keeps_its_format_and_migrate_changes_files_not_rows(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    months = pd.date_range("2023-01-01", periods=30, freq="MS")
    flows = pd.DataFrame({"ruc": [make_ruc(i % 7) for i in range(30)], "month": months, "income_pen": range(30)})
    rates = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3), "pen_per_usd": [3.7, 3.8, 3.75]})
    _write(lake, "monthly_cashflows", flows)
    _write(lake, "exchange_rates", rates)
    manifest = json.loads((tmp_path / "lake" / "_manifest.json").read_text())
    assert "buckets" not in manifest
    assert manifest["tables"]["monthly_cashflows"] == {"version": 1, "path": "monthly_cashflows/v000001"}
    assert (tmp_path / "lake" / "monthly_cashflows" / "v000001" / "data.parquet").is_file()

    assert lake.migrate(4) == {"monthly_cashflows": 2}  # exchange_rates has no firms to spread
    assert lake.buckets == 4
    current = lake.current("monthly_cashflows")
    assert current is not None
    assert current.buckets == 4
    assert sorted(p.name for p in Path(current.data_path).iterdir()) == [f"b{b:05d}.parquet" for b in range(4)]
    pd.testing.assert_frame_equal(_sorted(lake.read("monthly_cashflows")), _sorted(flows))
    assert lake.lineage("monthly_cashflows")[-1]["kind"] == "migrate"
    _write(lake, "monthly_cashflows", flows.head(10))  # later writes keep the lake's buckets
    assert lake.current("monthly_cashflows").buckets == 4  # type: ignore[union-attr]


def test_a_table_written_bucket_by_bucket_reads_as_one_and_a_misplaced_row_is_refused(tmp_path: Path) -> None:
    import pytest

    from pymescore.errors import LakeError

    months = pd.date_range("2023-01-01", periods=40, freq="MS")
    flows = pd.DataFrame({"ruc": [make_ruc(i % 9) for i in range(40)], "month": months, "income_pen": range(40)})
    buckets = bucket_of(flows["ruc"], 3)
    lake = Lake(tmp_path / "lake")
    with lake.locked():
        version = lake.write_buckets("monthly_cashflows", 3, lambda b: flows[buckets == b], flows.iloc[:0], [])
    assert version.buckets == 3
    pd.testing.assert_frame_equal(_sorted(lake.read("monthly_cashflows")), _sorted(flows))
    before = lake.manifest()
    with lake.locked(), pytest.raises(LakeError, match="only rows of bucket 0"):
        lake.write_buckets("monthly_cashflows", 3, lambda b: flows, flows.iloc[:0], [])
    assert lake.manifest() == before
