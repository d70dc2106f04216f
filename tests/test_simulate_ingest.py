"""The simulator and ingestion agree: the injected errors are exactly the rows ingestion quarantines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pymescore.lake import Lake
from pymescore.lake_summary import check
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import INGEST_ORDER, ingest, read_source


def test_injected_errors_are_exactly_the_quarantined_rows(tmp_path: Path) -> None:
    config = SimulationConfig(firms=3000, months=30, seed=23)  # default error and outlier rates
    write_simulation(simulate(config), tmp_path / "sim")
    injected = pd.read_parquet(tmp_path / "sim" / "injected_errors.parquet")
    errors = injected[injected["contract_violation"]]
    assert len(errors) > 100
    lake = Lake(tmp_path / "lake")
    for table in INGEST_ORDER:
        if not (tmp_path / "sim" / f"{table}.parquet").exists():  # applications: only with --policy-history
            assert table == "applications"
            continue
        summary = ingest(read_source(str(tmp_path / "sim" / f"{table}.parquet")), table, lake)
        expected = set(errors.loc[errors["table"] == table, "row"].astype(int))
        quarantined = set(lake.quarantine(table)["source_row"].astype(int)) if summary.quarantined else set()
        assert quarantined == expected, table
        assert summary.duplicates == 0
        assert summary.accepted + summary.quarantined == summary.rows_read
    # the outliers are valid values: they stay in the lake
    outliers = injected[~injected["contract_violation"]]
    assert len(outliers) > 0
    # a corrupted firm RUC leaves that firm's other rows unmatched: lake validate warns, never errors
    findings = check(lake)
    assert [f for f in findings if f.severity == "error"] == []
