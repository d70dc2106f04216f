"""Ingestion from a real PostgreSQL (CI provides it at 127.0.0.1:5432)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pymescore.errors import SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources import SourceOptions, ingest, read_source
from pymescore.sources._readers import _driver_url
from tests.helpers import bad_ruc, make_ruc

pytestmark = pytest.mark.postgres


def _load_payments(url: str, schema: str) -> None:
    rows = pd.DataFrame(
        {
            "ruc": [make_ruc(1), make_ruc(1), bad_ruc(2), make_ruc(3)],
            "loan_id": ["P-1", "P-1", "P-2", "P-3"],
            "due_date": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-02-01", "2024-02-01"]),
            "paid_date": pd.to_datetime(["2024-02-03", None, "2024-02-01", "2023-12-01"]),
            "amount_due": [100.0, 100.0, 50.0, 80.0],
            "amount_paid": [100.0, 0.0, 50.0, 80.0],
            "currency": ["PEN", "PEN", "PEN", "PEN"],
            "disbursement_date": pd.to_datetime(["2024-01-01"] * 4),
            "officer": ["Ñuñez", "Ñuñez", "Pérez", "Pérez"],
        }
    )
    engine = sa.create_engine(_driver_url(url))
    with engine.begin() as conn:
        rows.to_sql("pagos", conn, schema=schema, index=False)
    engine.dispose()


def test_ingest_sql_table_and_query(pg_schema: tuple[str, str], tmp_path: Path) -> None:
    url, schema = pg_schema
    _load_payments(url, schema)
    lake = Lake(tmp_path / "lake")
    batch = read_source(url, SourceOptions(sql_table=f"{schema}.pagos"))
    assert "postgres" in batch.source
    assert f"{schema}.pagos" in batch.source
    summary = ingest(batch, "payments", lake)
    assert (summary.rows_read, summary.accepted, summary.quarantined) == (4, 2, 2)
    q = lake.quarantine("payments").set_index("source_row")
    assert q.loc[3, "reason_codes"] == "RUC_INVALID"
    assert q.loc[4, "reason_codes"] == "PAID_BEFORE_START"
    stored = lake.read("payments")
    assert stored["loan_id"].tolist() == ["P-1", "P-1"]
    assert stored["paid_date"].isna().tolist() == [False, True]
    # the same rows through a query are a different source with identical content: no data change
    query = f"SELECT * FROM \"{schema}\".pagos WHERE loan_id = 'P-1'"
    s2 = ingest(read_source(url, SourceOptions(query=query)), "payments", lake)
    assert (s2.accepted, s2.quarantined, s2.updated) == (2, 0, 2)
    assert lake.read("payments").equals(stored)


def test_ingest_cli_from_postgres(pg_schema: tuple[str, str], tmp_path: Path) -> None:
    url, schema = pg_schema
    _load_payments(url, schema)
    cmd = [sys.executable, "-m", "pymescore", "ingest", "--source", url, "--sql-table", f"{schema}.pagos",
           "--table", "payments", "--lake", str(tmp_path / "lake")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["table"] == "payments"
    assert (summary["accepted"], summary["quarantined"], summary["duplicates"]) == (2, 2, 0)


def test_missing_table_and_bad_query_are_clear(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    with pytest.raises(SourceUnreadableError, match=r"expected table '.*nope' in the database"):
        read_source(url, SourceOptions(sql_table=f"{schema}.nope"))
    with pytest.raises(SourceUnreadableError, match="expected to read the query, got an error"):
        read_source(url, SourceOptions(query="SELECT * FROM no_such_relation_xyz"))
