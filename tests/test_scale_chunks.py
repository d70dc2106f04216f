"""A population simulated in chunks (``simulate --chunk-firms``) and ingested part by part (``ingest-folder``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pymescore.contracts import TABLES
from pymescore.lake import Lake
from pymescore.simulate import SimulationConfig, simulate_chunked
from pymescore.sources import ingest_folder

CONFIG = SimulationConfig(firms=600, months=24, seed=11, end="2024-12")
RUC_TABLES = ("firms", "monthly_cashflows", "financial_statements", "payments", "bureau_ratings")


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chunked") / "sim"
    simulate_chunked(CONFIG, 200, out)
    return out


def _parts(folder: Path) -> list[pd.DataFrame]:
    return [pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))]


def test_chunks_have_disjoint_rucs_and_the_rows_simulation_json_counts(chunked: Path) -> None:
    manifest = json.loads((chunked / "simulation.json").read_text(encoding="utf-8"))
    summary = manifest["summary"]
    assert (summary["firms"], summary["chunks"], summary["chunk_firms"]) == (600, 3, 200)
    assert len({c["seed"] for c in manifest["details"]["chunks"]}) == 3  # each chunk its own seed
    # the oracle holds every firm's true RUC (no injected errors): no firm is in two chunks
    per_chunk = [set(f["ruc"]) for f in _parts(chunked / "oracle")]
    assert [bool(s) for s in per_chunk] == [True, True, True]
    assert len(set.union(*per_chunk)) == sum(len(s) for s in per_chunk)
    firms = [f["ruc"] for f in _parts(chunked / "firms")]
    assert [len(f) for f in firms] == [200, 200, 200]
    for table, rows in summary["rows"].items():
        if table == "exchange_rates":  # global: one file, written once
            assert not (chunked / table).exists()
            assert len(pd.read_parquet(chunked / f"{table}.parquet")) == rows
        else:
            assert sum(len(f) for f in _parts(chunked / table)) == rows, table
    errors = pd.concat(_parts(chunked / "injected_errors"))
    assert int(errors["contract_violation"].sum()) == summary["injected_errors"] > 0
    assert 0.0 < summary["default_rate"] < 0.2
    assert 0.5 < summary["oracle_auc"] <= 1.0


def _with_duplicates_and_a_broken_row(chunked: Path, parts: Path) -> tuple[str, dict[str, object]]:
    """A copy of ``chunked`` whose last parts repeat a row of the first part with a changed value (the later wins)
    and whose second part of firms has a broken ciiu on row 5. Returns the repeated firm's RUC and payment key."""
    shutil.copytree(chunked, parts)
    firms = _parts(parts / "firms")
    repeated = firms[0].iloc[[3]].copy()
    repeated["name"] = "EMPRESA CORREGIDA S.A.C."
    pd.concat([firms[2], repeated], ignore_index=True).to_parquet(parts / "firms" / "part-00002.parquet")
    firms[1].loc[4, "ciiu"] = "ABCD"
    firms[1].to_parquet(parts / "firms" / "part-00001.parquet")
    payments = _parts(parts / "payments")
    paid = payments[0].iloc[[0]].copy()
    paid["amount_paid"] = 12345.0
    pd.concat([payments[1], paid], ignore_index=True).to_parquet(parts / "payments" / "part-00001.parquet")
    key = {"loan_id": paid["loan_id"].iloc[0], "due_date": paid["due_date"].iloc[0]}
    return str(repeated["ruc"].iloc[0]), key


def test_ingest_of_parts_equals_ingest_of_the_concatenated_files(chunked: Path, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    ruc, key = _with_duplicates_and_a_broken_row(chunked, parts)
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(parts / "exchange_rates.parquet", single / "exchange_rates.parquet")
    for table in RUC_TABLES:
        pd.concat(_parts(parts / table), ignore_index=True).to_parquet(single / f"{table}.parquet")
    by_parts = {s.table: s for s in ingest_folder(parts, Lake(tmp_path / "lake_parts", buckets=4))}
    by_file = {s.table: s for s in ingest_folder(single, Lake(tmp_path / "lake_single", buckets=4))}
    lake_p, lake_s = Lake(tmp_path / "lake_parts"), Lake(tmp_path / "lake_single")
    for table in ("exchange_rates", *RUC_TABLES):
        counts = ("rows_read", "accepted", "quarantined", "duplicates", "inserted", "updated")
        assert [getattr(by_parts[table], c) for c in counts] == [getattr(by_file[table], c) for c in counts], table
        key_cols = list(TABLES[table].key)
        a = lake_p.read(table).sort_values(key_cols).reset_index(drop=True)
        b = lake_s.read(table).sort_values(key_cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, obj=table)
        assert lake_p.current(table).buckets == lake_s.current(table).buckets  # type: ignore[union-attr]
    assert (by_parts["firms"].duplicates, by_parts["payments"].duplicates) == (1, 1)
    firm = lake_p.read("firms").set_index("ruc").loc[ruc]
    assert firm["name"] == "EMPRESA CORREGIDA S.A.C."  # the later part's row won
    paid = lake_p.read("payments")
    hit = paid[(paid["loan_id"] == key["loan_id"]) & (paid["due_date"] == key["due_date"])]
    assert hit["amount_paid"].tolist() == [12345.0]
    # the lineage names every part and its SHA-256
    record = lake_p.lineage("firms")[-1]
    assert [Path(p["file"]).name for p in record["parts"]] == ["part-00000.parquet", "part-00001.parquet",
                                                               "part-00002.parquet"]  # fmt: skip
    assert all(len(p["sha256"]) == 64 for p in record["parts"])
    # re-ingesting the same parts changes nothing
    again = {s.table: s for s in ingest_folder(parts, Lake(tmp_path / "lake_parts"))}
    assert not any(s.changed for s in again.values())


def test_a_broken_row_of_a_part_is_quarantined_naming_the_part_row_and_column(chunked: Path, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    _with_duplicates_and_a_broken_row(chunked, parts)
    ingest_folder(parts, Lake(tmp_path / "lake", buckets=4))
    q = Lake(tmp_path / "lake").quarantine("firms")
    hit = q[q["source"].str.endswith("firms/part-00001.parquet") & (q["source_row"] == 5)]
    assert len(hit) == 1
    assert hit["reason"].iloc[0].startswith("ciiu:")
    assert "ABCD" in hit["reason"].iloc[0]
